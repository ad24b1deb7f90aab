"""Calibration: how well a model fitted without some schools predicts those schools' pupils.

Schools (not pupils) are held out, a fifth of them chosen by a hash of their identifier, so a school's
pupils are never on both sides. For each group of held-out pupils the report gives the mean estimate
(the expected value at average progress), the mean actual outcome and their difference, and whether the
difference is within the stated bound:

    |mean estimate - mean actual| <= 0.05 x the outcome's national standard deviation
                                      + 3 standard errors of the group's mean difference

The bound is asserted for groups the model can know about (its covariates, its prior attainment and the
estimate's own tenths); other groups (special educational needs, English as an additional language, and
disadvantage when the model is not contextual) are reported as a finding, not a fault: how far such
pupils nationally land from the estimate for pupils with the same prior attainment.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.estimates.model import OrdinalModel

HOLD_OUT_FOLDS = 5  # one school in five is held out
SD_SHARE = 0.05
STANDARD_ERRORS = 3.0


@dataclass(frozen=True)
class Grouping:
    name: str
    label: str
    values: pl.Expr  # each pupil's value of the group (null: in none)
    in_model: bool


def _natural(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part]


def held_out(frame: pl.DataFrame) -> pl.Series:
    """True for pupils of the held-out schools: those whose identifier's CRC-32 falls in the first
    fold (CRC-32 is fixed by its standard, so the same schools are held out on every machine and in
    every version)."""
    schools = frame.get_column("school").cast(pl.String)
    chosen = [
        s for s in schools.unique().drop_nulls().to_list() if zlib.crc32(s.encode()) % HOLD_OUT_FOLDS == 0
    ]
    return schools.is_in(pl.Series(chosen, dtype=pl.String).implode()).fill_null(False).alias("held_out")


def _term(month: pl.Expr) -> pl.Expr:
    return (
        pl.when(month.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(month < 4)
        .then(pl.lit("autumn-born (Sep-Dec)"))
        .when(month < 8)
        .then(pl.lit("spring-born (Jan-Apr)"))
        .otherwise(pl.lit("summer-born (May-Aug)"))
    )


def groupings(model: OrdinalModel, frame: pl.DataFrame, expected: pl.Series) -> list[Grouping]:
    """The groups a report reads: all pupils, the model's covariates, prior attainment fifths (cut at
    the held-out pupils' quintiles), tenths of the estimate, then groups the model does not use."""
    prior_cuts = np.nanquantile(frame.get_column("prior").to_numpy().astype(np.float64), [0.2, 0.4, 0.6, 0.8])
    estimate_cuts = np.quantile(expected.to_numpy(), np.linspace(0.1, 0.9, 9))

    prior = pl.col("prior")
    rank = pl.lit(estimate_cuts.tolist()).explode().search_sorted(pl.col("_expected"))
    found = [
        Grouping("all", "All pupils", pl.lit("all pupils"), True),
        Grouping(
            "sex",
            "Sex",
            pl.when(pl.col("female")).then(pl.lit("female")).when(~pl.col("female")).then(pl.lit("male")),
            True,
        ),
        Grouping("birth", "Month of birth", _term(pl.col("months_younger")), True),
        Grouping(
            "prior",
            "Prior attainment fifth (1 lowest)",
            pl.concat_str(
                pl.lit("fifth "),
                (pl.lit(prior_cuts.tolist()).explode().search_sorted(prior, side="right") + 1).cast(
                    pl.String
                ),
            ),
            True,
        ),
        Grouping(
            "estimate",
            "Tenth of the estimate (1 lowest)",
            pl.concat_str(pl.lit("tenth "), (rank + 1).cast(pl.String)),
            True,
        ),
    ]
    if "disadvantaged" in frame.columns:
        found.append(
            Grouping(
                "disadvantaged",
                "Disadvantaged",
                pl.when(pl.col("disadvantaged"))
                .then(pl.lit("disadvantaged"))
                .otherwise(pl.lit("other pupils")),
                model.contextual,
            )
        )
    if "sen" in frame.columns:
        found.append(
            Grouping(
                "sen",
                "Special educational needs",
                pl.col("sen").replace_strict(
                    {"E": "EHC plan", "K": "SEN support", "N": "no SEN"}, default=None, return_dtype=pl.String
                ),
                False,
            )
        )
    if "eal" in frame.columns:
        found.append(
            Grouping(
                "eal",
                "First language",
                pl.when(pl.col("eal")).then(pl.lit("other than English")).otherwise(pl.lit("English")),
                False,
            )
        )
    return found


def calibration_table(model: OrdinalModel, frame: pl.DataFrame, national_sd: float) -> pl.DataFrame:
    """Predicted against actual for each group of ``frame``'s pupils (held out from ``model``'s fit):
    one row per group value with pupils, estimate, actual, difference, bound, within, in_model.
    ``frame`` has ``value`` (the actual outcome) beside the model's columns."""
    used = frame.filter(pl.col("prior").is_not_null() & pl.col("value").is_not_null())
    expected = pl.Series("_expected", model.expected(model.probabilities(used)))
    used = used.with_columns(expected)
    rows = []
    for grouping in groupings(model, used, expected):
        table = (
            used.with_columns(
                grouping.values.alias("_value"), (pl.col("value") - pl.col("_expected")).alias("_gap")
            )
            .filter(pl.col("_value").is_not_null())
            .group_by("_value")
            .agg(
                pl.len().alias("pupils"),
                pl.col("_expected").mean().alias("estimate"),
                pl.col("value").mean().alias("actual"),
                pl.col("_gap").std().alias("_gap_sd"),
            )
        )
        # "tenth 2" before "tenth 10": numbers in a value sort as numbers.
        for row in sorted(table.iter_rows(named=True), key=lambda row: _natural(row["_value"])):
            gap_sd = row["_gap_sd"] if row["_gap_sd"] is not None and not math.isnan(row["_gap_sd"]) else 0.0
            error = gap_sd / math.sqrt(row["pupils"])
            difference = row["estimate"] - row["actual"]
            bound = SD_SHARE * national_sd + STANDARD_ERRORS * error
            rows.append(
                {
                    "group": grouping.name,
                    "group_label": grouping.label,
                    "value": row["_value"],
                    "pupils": row["pupils"],
                    "estimate": row["estimate"],
                    "actual": row["actual"],
                    "difference": difference,
                    "bound": bound,
                    "within": abs(difference) <= bound,
                    "in_model": grouping.in_model,
                }
            )
    return pl.DataFrame(rows, orient="row")
