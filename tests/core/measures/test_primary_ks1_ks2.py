"""KS1 and KS2 measures worked by hand: which outcomes meet the standard, which count as not meeting
it, which are left out; greater depth and high scores; reading, writing and maths combined."""

from __future__ import annotations

import polars as pl
import pytest

from keystage.core.measures.group_figures import group_figures
from keystage.core.measures.primary import ks1, ks2
from keystage.core.reference.frameworks import FrameworkLibrary

LIBRARY = FrameworkLibrary.from_directory()


def results(rows: dict[str, dict[str, str]]) -> pl.DataFrame:
    long = [(upn, code, value) for upn, outcomes in rows.items() for code, value in outcomes.items()]
    return pl.DataFrame(long, schema=["upn", "assessment", "result"], orient="row")


def pupils(*upns: str) -> pl.DataFrame:
    return pl.DataFrame({"upn": list(upns), "school": ["S"] * len(upns)})


def column(table: pl.DataFrame, name: str) -> dict[str, object]:
    return dict(table.select("upn", name).iter_rows())


def test_ks1_expected_greater_depth_and_who_counts():
    rows = {
        "P1": {
            "ks1_reading_ta": "GDS",
            "ks1_writing_ta": "EXS",
            "ks1_maths_ta": "GDS",
            "ks1_science_ta": "EXS",
        },
        "P2": {
            "ks1_reading_ta": "WTS",
            "ks1_writing_ta": "PK3",
            "ks1_maths_ta": "EXS",
            "ks1_science_ta": "HNM",
        },
        "P3": {"ks1_reading_ta": "A", "ks1_writing_ta": "D", "ks1_maths_ta": "EM", "ks1_science_ta": "A"},
        "P4": {
            "ks1_reading_ta": "Q",
            "ks1_writing_ta": "EXS",
            "ks1_maths_ta": "EXS",
            "ks1_reading_test": "104",
        },
        "P5": {"ks1_reading_test": "96", "ks1_maths_test": "130"},  # 130 is off the 85-115 scale
    }
    table = ks1.ks1_pupils(results(rows), pupils("P1", "P2", "P3", "P4", "P5"), LIBRARY.for_year("ks1", 2026))
    assert column(table, "ks1_reading_expected") == {
        "P1": True,
        "P2": False,
        "P3": False,
        "P4": None,
        "P5": None,
    }
    assert column(table, "ks1_reading_higher") == {
        "P1": True,
        "P2": False,
        "P3": False,
        "P4": None,
        "P5": None,
    }
    assert column(table, "ks1_writing_higher")["P1"] is False
    assert column(table, "ks1_rwm_expected") == {"P1": True, "P2": False, "P3": False, "P4": None, "P5": None}
    assert column(table, "ks1_science_expected") == {
        "P1": True,
        "P2": False,
        "P3": False,
        "P4": None,
        "P5": None,
    }
    school = group_figures(table, ks1.MEASURES, group_columns=["all"]).row(0, named=True)
    assert (school["ks1_reading_expected"], school["ks1_reading_expected_pupils"]) == (
        pytest.approx(1 / 3),
        3,
    )
    assert (school["ks1_writing_expected"], school["ks1_writing_expected_pupils"]) == (0.5, 4)
    assert (school["ks1_reading_test_score"], school["ks1_reading_test_score_pupils"]) == (100.0, 2)
    assert school["ks1_maths_test_score"] is None


def test_ks2_tests_count_b_a_t_q_as_not_met_and_leave_out_m_and_l():
    rows = {
        "A": {
            "ks2_reading_test": "112",
            "ks2_maths_test": "100",
            "ks2_writing_ta": "GDS",
            "ks2_science_ta": "EXS",
        },
        "B": {"ks2_reading_test": "99", "ks2_maths_test": "B", "ks2_writing_ta": "EXS", "ks2_mtc": "25"},
        "C": {"ks2_reading_test": "A", "ks2_maths_test": "T", "ks2_writing_ta": "PK5", "ks2_mtc": "A"},
        "D": {"ks2_reading_test": "M", "ks2_maths_test": "Q", "ks2_writing_ta": "WTS", "ks2_mtc": "20"},
        "E": {"ks2_reading_test": "110", "ks2_maths_test": "111", "ks2_writing_ta": "L"},  # left
        "F": {},  # in Year 6 with no results at all
    }
    upns = ("A", "B", "C", "D", "E", "F")
    table = ks2.ks2_pupils(results(rows), pupils(*upns), LIBRARY.for_year("ks2", 2026))
    assert column(table, "ks2_reading_expected") == {
        "A": True,
        "B": False,
        "C": False,
        "D": None,
        "E": True,
        "F": None,
    }
    assert column(table, "ks2_reading_higher") == {
        "A": True,
        "B": False,
        "C": False,
        "D": None,
        "E": True,
        "F": None,
    }
    assert column(table, "ks2_maths_expected") == {
        "A": True,
        "B": False,
        "C": False,
        "D": False,
        "E": True,
        "F": None,
    }
    assert column(table, "ks2_writing_expected") == {
        "A": True,
        "B": True,
        "C": False,
        "D": False,
        "E": None,
        "F": None,
    }
    # Combined: E left (out); F was not assessed (counted, not met); A alone meets it, and the higher
    # standard too (reading 112, maths 100 is not 110+: no).
    assert column(table, "ks2_rwm_expected") == {
        "A": True,
        "B": False,
        "C": False,
        "D": False,
        "E": None,
        "F": False,
    }
    assert column(table, "ks2_rwm_higher")["A"] is False
    school = group_figures(table, ks2.MEASURES, group_columns=["all"]).row(0, named=True)
    assert (school["ks2_reading_expected"], school["ks2_reading_expected_pupils"]) == (0.5, 4)
    assert school["ks2_reading_score"] == pytest.approx((112 + 99 + 110) / 3)  # scaled scores only
    assert (school["ks2_rwm_expected"], school["ks2_rwm_expected_pupils"]) == (0.2, 5)
    assert school["ks2_mtc_score"] == 22.5


def test_ks2_high_scores_codes_without_a_score_and_the_other_subjects():
    rows = {
        "A": {
            "ks2_reading_test": "115",
            "ks2_maths_test": "110",
            "ks2_writing_ta": "GDS",
            "ks2_gps_test": "AS",
        },
        "B": {
            "ks2_reading_test": "L",
            "ks2_maths_test": "100",
            "ks2_writing_ta": "EXS",
            "ks2_gps_test": "NS",
        },
        "C": {"ks2_science_ta": "HNM", "ks2_gps_test": "109"},
    }
    table = ks2.ks2_pupils(results(rows), pupils("A", "B", "C"), LIBRARY.for_year("ks2", 2026))
    assert column(table, "ks2_rwm_higher") == {"A": True, "B": False, "C": False}
    assert column(table, "ks2_writing_higher") == {"A": True, "B": False, "C": None}
    # AS: the expected standard without a scaled score; NS not; neither is a high score.
    assert column(table, "ks2_gps_expected") == {"A": True, "B": False, "C": True}
    assert column(table, "ks2_gps_higher") == {"A": False, "B": False, "C": False}
    assert column(table, "ks2_gps_score") == {"A": None, "B": None, "C": 109.0}
    # L is not a test code: B's reading is not counted, and the combined measure counts it as not met.
    assert (
        column(table, "ks2_reading_expected")["B"] is None and column(table, "ks2_rwm_expected")["B"] is False
    )
    assert column(table, "ks2_science_expected") == {"A": None, "B": None, "C": False}
