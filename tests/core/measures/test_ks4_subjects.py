"""KS4 subject-level measures, worked by hand: entries after discounting, average points, grades, and
subject value added against the national mean of entrants with the same prior attainment, for schools,
groups, trusts and the nation.

The hand-worked cohort (PAG set by hand; D has no KS2):

    school S1 (trust T1): A (girl, PAG 10) maths 6, art 4 and art (OCR) 6 (one art entry: the 6)
                          B (boy, PAG 10)  maths 4
                          C (girl, PAG 20) maths 8, BTEC sport M2 (5.5 points)
                          D (boy, no PAG)  maths 3
    school S2 (no trust): E (girl, PAG 10) maths 5, art 3
                          F (boy, PAG 20)  maths 7, combined science 6-5 (5.5 points a slot)

Maths expected points: PAG 10 (A 6, B 4, E 5) 5; PAG 20 (C 8, F 7) 7.5. Value added: A +1, B -1,
E 0, C +0.5, F -0.5; their SD is sqrt((1 + 1 + 0 + .25 + .25) / 5) = sqrt(0.5).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest

from keystage.core.measures.ks4 import subjects
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from tests.core.measures.test_ks4_pupils import points, results  # noqa: F401 (points is a fixture)

DESCRIPTIONS = {"JA2": "Art and Design", "RB1": "Mathematics"}
COHORT = [
    ("A", "S1", "F", "T1", 10),
    ("B", "S1", "M", "T1", 10),
    ("C", "S1", "F", "T1", 20),
    ("D", "S1", "M", "T1", None),
    ("E", "S2", "F", None, 10),
    ("F", "S2", "M", None, 20),
]
RESULTS = [
    ("A", "MATHS", "6"),
    ("A", "ART", "4"),
    ("A", "ART_OCR", "6"),
    ("B", "MATHS", "4"),
    ("C", "MATHS", "8"),
    ("C", "BTEC", "M2"),
    ("D", "MATHS", "3"),
    ("E", "MATHS", "5"),
    ("E", "ART", "3"),
    ("F", "MATHS", "7"),
    ("F", "COMBSCI", "65"),
]


def subjects_of(points, rows=RESULTS, cohort=COHORT, descriptions=DESCRIPTIONS) -> SubjectMeasures:  # noqa: F811
    table = pl.DataFrame(
        [row[:4] for row in cohort], schema=["upn", "school", "sex", "trust"], orient="row"
    ).with_columns(pl.lit("L1").alias("la"))
    measures = pupil_measures(results(*rows), table, points)
    pags = dict((row[0], row[4]) for row in cohort)
    with_pag = measures.pupils.with_columns(
        pl.col("upn").replace_strict(pags, return_dtype=pl.Int64).alias("pag")
    )
    return SubjectMeasures(dataclasses.replace(measures, pupils=with_pag), descriptions)


def row(table: pl.DataFrame, owner: str, subject: str, group: str = "all", value: str = "all") -> dict:
    found = table.filter(
        (pl.col(table.columns[0]) == owner)
        & (pl.col("subject") == subject)
        & (pl.col("group") == group)
        & (pl.col("value") == value)
    )
    assert found.height == 1, found
    return found.row(0, named=True)


def test_a_schools_subject_figures_count_each_pupils_entry_once_after_discounting(points):  # noqa: F811
    table = subjects_of(points).table(group_columns=["all", "sex"])
    maths = row(table, "S1", "RB1")
    assert (maths["subject_name"], maths["cohort"], maths["entries"]) == ("Mathematics", 4, 4)
    assert maths["entry_share"] == 1 and maths["average_points"] == pytest.approx((6 + 4 + 8 + 3) / 4)
    assert json.loads(maths["grades"]) == [["8", 1], ["6", 1], ["4", 1], ["3", 1]]
    art = row(table, "S1", "JA2")  # A's two art results share a discount code: one entry, the 6
    assert (art["entries"], art["entry_share"], art["average_points"]) == (1, 0.25, 6)
    assert json.loads(art["grades"]) == [["6", 1]]
    # A subject DfE does not describe is named by its qualification's title.
    assert row(table, "S1", "XH1")["subject_name"] == "BTEC Tech Award in Sport"
    assert row(table, "S2", "RA1E")["average_points"] == 5.5  # combined science: its points a slot


def test_subject_value_added_compares_with_national_entrants_of_the_same_prior_attainment(points):  # noqa: F811
    measures = subjects_of(points)
    expected = {
        (r["subject"], r["pag"]): (r["entrants"], r["expected_points"])
        for r in measures.expectations.iter_rows(named=True)
    }
    assert expected[("RB1", 10)] == (3, 5.0) and expected[("RB1", 20)] == (2, 7.5)
    assert expected[("JA2", 10)] == (2, 4.5)
    table = measures.table(group_columns=["all", "sex"])
    maths = row(table, "S1", "RB1")
    # A +1, B -1, C +0.5 over three entrants with a PAG (D has none).
    assert maths["va_pupils"] == 3 and maths["va"] == pytest.approx(0.5 / 3)
    half = 1.96 * math.sqrt(0.5) / math.sqrt(3)
    assert maths["va_ci_low"] == pytest.approx(0.5 / 3 - half)
    assert maths["va_ci_high"] == pytest.approx(0.5 / 3 + half)
    assert maths["significance"] == "not significant"
    girls = row(table, "S1", "RB1", "sex", "female")  # A +1, C +0.5
    assert (girls["cohort"], girls["entries"], girls["va"]) == (2, 2, pytest.approx(0.75))
    assert row(table, "S2", "RB1")["va"] == pytest.approx(-0.25)  # E 0, F -0.5
    art = row(table, "S2", "JA2")  # E's 3 against PAG 10's 4.5
    assert art["va"] == pytest.approx(-1.5)
    # One entrant nationally: no spread to build an interval from.
    btec = row(table, "S1", "XH1")
    assert btec["va"] == 0 and btec["va_ci_low"] is None and btec["significance"] is None


def test_the_nation_and_trusts_are_aggregated_from_their_pupils(points):  # noqa: F811
    measures = subjects_of(points)
    national = measures.national(group_columns=["all", "sex"])
    assert national.columns[0] == "national"
    maths = row(national, "national", "RB1")
    assert (maths["cohort"], maths["entries"], maths["va_pupils"]) == (6, 6, 5)
    assert maths["average_points"] == pytest.approx(5.5) and maths["va"] == pytest.approx(0)
    assert row(national, "national", "RB1", "sex", "male")["va"] == pytest.approx((-1 - 0.5) / 2)
    trusts = measures.table("trust", group_columns=["all"])
    assert set(trusts.get_column("trust")) == {"T1"}  # S2's pupils have no trust and are left out
    assert row(trusts, "T1", "RB1")["entries"] == 4
    assert row(trusts, "T1", "RB1")["va"] == pytest.approx(row(measures.table(), "S1", "RB1")["va"])


def test_the_order_of_rows_never_changes_a_subject_figure(points):  # noqa: F811
    first = subjects_of(points)
    shuffled = subjects_of(points, rows=RESULTS[::-1], cohort=COHORT[::-1])
    for by in ("school", "trust"):
        assert first.table(by).equals(shuffled.table(by))
    assert first.national().equals(shuffled.national())
    assert first.expectations.equals(shuffled.expectations)


def test_without_prior_attainment_there_is_no_subject_value_added(points):  # noqa: F811
    cohort = [(upn, school, sex, trust, None) for upn, school, sex, trust, _pag in COHORT]
    table = subjects_of(points, cohort=cohort).table()
    assert table.height > 0 and table.get_column("va").is_null().all()
    assert (table.get_column("va_pupils") == 0).all()
    assert row(table, "S1", "RB1")["average_points"] == pytest.approx(5.25)


def test_results_that_do_not_count_make_no_entry(points):  # noqa: F811
    rows = [("A", "MATHS", "6"), ("A", "MATHS", "X"), ("A", "NOSUCH", "5")]
    table = subjects_of(points, rows=rows).table(group_columns=["all"])
    assert table.filter(pl.col("school") == "S1").get_column("subject").to_list() == ["RB1"]
    assert row(table, "S1", "RB1")["entries"] == 1
    empty = subjects_of(points, rows=[]).table()
    assert empty.height == 0 and "va" in empty.columns


def test_grades_are_counted_for_all_pupils_and_a_trust_is_a_property_of_the_school(points):  # noqa: F811
    measures = subjects_of(points)
    table = measures.table(group_columns=["all", "sex"])
    assert row(table, "S1", "RB1", "sex", "female")["grades"] is None
    assert json.loads(row(measures.national(), "national", "RB1")["grades"])[0] == ["8", 1]
    blank = [(*COHORT[0][:3], None, COHORT[0][4]), *COHORT[1:]]  # A's trust left blank: S1's
    assert subjects_of(points, cohort=blank).table("trust").equals(measures.table("trust"))
    cohort = [(*COHORT[0][:3], "T2", COHORT[0][4]), *COHORT[1:]]  # A alone in another trust
    with pytest.raises(ValueError, match="the pupils of school S1 name more than one trust"):
        subjects_of(points, cohort=cohort).table("trust")


def test_an_las_cohort_counts_pupils_of_schools_with_no_entries_in_the_subject(points):  # noqa: F811
    measures = subjects_of(points)
    btec = row(measures.table("la", group_columns=iter(["all", "sex"])), "L1", "XH1")  # only C, at S1
    assert (btec["cohort"], btec["entries"], btec["entry_share"]) == (6, 1, pytest.approx(1 / 6))
    boys = row(measures.table("la", group_columns=["sex"]), "L1", "RA1E", "sex", "male")  # F, at S2
    assert (boys["cohort"], boys["entries"]) == (3, 1)


def test_figures_are_the_same_when_cells_are_numbered_by_sorting_rather_than_counted_in_place(
    points,  # noqa: F811
    monkeypatch,
):
    # Many schools, subjects or group values make the range of cells too wide to count in an array
    # as long as the range: the cells present are then sorted and numbered. Forced here.
    counted = subjects_of(points)
    expected = [counted.table(), counted.table("trust"), counted.national()]
    monkeypatch.setattr(subjects, "_DENSE_PER_KEY", 0)
    monkeypatch.setattr(subjects, "_DENSE_MINIMUM", 0)
    numbered = subjects_of(points)
    for ours, theirs in zip(
        [numbered.table(), numbered.table("trust"), numbered.national()], expected, strict=True
    ):
        assert ours.equals(theirs)


def test_sums_of_numbers_too_large_for_floating_point_are_exact():
    # bincount adds in floating point: whole numbers whose sums pass 2**53 are added in two halves.
    values = np.array([2**53 - 1, 2, 2**60 + 1, -1, 7], dtype=np.int64)
    assert float(values[0]) + float(values[1]) != 2**53 + 1  # what floating point alone would give
    cells = subjects._Cells(np.array([0, 0, 1, 1, -1]), 2)  # the last is in no cell
    sums = cells.sums(subjects._Whole.of(values), most=2)
    assert sums.tolist() == [2**53 + 1, 2**60]
