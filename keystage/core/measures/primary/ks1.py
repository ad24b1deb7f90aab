"""KS1 teacher assessment measures, per pupil and per school and pupil group: the share at the expected
standard or above and at greater depth in reading, writing and maths, expected in all three, science at
the expected standard, and the average scaled score of the optional tests.

Who counts, from DfE's KS1 attainment data (explore-education-statistics, "Key stage 1 attainment by
pupil characteristics", whose eligible pupils include the absent and disapplied): every outcome but Q
counts, A (absent), D (disapplied), working towards, pre-key-stage and the engagement model as not
meeting the standard. [check] Q (maladministration) and missing results are left out: DfE's files have
no column for them. Reading, writing and maths combined counts a pupil counted in all three.
"""

from __future__ import annotations

import polars as pl

from keystage.core.measures.group_figures import Mean, Measure, Share
from keystage.core.measures.primary.results import judged, score, with_results
from keystage.core.reference.frameworks import Framework

SUBJECTS = ("reading", "writing", "maths")
TESTS = ("reading", "maths", "gps")
_COUNTED = ("expected", "higher", "below", "pre_key_stage", "absent", "disapplied")

MEASURES: dict[str, Measure] = {
    **{f"ks1_{s}_expected": Share(f"ks1_{s}_expected") for s in SUBJECTS},
    **{f"ks1_{s}_higher": Share(f"ks1_{s}_higher") for s in SUBJECTS},
    "ks1_rwm_expected": Share("ks1_rwm_expected"),
    "ks1_science_expected": Share("ks1_science_expected"),
    **{f"ks1_{t}_test_score": Mean(f"ks1_{t}_test_score") for t in TESTS},
}


def ks1_pupils(results: pl.DataFrame, pupils: pl.DataFrame, framework: Framework) -> pl.DataFrame:
    """One row per pupil of ``pupils`` (carried through) with a column per measure of ``MEASURES``:
    yes, no, or null when the pupil does not count. ``results``: upn, assessment, result."""
    codes = [a.code for a in framework.assessments]
    table = with_results(pupils, results, codes)
    figures = {}
    for subject in SUBJECTS:
        ta = framework.assessment(f"ks1_{subject}_ta")
        not_met = tuple(f for f in _COUNTED if f != "expected")
        figures[f"ks1_{subject}_expected"] = judged(ta, ta.code, met=("expected",), not_met=not_met)
        figures[f"ks1_{subject}_higher"] = judged(ta, ta.code, met=("higher",), not_met=_COUNTED)
    science = framework.assessment("ks1_science_ta")
    figures["ks1_science_expected"] = judged(
        science, science.code, met=("expected",), not_met=("below", "absent")
    )
    each = [figures[f"ks1_{s}_expected"] for s in SUBJECTS]
    figures["ks1_rwm_expected"] = pl.when(pl.all_horizontal(e.is_not_null() for e in each)).then(
        pl.all_horizontal(each)
    )
    for test in TESTS:
        assessment = framework.assessment(f"ks1_{test}_test")
        figures[f"ks1_{test}_test_score"] = score(assessment, assessment.code)
    table = table.with_columns(expr.alias(name) for name, expr in figures.items())
    others = [c for c in pupils.columns if c != "upn" and c not in figures]
    return table.select("upn", *figures, *others)
