"""`keystage measures ks4` on a results file as exam boards' data has them, worked by hand with DfE's
catalogue (2021 rules for 2026): two boards' French in one summer, a November early entry, AS maths
beside GCSE maths, a qualification off the year's list, BTEC grades valid and not, an unknown
qualification number, a lone English and the EBacc's science pillar. Every result not counted in
performance measures is reported, on the screen and in --not-counted-out; none is left out silently."""

from __future__ import annotations

from io import StringIO

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db

CORE = "{u},60142923,5,2026-05-20\n{u},60144476,5,2026-05-13\n{u},60146084,5,2026-05-21\n" + (
    "{u},60182179,5,2026-06-02\n{u},60181576,5,2026-06-05\n"
)  # both Englishes, maths, history and French: all EBacc pillars but science
RESULTS = (
    "upn,qan,grade,exam_date\n"
    # A: AQA French on 5 June, Edexcel French on 20 June: one series, the better (7) counts.
    "A,60181576,5,2026-06-05\nA,60187086,7,2026-06-20\n"
    # B: AQA maths in November of Year 11, OCR maths in the summer: the November 4 counts.
    "B,60146084,4,2025-11-07\nB,60146060,7,2026-06-10\n"
    # C: AS maths D (5.13 points) beside GCSE maths 6 in the same summer: the GCSE counts.
    "C,60146084,6,2026-06-10\nC,60311654,D,2026-05-20\n"
    # D: an old AS maths (off the 2021 list) sat a year earlier with an A: it does not knock out GCSE maths.
    "D,10034055,A,2025-06-09\nD,60146084,6,2026-06-10\n"
    # E: a BTEC Tech Award D2 (7 points), the same BTEC graded 7 (not one of its grades), an unknown number.
    "E,60303955,D2,2026-05-20\nE,60303955,7,2026-05-20\nE,12345678,5,2026-06-01\n"
    # F: English language alone, and maths.
    "F,60142923,6,2026-05-20\nF,60146084,5,2026-05-21\n"
    # G: two single sciences; H: three.
    + CORE.format(u="G")
    + "G,60187529,6,2026-05-15\nG,60187578,6,2026-05-19\n"
    + CORE.format(u="H")
    + "H,60187529,6,2026-05-15\nH,60187578,6,2026-05-19\nH,60187517,6,2026-06-08\n"
)
PUPILS = "upn,ks2_reading,ks2_maths\n" + "".join(f"{u},,\n" for u in "ABCDEFGH")


def run(*args: object) -> str:
    printed = StringIO()
    call_command("measures", "ks4", *[str(a) for a in args], stdout=printed)
    return printed.getvalue()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "results.csv").write_text(RESULTS, encoding="utf-8")
    (tmp_path / "pupils.csv").write_text(PUPILS, encoding="utf-8")
    return tmp_path / "results.csv", tmp_path / "pupils.csv"


def test_real_exam_board_results_give_dfes_figures_and_report_what_does_not_count(files, tmp_path):
    results, pupils = files
    out, not_counted = tmp_path / "pupils-out.csv", tmp_path / "not-counted.csv"
    printed = run(
        "--results", results, "--pupils", pupils, "--pupil-out", out, "--not-counted-out", not_counted
    )  # fmt: skip
    table = {r["upn"]: r for r in pl.read_csv(out, schema_overrides={"upn": pl.String}).iter_rows(named=True)}
    assert table["A"]["a8_ebacc"] == 7  # the better French of one summer
    assert table["B"]["a8_maths"] == 8  # the November early entry
    assert table["C"]["a8_maths"] == 12 and table["C"]["a8_open"] == 0  # GCSE maths 6; the AS discounted
    assert (
        table["D"]["a8_maths"] == 12 and table["D"]["a8"] == 12
    )  # the off-list AS neither counts nor knocks out
    assert table["E"]["a8_open"] == 7 and table["E"]["a8"] == 7  # the BTEC D2 counts
    assert (table["F"]["a8_english"], table["F"]["a8"]) == (6, 16)  # a lone English counts once in A8
    assert table["F"]["ebacc_aps"] == pytest.approx(5 / 6)  # ... and scores nothing in the EBacc APS
    assert not table["G"]["ebacc_entered"] and table["H"]["ebacc_entered"]
    assert table["G"]["ebacc_aps"] == table["H"]["ebacc_aps"] == pytest.approx(32 / 6)
    assert "Results not counted in performance measures in 2026: 3 results of 2 pupils:" in printed
    assert (
        "  1 result of 1 pupil: not on DfE's list of approved qualifications for 2026 (the 2021 list is the "
        "newest keystage has)." in printed
    )
    assert "  1 result of 1 pupil: not a grade of this qualification." in printed
    assert "  1 result of 1 pupil: not in the catalogue (no qualification has this number)." in printed
    assert f"Wrote 3 results not counted to {not_counted}." in printed
    listed = pl.read_csv(not_counted, schema_overrides={"qan": pl.String, "grade": pl.String})
    assert listed.columns == ["school", "upn", "qan", "title", "grade", "series", "reason"]
    assert listed.select("school", "upn", "qan", "grade", "series").rows() == [
        ("file", "D", "10034055", "A", "Summer 2025"),
        ("file", "E", "12345678", "5", "Summer 2026"),
        ("file", "E", "60303955", "7", "Summer 2026"),
    ]
    assert listed["title"].to_list() == [
        "AQA Level 3 Advanced Subsidiary GCE in Mathematics",
        None,
        "Pearson BTEC Level 1/Level 2 Tech Award in Health and Social Care",
    ]


def test_without_a_file_the_command_says_how_to_list_them_and_a_clean_file_says_none(files, tmp_path):
    results, pupils = files
    printed = run("--results", results, "--pupils", pupils)
    assert "(--not-counted-out FILE lists each of them.)" in printed
    clean = tmp_path / "clean.csv"
    clean.write_text("upn,qan,grade,series\nA,60146084,6,summer 2026\n", encoding="utf-8")
    assert "Results not counted in performance measures in 2026: none." in run(
        "--results", clean, "--pupils", pupils
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "A,60146084,6,2026-08-14",
            "results.csv, line 3: exam_date 2026-08-14 is in no exam series (November: October to December; "
            "January: January and February; March; summer: May and June)",
        ),
        ("A,60146084,6,14/04/2026", "results.csv, line 3: exam_date 2026-04-14 is in no exam series"),
    ],
)
def test_a_date_outside_every_series_is_refused_naming_its_line(tmp_path, row, message):
    results = tmp_path / "results.csv"
    results.write_text(f"upn,qan,grade,exam_date\nA,60142923,5,2026-06-01\n{row}\n", encoding="utf-8")
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("upn,ks2_reading,ks2_maths\nA,,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError) as error:
        run("--results", results, "--pupils", pupils, "--pupil-out", out)
    assert message in str(error.value)
    assert not out.exists()


def test_not_counted_out_is_for_ks4_only(tmp_path):
    with pytest.raises(CommandError, match="--not-counted-out: not for ks2, only for ks4"):
        call_command("measures", "ks2", "--year", "2026", "--not-counted-out", tmp_path / "n.csv")


@pytest.mark.parametrize("year", ["2024", "2026"])  # with Progress 8, and with KS1-based value added
def test_a_pupils_file_with_no_ethnicity_recorded_gives_every_other_group(tmp_path, year):
    """An MIS export often has the column but nothing in it: the ethnicity group is then empty, not
    a failure of the whole run."""
    results = tmp_path / "results.csv"
    results.write_text(
        f"upn,qan,grade,exam_date\nA,60146084,5,{year}-06-10\nA,60142923,6,{year}-05-20\n"
        f"B,60146084,4,{year}-06-10\n",
        encoding="utf-8",
    )
    pupils = tmp_path / "pupils.csv"
    pupils.write_text(
        "upn,school,sex,ks2_reading,ks2_maths,ethnicity_group\nA,100001,F,105,104,\nB,100001,M,100,99,\n",
        encoding="utf-8",
    )
    schools, subjects = tmp_path / "schools.csv", tmp_path / "subjects.csv"
    printed = run(
        "--results", results, "--pupils", pupils, "--school-out", schools, "--subject-out", subjects
    )  # fmt: skip
    assert "School 100001: 2 pupils, A8 " in printed
    for written in (schools, subjects):
        groups = set(pl.read_csv(written, schema_overrides={"school": pl.String})["group"].to_list())
        assert {"all", "sex"} <= groups and "ethnicity" not in groups
