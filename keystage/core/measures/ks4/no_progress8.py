"""keystage's KS1-based value added in a year's KS4 figures, for the results years DfE publishes no
Progress 8 for (keystage.core.measures.ks4.prior_attainment): which national KS1 groups the pupils are
measured against, the value added joined onto the school, trust, LA and national figures, and the
explanation lines of each pupil. The method is keystage.core.measures.ks4.ks1_value_added's; the
platform's stored national groups come in through ``stored_groups`` (keystage.measures.value_added).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from keystage.core.measures.ks4 import io as ks4_io
from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.core.measures.ks4.estimates import MEASURES, SD_KEYS, Estimates
from keystage.core.measures.ks4.prior_attainment import WithoutProgress8

KS1_COLUMNS = ks1.KS1_COLUMNS
# PupilFigure's fields of the value added; SchoolFigure's that count pupils (0, never empty).
PUPIL_FIELDS = (
    "ks1_aps",
    "ks1_pag",
    "ks1_va",
    "ks1_va_english",
    "ks1_va_maths",
    "ks1_va_ebacc",
    "ks1_va_open",
)
COUNT_FIELDS = frozenset({"ks1_va_pupils", "ks1_none", "ks1_other"})
_UNIT_SD = {key: 1.0 for key in SD_KEYS}


def results_year(year: int | None, results: pl.DataFrame, points_year: int) -> int:
    """The summer the results are for: the database's year; from files, the academic year of the
    latest exam date; else the points year."""
    if year is not None:
        return year
    from_dates = ks4_io.results_year(results) if "exam_date" in results.columns else None
    return from_dates if from_dates is not None else points_year


@dataclass
class ValueAdded:
    """What a year without Progress 8 adds to its KS4 figures."""

    gap: WithoutProgress8
    groups: ks1.Ks1Groups | None  # None when no pupil nationally has a KS1 point score
    notes: list[str] = field(default_factory=list)


def value_added(
    table: pl.DataFrame,
    gap: WithoutProgress8,
    *,
    national: bool,
    stored_groups: Callable[[int], ks1.Ks1Groups | None] | None = None,
) -> tuple[pl.DataFrame, ValueAdded]:
    """The pupil table with each pupil's KS1 prior attainment and value added, and what it was measured
    against. ``national``: the table is the year's nation (from the database: every school's pupils
    and any background), whose groups are computed from it; otherwise (files) the groups are
    ``stored_groups(year)``, the platform's national ones for the year, else, with none, those of the
    pupils given, and the note says so."""
    year = gap.year
    table = ks1.with_ks1_prior(table)
    notes = [f"{gap.message}: no pupil has Progress 8; {ks1.NAME} is given instead."]
    unknown = ks1.unknown_codes(table)
    if unknown:
        notes.append(
            f"KS1 columns hold values that are not KS1 teacher assessment codes ({', '.join(unknown[:5])}): "
            "those pupils have no KS1 point score."
        )
    scored = table.filter(pl.col("ks1_pag").is_not_null()).height
    groups: ks1.Ks1Groups | None
    if national:
        label = f"keystage's national KS1 groups for {year} ({scored:,} pupils with a KS1 point score)"
        groups = ks1.national_groups(table, label) if scored else None
    else:
        found = stored_groups(year) if stored_groups is not None else None
        if found is not None:
            groups = found
        elif scored:
            groups = ks1.national_groups(
                table,
                f"the KS1 groups of the {scored:,} pupils given: the platform has no national KS4 figures "
                f"of {year}, so these are not national",
            )
        else:
            groups = None
    if groups is None:
        notes.append(f"No pupil has a KS1 point score, so {ks1.NAME} cannot be worked out.")
        table = ks1.with_value_added(table, ks1.Ks1Groups.from_json({}))
    else:
        notes.append(f"The value added is measured against {groups.label}.")
        table = ks1.with_value_added(table, groups)
    none, other = ks1.rows_missing(table.select("ks1_missing").iter_rows(named=True))
    missing = ks1.missing_words(none, other)
    if missing:
        notes.append(f"Of {table.height:,} pupils, {missing}.")
    return table, ValueAdded(gap, groups, notes)


def with_figures(
    table: pl.DataFrame,
    schools: pl.DataFrame,
    national: pl.DataFrame,
    aggregates: pl.DataFrame,
    added: ValueAdded,
    aggregated_by: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The school, national and trust/LA tables with the value added columns (``ks1.SCHOOL_COLUMNS``)
    of each row."""
    groups = added.groups or ks1.Ks1Groups.from_json({})
    keys = ["group", "value"]
    schools = schools.join(
        ks1.value_added_figures(table, groups), on=["school", *keys], how="left", maintain_order="left"
    )
    national = national.join(
        ks1.national_value_added(table, groups), on=["school", *keys], how="left", maintain_order="left"
    )
    if aggregates.height:
        parts = [
            ks1.aggregate_value_added(table, groups, by=by).select(
                pl.lit(by).alias("level"), pl.col(by).alias("organisation"), pl.exclude(by)
            )
            for by in aggregated_by
        ]
        aggregates = aggregates.join(
            pl.concat(parts, how="vertical"),
            on=["level", "organisation", *keys],
            how="left",
            maintain_order="left",
        )
    return schools, national, aggregates


def explain(lines: list[str], row: dict[str, Any], added: ValueAdded) -> list[str]:
    """A pupil's explanation in a year without Progress 8: the engine's lines (worked out with
    ``no_progress8=added.gap.message``), then their KS1 prior attainment, group and value added."""
    return [*lines, *ks1.explanation(row, added.groups)]


def pupil_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The KS1-based value added fields of a pupil's stored figures (empty outside its years)."""
    return {name: row.get(name) for name in PUPIL_FIELDS}


def no_progress8_estimates(gap: WithoutProgress8) -> Estimates:
    """What a year without Progress 8 is "measured against": nothing DfE publishes. The pupils get no
    Progress 8 (and no group); the label says why wherever the estimates' label is shown."""
    empty = pl.DataFrame(schema={"pag": pl.Int64, **{m: pl.Float64 for m in MEASURES}})
    ranges = pl.DataFrame(schema={"pag": pl.Int64, "low": pl.Float64, "high": pl.Float64})
    # The standard deviations only scale confidence intervals of a Progress 8 no pupil has.
    return Estimates(
        label=f"No Progress 8 for {gap.year}: {ks1.NAME}", by_pag=empty, ranges=ranges, sd=_UNIT_SD
    )
