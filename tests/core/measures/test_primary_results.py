"""Primary results read wide: a column per assessment for each pupil, whatever the file's untidiness."""

from __future__ import annotations

import polars as pl

from keystage.core.measures.primary.results import wide_results, with_results

RESULTS = pl.DataFrame(
    {
        "upn": [" A1", "A1", "B2", None, "C3", "Z9", "A1", "B2"],
        "assessment": [
            "Phonics_Mark ",
            "phonics_mark",
            "phonics_mark",
            "phonics_mark",
            "something_else",
            "phonics_mark",
            "phonics_year1_mark",
            "phonics_year1_mark",
        ],
        "result": [" 32", "10", "2.0", "5", "1", "3", " ", "q"],
    }
)
PUPILS = pl.DataFrame(
    {"upn": ["A1", "B2", "A1 ", None, "D4"], "phonics_mark": ["x"] * 5, "k": list(range(5))}
)


def test_each_pupil_gets_their_first_tidied_result_for_each_assessment():
    table = with_results(PUPILS, RESULTS, ["phonics_mark", "phonics_year1_mark", "phonics_year1_mark"])
    assert table.columns == ["upn", "k", "phonics_mark", "phonics_year1_mark"]  # the results' column replaces
    assert table.rows() == [
        ("A1", 0, "32", None),  # the first of A1's two marks; a blank result is none
        ("B2", 1, "2", "Q"),  # "2.0" is 2; results upper case
        ("A1", 2, "32", None),  # a pupil listed twice is given their results twice
        (None, 3, None, None),  # a pupil without a UPN has none, and a result without one is nobody's
        ("D4", 4, None, None),
    ]
    assert with_results(PUPILS, RESULTS, []).columns == PUPILS.columns


def test_wide_results_list_the_pupils_with_results_whoever_they_are():
    table = wide_results(RESULTS, ["phonics_mark"]).sort("upn")
    assert table.rows() == [("A1", "32"), ("B2", "2"), ("Z9", "3")]
    assert wide_results(RESULTS.head(0), ["phonics_mark"]).columns == ["upn", "phonics_mark"]
