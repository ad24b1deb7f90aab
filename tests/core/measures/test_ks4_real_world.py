"""KS4 measures on real exam-board data, worked by hand with DfE's catalogue as keystage ships it
(2021 rules for 2026 results): exam series, the first series and the best grade in it, AS beside
GCSE, qualifications off the year's list, grades that are not their qualification's, unknown
qualification numbers, and the EBacc's English and science rules; each figure and the explanation a
person reads."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from keystage.core.measures.ks4.explanations import NOT_COUNTED_COLUMNS, not_counted, not_counted_summary
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.series import parse_series, series_of, summer
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from tests.core.reference.test_ks4_catalogue import DFE_2019

# DfE's qualification numbers (2019 points file), and their 2021 discount codes.
AQA_FRENCH, EDEXCEL_FRENCH = "60181576", "60187086"  # FKF
AQA_MATHS, OCR_MATHS = "60146084", "60146060"  # RB1
AQA_AS_MATHS = "60311654"  # RB1 in 2021: on the list
OLD_AS_MATHS = "10034055"  # RB1 until 2019, off the 2021 list
ENGLISH_LANGUAGE, ENGLISH_LITERATURE = "60142923", "60144476"
BIOLOGY, CHEMISTRY, PHYSICS = "60187529", "60187578", "60187517"
HISTORY = "60182179"
BTEC_HEALTH = "60303955"  # BTEC Tech Award: P1 ... *2
SUMMER_2026 = date(2026, 6, 10)


@pytest.fixture(scope="module")
def catalogue():
    return import_dfe_2019_folder(DFE_2019)


@pytest.fixture(scope="module")
def points(catalogue):
    return points_table(catalogue, 2026)


def measure(points, *rows: tuple, pupils: list[str] | None = None, school: str = "8004001"):
    """(upn, qan, grade, exam date or None)."""
    results = pl.DataFrame(
        rows,
        schema={"upn": pl.String, "qan": pl.String, "grade": pl.String, "exam_date": pl.Date},
        orient="row",
    )
    upns = pupils or sorted({r[0] for r in rows})
    return pupil_measures(results, pl.DataFrame({"upn": upns, "school": [school] * len(upns)}), points)


def one(measures, upn: str = "A") -> dict:
    return measures.pupils.filter(pl.col("upn") == upn).row(0, named=True)


def test_series_follow_dfes_exam_windows_by_academic_year():
    assert series_of(date(2026, 6, 5)) == series_of(date(2026, 6, 20)) == series_of(date(2026, 5, 11))
    assert series_of(date(2026, 6, 5)).label == "Summer 2026"
    assert series_of(date(2025, 11, 5)).label == "November 2025"
    assert series_of(date(2025, 11, 5)).academic_year == 2026  # November belongs to the next summer
    assert series_of(date(2026, 1, 12)).label == "January 2026"
    assert series_of(date(2026, 3, 2)).label == "March 2026"
    assert [series_of(date(2026, m, 14)) for m in (4, 7, 8, 9)] == [None] * 4
    in_order = [date(2025, 6, 10), date(2025, 11, 5), date(2026, 1, 12), date(2026, 3, 2), date(2026, 6, 1)]
    keys = [series_of(d) for d in in_order]
    assert keys == sorted(keys) and len(set(keys)) == 5
    for text in ("summer 2026", "Summer 2026", "June 2026", "2026 summer", "may-2026", "20264"):
        assert parse_series(text) == summer(2026), text
    assert parse_series("Nov 2025") == parse_series("November 2025") == series_of(date(2025, 11, 5))
    assert parse_series("Jan 2026").label == "January 2026"
    for text in ("2026", "summer", "August 2026", "2026S", "summer 2026 2027", ""):
        assert parse_series(text) is None, text


def test_two_boards_french_on_different_days_of_one_summer_are_one_series_and_the_best_counts(points):
    m = measure(
        points, ("A", AQA_FRENCH, "5", date(2026, 6, 5)), ("A", EDEXCEL_FRENCH, "7", date(2026, 6, 20))
    )
    assert one(m)["a8_ebacc"] == 7 and one(m)["ebacc_slots_filled"] == 1
    assert m.explain("A")[:2] == [
        "Pearson Edexcel Level 1/Level 2 GCSE (9-1) in French (60187086) grade 7: 7 points in an EBacc slot.",
        "AQA Level 1/Level 2 GCSE (9-1) in French (60181576) grade 5: discounted: Pearson Edexcel Level "
        "1/Level 2 GCSE (9-1) in French (60187086) grade 7 in the same series (Summer 2026) counts (best "
        "grade in the first series).",
    ]


def test_a_november_early_entry_counts_and_the_summer_resit_is_a_later_entry(points):
    m = measure(points, ("A", AQA_MATHS, "4", date(2025, 11, 7)), ("A", OCR_MATHS, "7", SUMMER_2026))
    assert one(m)["a8_maths"] == 8 and not one(m)["em_5plus"] and one(m)["a8_open"] == 0
    assert (
        "OCR Level 1/Level 2 GCSE (9-1) in Mathematics (60146060) grade 7: a later entry (Summer 2026); the "
        "first series, November 2025, counts: AQA Level 1/Level 2 GCSE (9-1) in Mathematics (60146084) "
        "grade 4." in m.explain("A")
    )


def test_an_as_level_shares_its_gcses_discount_code_and_the_better_of_one_series_counts(points, catalogue):
    # The catalogue gives AS and GCSE maths one code (RB1), so they discount each other.
    assert catalogue.by_qan(AQA_AS_MATHS).discount_code(2021) == catalogue.by_qan(AQA_MATHS).discount_code(
        2021
    )
    m = measure(points, ("A", AQA_MATHS, "6", SUMMER_2026), ("A", AQA_AS_MATHS, "D", date(2026, 5, 20)))
    assert one(m)["a8_maths"] == 12 and one(m)["a8_open"] == 0  # AS D is 5.13 points: GCSE 6 counts
    assert any(
        line.startswith("AQA Level 3 Advanced Subsidiary GCE in Mathematics (60311654) grade D: discounted: ")
        for line in m.explain("A")
    )
    # Sat a year earlier, the AS is the first entry: it counts (C: 7 points), the GCSE does not.
    m = measure(points, ("A", AQA_MATHS, "6", SUMMER_2026), ("A", AQA_AS_MATHS, "C", date(2025, 6, 9)))
    assert one(m)["a8_maths"] == 14
    assert any(
        "grade 6: a later entry (Summer 2026); the first series, Summer 2025" in x for x in m.explain("A")
    )


def test_a_qualification_off_the_years_list_scores_nothing_and_discounts_nothing(points):
    # The old AS maths (RB1 until 2019) sat first, with a better grade, beside GCSE maths.
    m = measure(points, ("A", OLD_AS_MATHS, "A", date(2025, 6, 9)), ("A", AQA_MATHS, "6", SUMMER_2026))
    p = one(m)
    assert (p["a8"], p["a8_maths"], p["a8_open"]) == (12, 12, 0)
    lines = m.explain("A")
    assert lines[0] == (
        "AQA Level 1/Level 2 GCSE (9-1) in Mathematics (60146084) grade 6: 6 points, counted twice in maths."
    )
    assert lines[1] == (
        "AQA Level 3 Advanced Subsidiary GCE in Mathematics (10034055) grade A: not counted in "
        "performance measures in 2026: not on DfE's list of approved qualifications for 2026 (the 2021 "
        "list is the newest keystage has)."
    )
    table = not_counted(m)
    assert table.columns == list(NOT_COUNTED_COLUMNS)
    assert table.rows() == [
        (
            "8004001",
            "A",
            OLD_AS_MATHS,
            "AQA Level 3 Advanced Subsidiary GCE in Mathematics",
            "A",
            "Summer 2025",
            "not on DfE's list of approved qualifications for 2026 (the 2021 list is the newest keystage "
            "has)",
        )
    ]


def test_off_the_list_by_the_year_of_the_rules(catalogue):
    """145 of the 2019 points file's 504 qualifications are off the 2020 list, 161 off the 2021 list
    (16 more were dropped in 2021): AS levels, VRQs and the like. GCSEs such as combined science stay."""
    for year, off in ((2019, 0), (2020, 145), (2021, 161), (2026, 161)):
        table = points_table(catalogue, year).filter(pl.col("grade") != "U")
        listed = table.group_by("qan").agg(pl.col("on_list").first())
        assert listed.filter(~pl.col("on_list")).height == off, year
        assert set(table.get_column("list_year")) == {min(year, 2021)}
    table = points_table(catalogue, 2026)
    assert table.filter(pl.col("qan") == "6018758X")["on_list"].all()  # AQA combined science
    assert not table.filter(pl.col("qan") == OLD_AS_MATHS)["on_list"].any()


def test_a_btec_with_a_valid_and_an_invalid_grade_and_an_unknown_qualification_number(points):
    m = measure(
        points,
        ("A", BTEC_HEALTH, "D2", SUMMER_2026),
        ("B", BTEC_HEALTH, "7", SUMMER_2026),
        ("B", "12345678", "5", SUMMER_2026),
    )
    assert one(m, "A")["a8_open"] == 7 and one(m, "B")["a8"] == 0
    assert m.explain("A")[0] == (
        "Pearson BTEC Level 1/Level 2 Tech Award in Health and Social Care (60303955) grade D2: 7 points "
        "in an open slot."
    )
    assert m.explain("B")[:2] == [
        "12345678 grade 5: not counted in performance measures in 2026: not in the catalogue (no "
        "qualification has this number).",
        "Pearson BTEC Level 1/Level 2 Tech Award in Health and Social Care (60303955) grade 7: not counted "
        "in performance measures in 2026: not a grade of this qualification (its grades: U, P1, M1, D1, "
        "P2, M2, D2, *2).",
    ]
    summary = not_counted_summary(m)
    assert summary.columns == ["school", "reason", "results", "pupils"]
    assert summary.rows() == [
        ("8004001", "not a grade of this qualification", 1, 1),
        ("8004001", "not in the catalogue (no qualification has this number)", 1, 1),
    ]
    assert not_counted_summary(m, by=None).columns == ["reason", "results", "pupils"]


def test_a_lone_english_scores_nothing_in_the_ebacc_aps_but_counts_once_in_a8(points):
    m = measure(points, ("A", ENGLISH_LANGUAGE, "6", SUMMER_2026), ("A", AQA_MATHS, "5", SUMMER_2026))
    p = one(m)
    assert (p["a8_english"], p["a8"]) == (6, 16)
    assert p["ebacc_aps"] == pytest.approx(5 / 6)  # maths alone: the English pillar scores 0
    both = measure(
        points,
        ("A", ENGLISH_LANGUAGE, "6", SUMMER_2026),
        ("A", ENGLISH_LITERATURE, "4", SUMMER_2026),
        ("A", AQA_MATHS, "5", SUMMER_2026),
    )
    assert one(both)["a8_english"] == 12 and one(both)["ebacc_aps"] == pytest.approx((6 + 5) / 6)


def _ebacc_pupil(*sciences: str) -> list[tuple]:
    core = [
        (ENGLISH_LANGUAGE, "5"),
        (ENGLISH_LITERATURE, "5"),
        (AQA_MATHS, "5"),
        (HISTORY, "5"),
        (AQA_FRENCH, "5"),
    ]
    return [("A", qan, grade, SUMMER_2026) for qan, grade in [*core, *((s, "6") for s in sciences)]]


def test_ebacc_entry_needs_combined_science_or_three_single_sciences(points):
    two = one(measure(points, *_ebacc_pupil(BIOLOGY, CHEMISTRY)))
    three = one(measure(points, *_ebacc_pupil(BIOLOGY, CHEMISTRY, PHYSICS)))
    combined = one(measure(points, *_ebacc_pupil("6018758X")[:-1], ("A", "6018758X", "66", SUMMER_2026)))
    assert not two["ebacc_entered"] and three["ebacc_entered"] and combined["ebacc_entered"]
    # Either way the APS takes the best two science grades.
    assert two["ebacc_aps"] == three["ebacc_aps"] == pytest.approx((5 + 5 + 6 + 6 + 5 + 5) / 6)
    assert combined["ebacc_aps"] == pytest.approx((5 + 5 + 6 + 6 + 5 + 5) / 6)


def test_a_result_with_neither_date_nor_series_is_in_the_summer_of_the_results_year(points):
    m = measure(points, ("A", AQA_MATHS, "4", None), ("A", OCR_MATHS, "6", date(2026, 6, 15)))
    # Unknown is the summer of 2026, the same series as the OCR entry: the better grade counts.
    assert one(m)["a8_maths"] == 12 and m.year == 2026
    assert any("grade 4: discounted: " in line and "(Summer 2026)" in line for line in m.explain("A"))


def test_a_given_series_counts_as_a_date_in_it(points):
    results = pl.DataFrame(
        {
            "upn": ["A", "A"],
            "qan": [AQA_MATHS, OCR_MATHS],
            "grade": ["4", "7"],
            "series": [parse_series("Nov 2025").key, parse_series("summer 2026").key],
        }
    )
    m = pupil_measures(results, pl.DataFrame({"upn": ["A"]}), points)
    assert one(m)["a8_maths"] == 8 and m.year == 2026
    assert "exam_date" in m.results.columns and m.results["series_label"].to_list() == [
        "November 2025",
        "Summer 2026",
    ]
