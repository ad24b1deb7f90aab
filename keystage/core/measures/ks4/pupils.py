"""Pupil-level KS4 measures, vectorised: each result scored and discounted (scoring), put in its
Attainment 8 slot with A8 and its elements, EBacc entry and average point score, English and maths
4+/5+ (slots), and Progress 8 against the estimates (progress). Rules: shared/domain/ks4-measures.md.

Every result ends in the ``slots`` table with what happened to it (the slot it filled, or why it does
not count), so each pupil's figures can be explained line by line (explanations).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from keystage.core.measures.ks4.estimates import Estimates
from keystage.core.measures.ks4.explanations import explain
from keystage.core.measures.ks4.progress import progress
from keystage.core.measures.ks4.scoring import (
    as_results_schema,
    discount,
    on_list_first,
    results_year,
    score,
    scored_results,
)
from keystage.core.measures.ks4.slots import headline_figures, numbered_points, slots_table
from keystage.core.measures.rows import unique_pupils

PUPIL_COLUMNS = [
    "upn",
    "a8",
    "a8_english",
    "a8_maths",
    "a8_ebacc",
    "a8_open",
    "ebacc_slots_filled",
    "open_slots_filled",
    "ebacc_entered",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
    "ks2_pa",
    "pag",
    "p8",
    "p8_english",
    "p8_maths",
    "p8_ebacc",
    "p8_open",
    "p8_adjusted",
    "p8_was_adjusted",
]


@dataclass(frozen=True)
class PupilMeasures:
    """The pupil table, and each result with what happened to it (``results``, ``slots``)."""

    pupils: pl.DataFrame  # one row per pupil: PUPIL_COLUMNS, then the pupil table's other columns
    # each result: upn, qan, grade, exam_date, series (as given), numbers into the points table (_k)
    # and the pupils (_p: the row of its pupil when scored; subjects.py checks it still is)
    scored: pl.DataFrame
    points: pl.DataFrame  # the points table the results were scored with
    estimates_label: str | None
    year: int | None = None  # the results' academic year: a result of no known series is its summer's

    @property
    def list_year(self) -> int | None:
        """The year of DfE's list of approved qualifications the points table was read with."""
        if "list_year" not in self.points.columns or self.points.height == 0:
            return self.year
        return int(self.points.get_column("list_year")[0])

    @cached_property
    def results(self) -> pl.DataFrame:
        """Every result scored, in words (scoring.scored_results): its series, points, discount
        code, pillar and title, and the reason it does not count with the entry that counts
        instead."""
        return scored_results(self.scored, self.points, self.year)

    @cached_property
    def numbered(self) -> pl.DataFrame:
        """The points table as numbers, for the slot rule (slots.numbered_points)."""
        return numbered_points(self.points)

    def only(self, upns: pl.Series | list[str]) -> PupilMeasures:
        """The same measures restricted to these pupils."""
        wanted = pl.Series(upns, dtype=pl.String).implode()
        return dataclasses.replace(
            self,
            pupils=self.pupils.filter(pl.col("upn").is_in(wanted)),
            scored=self.scored.filter(pl.col("upn").is_in(wanted)),
        )

    def slots(self, upns: list[str] | None = None) -> pl.DataFrame:
        """One row per result (a double award: per slot) of these pupils (all if None), with the
        slot it filled or why it does not count: what an explanation reads."""
        measures = self if upns is None else self.only(upns)
        # The points table is the same for any pupils: its numbers are worked out once, here.
        return slots_table(measures.results, measures.scored, measures.pupils, self.numbered)

    def explain(self, upn: str) -> list[str]:
        """In words: each result and what it counted for, then the pupil's figures."""
        return explain(self, upn)


def ks2_prior_attainment() -> pl.Expr:
    """KS2 prior attainment: the mean of reading and maths (one alone when only one was taken)."""
    return pl.mean_horizontal(pl.col("ks2_reading").cast(pl.Float64), pl.col("ks2_maths").cast(pl.Float64))


def pupil_measures(
    results: pl.DataFrame,
    pupils: pl.DataFrame,
    points: pl.DataFrame,
    estimates: Estimates | None = None,
    *,
    year: int | None = None,
) -> PupilMeasures:
    """The measures of every pupil in ``pupils`` (columns upn, ks2_reading, ks2_maths, and any
    characteristics, carried through) from their ``results`` (upn, qan, grade, and an exam_date
    and/or a series key, each optional: scoring.RESULTS_SCHEMA), scored with ``points`` (points_table).
    Without estimates, Progress 8 is left empty.

    ``year``: the academic year the results are for (default: that of their latest series). A
    result with neither a date nor a series is taken as sat in its summer series."""
    base = unique_pupils(pupils)
    for column in ("ks2_reading", "ks2_maths"):
        if column not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    results = as_results_schema(results)
    year = year if year is not None else results_year(results)
    points, listed = on_list_first(points)
    scored = discount(score(results, points, listed, base), points, year)
    figures = headline_figures(scored, numbered_points(points), base.height)

    table = base.with_columns(
        *(series.alias(name) for name, series in figures.items()),
        ks2_prior_attainment().alias("ks2_pa"),
    )
    table = table.with_columns(
        (pl.col("a8_english") + pl.col("a8_maths") + pl.col("a8_ebacc") + pl.col("a8_open")).alias("a8")
    )
    table = progress(table, estimates)
    others = [c for c in table.columns if c not in PUPIL_COLUMNS]
    return PupilMeasures(
        table.select(PUPIL_COLUMNS + others),
        scored.select(
            "upn", "qan", "grade", "exam_date", "series", "_k", "_p", "_reason", "_by", "_by_series"
        ),
        points,
        estimates.label if estimates else None,
        year,
    )
