"""EYFSP and phonics measures worked by hand: GLD and ELGs, exemptions and incomplete profiles left
out; phonics marks against the threshold, A, D and Q counted as not met, L and missing or invalid
results left out, and meeting the standard by the end of Year 2."""

from __future__ import annotations

import polars as pl
import pytest

from keystage.core.measures.group_figures import group_figures
from keystage.core.measures.primary.eyfsp import area_column, eyfsp_measures, eyfsp_pupils
from keystage.core.measures.primary.phonics import MEASURES as PHONICS
from keystage.core.measures.primary.phonics import phonics_pupils, threshold
from keystage.core.reference.frameworks import FrameworkLibrary

LIBRARY = FrameworkLibrary.from_directory()
EYFSP = LIBRARY.for_year("eyfsp", 2026)
CHECK = LIBRARY.for_year("phonics", 2026)
ELGS = [a.code for a in EYFSP.assessments]


def profile(upn: str, **changes: str) -> list[tuple[str, str, str]]:
    """Every ELG expected (2) unless changed; a change to "" leaves that ELG without a result."""
    results = {code: "2" for code in ELGS} | changes
    return [(upn, code, result) for code, result in results.items() if result != ""]


def long(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["upn", "assessment", "result"], orient="row")


def test_eyfsp_gld_needs_every_gld_goal_and_exempt_or_incomplete_profiles_do_not_count():
    rows = [
        *profile("P1"),
        *profile("P2", elg_writing="1"),  # a GLD goal emerging
        *profile("P3", elg_natural_world="1"),  # a goal outside GLD
        *profile("P4", **dict.fromkeys(ELGS, "A")),  # exempt
        *profile("P5", elg_number=""),  # a goal without a result
        *profile("P6", elg_listening=" a "),  # an exemption, however written
    ]
    pupils = pl.DataFrame({"upn": ["P1", "P2", "P3", "P4", "P5", "P6", "P7"], "school": ["S"] * 7})
    table = eyfsp_pupils(long(rows), pupils, EYFSP)
    by_upn = {row["upn"]: row for row in table.iter_rows(named=True)}
    assert [by_upn[p]["gld"] for p in ("P1", "P2", "P3")] == [True, False, True]
    assert [by_upn[p]["elgs_expected"] for p in ("P1", "P2", "P3")] == [17, 16, 16]
    assert by_upn["P2"][area_column("Literacy")] is False and by_upn["P3"][area_column("Literacy")] is True
    assert by_upn["P3"][area_column("Understanding the world")] is False
    for upn in ("P4", "P5", "P6", "P7"):  # P7 has no results at all
        assert not by_upn[upn]["eyfsp_counted"] and by_upn[upn]["gld"] is None
    school = group_figures(table, eyfsp_measures(EYFSP), group_columns=["all"]).row(0, named=True)
    assert (school["cohort"], school["gld_pupils"], school["gld"]) == (7, 3, pytest.approx(2 / 3))
    assert school["elgs_expected"] == pytest.approx((17 + 16 + 16) / 3)
    assert school["elg_writing_expected"] == pytest.approx(2 / 3)


def test_phonics_year_1_counts_a_d_and_q_as_not_met_and_leaves_out_l_missing_and_invalid():
    assert threshold(CHECK) == 32
    marks = {"A1": "32", "A2": "31", "A3": "A", "A4": "D", "A5": "Q", "A6": "L", "A8": "41", "A9": "32.5"}
    rows = [(upn, "phonics_mark", mark) for upn, mark in marks.items()]
    pupils = pl.DataFrame({"upn": [*marks, "A7"], "nc_year": ["1"] * 9, "school": ["S"] * 9})
    table = phonics_pupils(long(rows), pupils, CHECK)
    met = dict(table.select("upn", "phonics_y1_met").iter_rows())
    assert met == {
        "A1": True,
        "A2": False,
        "A3": False,
        "A4": False,
        "A5": False,
        "A6": None,
        "A7": None,
        "A8": None,
        "A9": None,
    }
    school = group_figures(table, PHONICS, group_columns=["all"]).row(0, named=True)
    assert (school["phonics_y1_met"], school["phonics_y1_met_pupils"]) == (pytest.approx(1 / 5), 5)
    assert school["phonics_y1_average_mark"] == 31.5  # of the two marks
    assert school["phonics_y2_met_by_end"] is None and school["phonics_y2_met_by_end_pupils"] == 0


def test_phonics_by_the_end_of_year_2_counts_a_pass_in_year_1_or_in_the_retake():
    rows = [
        ("B1", "phonics_mark_year1", "35"),  # met in Year 1, no retake
        ("B2", "phonics_mark_year1", "20"),
        ("B2", "phonics_mark", "33"),  # met in the retake
        ("B3", "phonics_mark_year1", "20"),
        ("B3", "phonics_mark", "25"),
        ("B4", "phonics_mark_year1", "A"),
        ("B4", "phonics_mark", "A"),  # absent both times: counted, not met
        ("B5", "phonics_mark", "34"),  # no Year 1 result here
        ("B7", "phonics_mark_year1", "L"),
    ]
    upns = ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    pupils = pl.DataFrame({"upn": upns, "nc_year": [2] * 7, "school": ["S"] * 7})
    table = phonics_pupils(long(rows), pupils, CHECK)
    by_end = dict(table.select("upn", "phonics_y2_met_by_end").iter_rows())
    assert by_end == {"B1": True, "B2": True, "B3": False, "B4": False, "B5": True, "B6": None, "B7": None}
    assert table.get_column("phonics_y1_met").is_null().all()  # no Year 1 pupils
    school = group_figures(table, PHONICS, group_columns=["all"]).row(0, named=True)
    assert (school["phonics_y2_met_by_end"], school["phonics_y2_met_by_end_pupils"]) == (0.6, 5)


def test_by_the_end_of_year_2_a_pupil_coded_l_has_left_and_absence_counts_as_not_met():
    """DfE's Year 2 figures: a valid Year 2 result, or a valid Year 1 result and still in Year 2. L
    (left) is no valid result, in Year 2 as in Year 1: the pupil is not this school's Year 2."""
    rows = [
        ("C1", "phonics_mark_year1", "20"),
        ("C1", "phonics_mark", "L"),  # not met in Year 1, left before the retake: not counted
        ("C2", "phonics_mark_year1", "36"),
        ("C2", "phonics_mark", "L"),  # met in Year 1 but left: not counted here either
        ("C3", "phonics_mark_year1", "20"),
        ("C3", "phonics_mark", "A"),  # absent from the retake: counted, not met
        ("C4", "phonics_mark", "A"),  # absent, no Year 1 result here: counted, not met
        ("C5", "phonics_mark_year1", "36"),
        ("C5", "phonics_mark", "A"),  # met in Year 1: met by the end of Year 2
        ("C6", "phonics_mark_year1", "A"),  # absent in Year 1, no Year 2 result: counted, not met
        ("C7", "phonics_mark_year1", "L"),
        ("C7", "phonics_mark", "33"),  # left a school in Year 1, met here in Year 2
        ("C8", "phonics_mark", "L"),  # left, and nothing from Year 1
        ("C9", "phonics_mark_year1", "D"),
        ("C9", "phonics_mark", "Q"),  # disapplied, then maladministration: counted, not met
    ]
    upns = [f"C{n}" for n in range(1, 10)]
    pupils = pl.DataFrame({"upn": upns, "nc_year": [2] * 9, "school": ["S"] * 9})
    by_end = dict(
        phonics_pupils(long(rows), pupils, CHECK).select("upn", "phonics_y2_met_by_end").iter_rows()
    )
    assert by_end == {
        "C1": None,
        "C2": None,
        "C3": False,
        "C4": False,
        "C5": True,
        "C6": False,
        "C7": True,
        "C8": None,
        "C9": False,
    }
    # The same pupils in Year 1 with this year's codes: L left out there too.
    year1 = pupils.with_columns(pl.lit(1).alias("nc_year"))
    met = dict(phonics_pupils(long(rows), year1, CHECK).select("upn", "phonics_y1_met").iter_rows())
    assert [upn for upn, value in met.items() if value is None] == ["C1", "C2", "C6", "C8"]
    school = group_figures(phonics_pupils(long(rows), pupils, CHECK), PHONICS, group_columns=["all"]).row(
        0, named=True
    )
    assert (school["phonics_y2_met_by_end"], school["phonics_y2_met_by_end_pupils"]) == (
        pytest.approx(2 / 6),
        6,
    )
