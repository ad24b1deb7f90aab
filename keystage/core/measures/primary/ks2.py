"""KS2 measures, per pupil and per school and pupil group: reading, maths and grammar, punctuation and
spelling tests (the share at the expected standard, 100 or more; at a high score, 110 or more; the
average scaled score), writing and science teacher assessment, reading, writing and maths combined
(expected and higher), and the multiplication tables check average.

Who counts, from DfE's primary accountability guidance as schools' data services quote it: a test's
shares count every pupil with a result but M (missing) and L (left), B (working below the test), A
(absent), T (unable to access) and Q (maladministration) as not meeting the standard; the average
scaled score counts only pupils with a scaled score. Writing and science count every teacher assessment
but L, F and P (left, reported in a future or a previous year). Reading, writing and maths combined
counts every pupil except those whose writing is L, F or P (left, reported in another year; the tests
have no such codes), a subject not assessed, or with a result the framework does not know, counting as
not met (DfE's eligible pupils include those "not assessed in at least 1 subject"). [check] Leaving out
writing's L, F and P from the combined measure is our reading of the rules.

Progress from KS1 in reading, writing and maths (``progress.py``, where its rules are stated) is worked
out when the results table also carries the pupils' KS1 teacher assessments (``ks1_reading_ta``,
``ks1_writing_ta``, ``ks1_maths_ta``); without them its columns are empty.
"""

from __future__ import annotations

import polars as pl

from keystage.core.measures.group_figures import Mean, Measure, Share
from keystage.core.measures.primary import progress
from keystage.core.measures.primary.results import flagged, judged, score, with_results
from keystage.core.reference.frameworks import Framework

TESTS = ("reading", "maths", "gps")
_TEST_NOT_MET = ("below", "absent", "unable_to_access", "maladministration")
_TA_NOT_MET = ("below", "pre_key_stage", "absent")
_ELSEWHERE = ("left", "future", "previous")

MEASURES: dict[str, Measure] = {
    **{f"ks2_{t}_expected": Share(f"ks2_{t}_expected") for t in TESTS},
    **{f"ks2_{t}_higher": Share(f"ks2_{t}_higher") for t in TESTS},
    **{f"ks2_{t}_score": Mean(f"ks2_{t}_score") for t in TESTS},
    "ks2_writing_expected": Share("ks2_writing_expected"),
    "ks2_writing_higher": Share("ks2_writing_higher"),
    "ks2_science_expected": Share("ks2_science_expected"),
    "ks2_rwm_expected": Share("ks2_rwm_expected"),
    "ks2_rwm_higher": Share("ks2_rwm_higher"),
    "ks2_mtc_score": Mean("ks2_mtc_score"),
    **{f"ks2_{s}_progress": Mean(f"ks2_{s}_progress") for s in progress.SUBJECTS},
}


def _threshold(framework: Framework, name: str, fallback: int | None) -> float:
    if name in framework.thresholds:
        return float(framework.thresholds[name])
    if fallback is None:
        raise ValueError(f"the ks2 {framework.from_year} framework has no threshold {name}")
    return float(fallback)


def ks2_pupils(results: pl.DataFrame, pupils: pl.DataFrame, framework: Framework) -> pl.DataFrame:
    """One row per pupil of ``pupils`` (carried through) with a column per measure of ``MEASURES``:
    yes, no or a score, or null when the pupil does not count, and the progress columns
    (``progress.COLUMNS``: KS1 APS, prior attainment group, progress adjusted and unadjusted). The
    pupils given are the nation progress is measured against. ``results``: upn, assessment, result."""
    codes = [a.code for a in framework.assessments] + list(progress.KS1_ASSESSMENTS)
    table = with_results(pupils, results, codes)
    figures = {}
    for test in TESTS:
        paper = framework.assessment(f"ks2_{test}_test")
        range_ = paper.score
        expected = _threshold(framework, "test_expected", range_.expected_from if range_ else None)
        higher = _threshold(framework, "test_higher", range_.higher_from if range_ else None)
        figures[f"ks2_{test}_expected"] = judged(
            paper, paper.code, met=("expected",), not_met=_TEST_NOT_MET, score_from=expected
        )
        figures[f"ks2_{test}_higher"] = judged(
            paper, paper.code, met=("higher",), not_met=(*_TEST_NOT_MET, "expected"), score_from=higher
        )
        figures[f"ks2_{test}_score"] = score(paper, paper.code)
    writing = framework.assessment("ks2_writing_ta")
    figures["ks2_writing_expected"] = judged(writing, writing.code, met=("expected",), not_met=_TA_NOT_MET)
    figures["ks2_writing_higher"] = judged(
        writing, writing.code, met=("higher",), not_met=(*_TA_NOT_MET, "expected")
    )
    science = framework.assessment("ks2_science_ta")
    figures["ks2_science_expected"] = judged(science, science.code, met=("expected",), not_met=_TA_NOT_MET)
    parts = {
        "reading": framework.assessment("ks2_reading_test"),
        "maths": framework.assessment("ks2_maths_test"),
        "writing": writing,
    }
    elsewhere = pl.any_horizontal(flagged(a, a.code, *_ELSEWHERE) for a in parts.values())
    for measure in ("expected", "higher"):
        each = [figures[f"ks2_{name}_{measure}"].fill_null(False) for name in parts]
        figures[f"ks2_rwm_{measure}"] = pl.when(~elsewhere).then(pl.all_horizontal(each))
    mtc = framework.assessment("ks2_mtc")
    figures["ks2_mtc_score"] = score(mtc, mtc.code)
    table = table.with_columns(expr.alias(name) for name, expr in figures.items())
    table = progress.with_progress(table, framework)
    added = [c for c in progress.COLUMNS if c not in figures]
    others = [c for c in pupils.columns if c != "upn" and c not in figures and c not in added]
    return table.select("upn", *figures, *added, *others)
