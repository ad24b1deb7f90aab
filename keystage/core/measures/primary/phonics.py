"""Phonics screening check measures, per pupil and per school and pupil group: the share of Year 1
pupils meeting the expected standard (a mark at or above the year's threshold), the share meeting it by
the end of Year 2 (in Year 1 or in the Year 2 retake), and the average mark.

Who counts, from DfE's phonics screening check methodology (explore-education-statistics, "Phonics
screening check attainment"): pupils with a valid outcome, a mark or A (absent), D (disapplied) or Q
(maladministration), all three counting as not meeting the standard; "pupils with missing or invalid
results are not included". L (left the school) is not among DfE's valid outcomes, so a pupil who left
is not counted. The average mark is over pupils with a mark.

By the end of Year 2 (DfE's release "Phonics screening check attainment", 2023/24: a pupil is in the
Year 2 figures with "a valid year 2 phonics result from the current year; or a valid year 1 phonics
result from the previous year and [is] in the census in year 2"), a Year 2 pupil meets the standard by
meeting it in either year, so:

- met in Year 1 (and not checked again): counted, met;
- not met in Year 1, then a mark, A, D or Q in Year 2: counted, met only with the mark;
- A (absent) in Year 2 with no Year 1 result: counted, not met (A is a valid outcome);
- no Year 2 result, a valid Year 1 one: counted with the Year 1 result;
- L in Year 2: the pupil left the school before the check and is not in its Year 2, so not counted,
  whatever their Year 1 result: the Year 1 rule (L is not counted) in Year 2;
- neither result valid: not counted.

The Year 1 result of a Year 2 pupil, a year ago, is the assessment ``phonics_mark_year1`` (from files,
as a result row; from the platform, last year's collection).
"""

from __future__ import annotations

import polars as pl

from keystage.core.measures.group_figures import Mean, Measure, Share
from keystage.core.measures.primary.results import flagged, score, wide_results, with_results
from keystage.core.reference.frameworks import Assessment, Framework

MARK = "phonics_mark"
YEAR1_MARK = "phonics_mark_year1"  # a Year 2 pupil's check in Year 1, the year before
MEASURES: dict[str, Measure] = {
    "phonics_y1_met": Share("phonics_y1_met"),
    "phonics_y2_met_by_end": Share("phonics_y2_met_by_end"),
    "phonics_y1_average_mark": Mean("phonics_y1_mark"),
}
_COUNTED_NOT_MET = ("absent", "disapplied", "maladministration")


def threshold(framework: Framework) -> float:
    """The year's threshold mark (the framework's ``phonics_expected``, else its mark's expected_from)."""
    if "phonics_expected" in framework.thresholds:
        return float(framework.thresholds["phonics_expected"])
    mark = framework.assessment(MARK)
    if mark.score is None or mark.score.expected_from is None:
        raise ValueError(f"the phonics {framework.from_year} framework has no threshold mark")
    return float(mark.score.expected_from)


def _met(check: Assessment, column: str, pass_mark: float) -> pl.Expr:
    """Met (mark at or above the threshold), not met (a lower mark, or A, D, Q), or null (no valid
    outcome: missing, invalid, or L)."""
    mark = score(check, column)
    return (
        pl.when(mark.is_not_null())
        .then(mark >= pass_mark)
        .when(flagged(check, column, *_COUNTED_NOT_MET))
        .then(False)
        .otherwise(None)
    )


def met_the_standard(results: pl.DataFrame, framework: Framework) -> pl.Series:
    """The UPNs whose check in ``results`` (upn, assessment, result) met the standard: pupils who are
    not checked again in Year 2."""
    check = framework.assessment(MARK)
    marks = wide_results(results, [MARK])
    return marks.filter(_met(check, MARK, threshold(framework)).fill_null(False)).get_column("upn")


def phonics_pupils(results: pl.DataFrame, pupils: pl.DataFrame, framework: Framework) -> pl.DataFrame:
    """One row per pupil of ``pupils`` (upn, nc_year, and any characteristics, carried through):
    phonics_mark (the result as written), phonics_met (this year's check: true, false, or null when it
    does not count), phonics_y1_met (Year 1 pupils only), phonics_y1_mark (a Year 1 pupil's mark, for the
    average), phonics_y2_met_by_end (Year 2 pupils only: met in Year 1 or in the retake; null for a
    pupil with neither result valid). ``results``: upn, assessment, result."""
    if "nc_year" not in pupils.columns:
        raise ValueError("the pupils table has no column nc_year (phonics is checked in Years 1 and 2)")
    check = framework.assessment(MARK)
    pass_mark = threshold(framework)

    year = pl.col("nc_year").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
    this_year = _met(check, MARK, pass_mark)
    last_year = _met(check, YEAR1_MARK, pass_mark)
    by_end = (
        # L: left the school before this year's check, so not in its Year 2 (as in Year 1).
        pl.when(flagged(check, MARK, "left"))
        .then(None)
        .when(this_year.is_null() & last_year.is_null())
        .then(None)
        .otherwise(this_year.fill_null(False) | last_year.fill_null(False))
    )
    table = with_results(pupils, results, [MARK, YEAR1_MARK]).with_columns(
        this_year.alias("phonics_met"),
        pl.when(year == 1).then(this_year).alias("phonics_y1_met"),
        pl.when(year == 1).then(score(check, MARK)).alias("phonics_y1_mark"),
        pl.when(year == 2).then(by_end).alias("phonics_y2_met_by_end"),
    )
    measures = ["phonics_mark", "phonics_met", "phonics_y1_met", "phonics_y1_mark", "phonics_y2_met_by_end"]
    others = [c for c in pupils.columns if c not in {"upn", *measures}]
    return table.select("upn", *measures, *others)
