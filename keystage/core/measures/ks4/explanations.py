"""Each pupil's KS4 figures explained in plain words, result by result (the slot it filled, or why it
does not count and which entry counts instead), then the figures; and the results not counted in
performance measures at all, listed and summed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import polars as pl

from keystage.core.measures.ks4.scoring import (
    DISCOUNTED,
    LATER_ENTRY,
    NOT_A_GRADE,
    NOT_CATALOGUED,
    NOT_COUNTED_REASONS,
    OFF_LIST,
)
from keystage.core.measures.ks4.slots import EBACC_SLOT, ENGLISH_SLOT, MATHS_SLOT, NOT_BEST, OPEN_SLOT

if TYPE_CHECKING:
    from keystage.core.measures.ks4.pupils import PupilMeasures

_SLOT_WORDS = {
    MATHS_SLOT: "maths",
    ENGLISH_SLOT: "English",
    EBACC_SLOT: "an EBacc slot",
    OPEN_SLOT: "an open slot",
}


def _entry_words(title: str | None, qan: str, grade: str | None) -> str:
    return f"{title} ({qan}) grade {grade}" if title else f"{qan} grade {grade}"


def not_counted_words(reason: str, year: int | None, list_year: int | None) -> str:
    """Why a result is not counted in performance measures (one of NOT_COUNTED_REASONS), in the
    words a person reads: for one off the list, the year and, if DfE's list read is older, that."""
    if reason == OFF_LIST:
        if year is None or list_year is None or list_year == year:
            return f"not on DfE's list of approved qualifications for {year or list_year}"
        return (
            f"not on DfE's list of approved qualifications for {year} "
            f"(the {list_year} list is the newest keystage has)"
        )
    if reason == NOT_CATALOGUED:
        return "not in the catalogue (no qualification has this number)"
    return reason


def _result_line(
    row: dict[str, Any], year: int | None, list_year: int | None, grades: dict[str, str] | None = None
) -> str:
    """One result and what it counted for, or why not and which entry counts instead."""
    what = _entry_words(row["title"], row["qan"], row["grade"])
    if row["slot"] is not None:
        weight = ", counted twice" if row["weight"] == 2 else ""
        double = f" (double award, slot {row['entry']} of 2)" if row["double_award"] else ""
        return f"{what}: {row['points']:g} points{weight} in {_SLOT_WORDS[row['slot']]}{double}."
    series = row["series_label"] or "series not given"
    winner = _entry_words(row["discounted_by_title"], row["discounted_by"], row["discounted_by_grade"])
    if row["reason"] == DISCOUNTED:
        why = (
            "an equal grade; the earlier exam counts"
            if row["points"] == row["discounted_by_points"]
            else "best grade in the first series"
        )
        return f"{what}: discounted: {winner} in the same series ({series}) counts ({why})."
    if row["reason"] == LATER_ENTRY:
        first = row["discounted_by_series"] or "series not given"
        return f"{what}: a later entry ({series}); the first series, {first}, counts: {winner}."
    if row["reason"] == NOT_BEST:
        return f"{what}: {row['points']:g} points, not among the best three for the open slots."
    in_year = f" in {year}" if year is not None else ""
    known = (grades or {}).get(row["qan"]) if row["reason"] == NOT_A_GRADE else None
    its_grades = f" (its grades: {known})" if known else ""
    return (
        f"{what}: not counted in performance measures{in_year}: "
        f"{not_counted_words(row['reason'], year, list_year)}{its_grades}."
    )


def _grades_of(points: pl.DataFrame, qans: list[str]) -> dict[str, str]:
    """The grades of each of these qualifications, lowest points first ("U, 1, 2, ... 9")."""
    if not qans:
        return {}
    listed = (
        points.filter(pl.col("qan").is_in(qans))
        .sort("qan", "points", "grade")
        .group_by("qan", maintain_order=True)
        .agg(pl.col("grade").unique(maintain_order=True).str.join(", "))
    )
    return dict(listed.iter_rows())


def _figure_lines(p: dict[str, Any], label: str | None, no_progress8: str | None = None) -> list[str]:
    """A pupil's figures, after the results. ``no_progress8``: why no pupil has Progress 8 this year
    (DfE publishes none), said in place of each pupil's own reason."""
    lines = [
        f"Attainment 8 {p['a8']:g}: English {p['a8_english']:g}, maths {p['a8_maths']:g}, "
        f"EBacc {p['a8_ebacc']:g} ({p['ebacc_slots_filled']} of 3 slots), open {p['a8_open']:g} "
        f"({p['open_slots_filled']} of 3 slots)."
    ]
    if no_progress8 is not None:
        lines.append(f"No Progress 8: {no_progress8}.")
    elif p["p8"] is None:
        reason = "no KS2 prior attainment" if p["ks2_pa"] is None else "no estimates for this year"
        lines.append(f"No Progress 8: {reason}.")
    else:
        adjusted = f", raised to the floor {p['p8_adjusted']:.2f}" if p["p8_was_adjusted"] else ""
        lines.append(
            f"Progress 8 {p['p8']:.2f}{adjusted}: KS2 prior attainment {p['ks2_pa']:g}, group {p['pag']}, "
            f"against {label}."
        )
    return lines


def explanations(
    measures: PupilMeasures, upns: list[str] | None = None, *, no_progress8: str | None = None
) -> dict[str, list[str]]:
    """Each pupil's explanation (all pupils if ``upns`` is None), in one pass over their results:
    each result and what it counted for, then their figures, in plain words. ``no_progress8``: as
    for ``_figure_lines``, in a year DfE publishes no Progress 8 for."""
    lines: dict[str, list[str]] = defaultdict(list)
    year, list_year = measures.year, measures.list_year
    slots = measures.slots(upns)
    wrong = slots.filter(pl.col("reason") == NOT_A_GRADE).get_column("qan").unique().to_list()
    grades = _grades_of(measures.points, wrong)
    for row in slots.iter_rows(named=True):
        lines[row["upn"]].append(_result_line(row, year, list_year, grades))
    pupils = measures.pupils if upns is None else measures.pupils.filter(pl.col("upn").is_in(upns))
    for pupil in pupils.iter_rows(named=True):
        lines[pupil["upn"]].extend(_figure_lines(pupil, measures.estimates_label, no_progress8))
    return dict(lines)


def explain(measures: PupilMeasures, upn: str) -> list[str]:
    """One pupil's explanation."""
    return explanations(measures, [upn]).get(upn, [])


NOT_COUNTED_COLUMNS = ("school", "upn", "qan", "title", "grade", "series", "reason")


def not_counted(measures: PupilMeasures) -> pl.DataFrame:
    """Every result of the measures' pupils that is not counted in performance measures at all: a
    qualification off DfE's list of approved qualifications for the year, a grade that is not one
    of its qualification's, or a qualification number not in the catalogue (NOT_COUNTED_REASONS).
    Results that lost to another entry (discounted, a later entry, not among the best) are not
    here: they took part. Each result is listed, so none is dropped without a word.

    Columns (stable, NOT_COUNTED_COLUMNS): school (the pupil's, null when the pupils have no school
    column), upn, qan, title (null when not in the catalogue), grade, series (its label, e.g.
    "Summer 2026"), reason (in words, ``not_counted_words``). Sorted by school, upn, qan, grade."""
    pupils = measures.pupils
    school = pl.col("school").cast(pl.String) if "school" in pupils.columns else pl.lit(None, pl.String)
    words = {
        reason: not_counted_words(reason, measures.year, measures.list_year) for reason in NOT_COUNTED_REASONS
    }
    return (
        measures.results.filter(pl.col("reason").is_in(list(NOT_COUNTED_REASONS)))
        .join(pupils.select("upn", school.alias("school")), on="upn", how="inner")
        .select(
            "school",
            "upn",
            "qan",
            "title",
            "grade",
            pl.col("series_label").alias("series"),
            pl.col("reason").replace_strict(words, return_dtype=pl.String),
        )
        .sort("school", "upn", "qan", "grade", nulls_last=True)
    )


def not_counted_summary(measures: PupilMeasures, by: str | None = "school") -> pl.DataFrame:
    """How many results (and of how many pupils) are not counted in performance measures, per
    ``by`` (a column of the pupils, e.g. school; None: over all pupils) and reason.

    Columns (stable): ``by`` (when given), reason (as in ``not_counted``), results, pupils. Sorted
    by ``by``, then most results first."""
    table = not_counted(measures)
    keys = ["reason"]
    if by is not None:
        keys.insert(0, by)
        if by != "school":
            column = pl.col(by).cast(pl.String) if by in measures.pupils.columns else pl.lit(None, pl.String)
            table = table.join(measures.pupils.select("upn", column.alias(by)), on="upn", how="left")
    summary = table.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("results"), pl.col("upn").n_unique().cast(pl.Int64).alias("pupils")
    )
    order = [*([by] if by is not None else []), "results", "reason"]
    descending = [*([False] if by is not None else []), True, False]
    return summary.sort(order, descending=descending, nulls_last=True).select(*keys, "results", "pupils")
