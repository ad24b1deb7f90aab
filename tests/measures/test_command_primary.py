"""`keystage measures eyfsp|phonics` from an analyst's files: the figures per school and group with
national comparators, the pupil table, and every mistake as a message."""

from __future__ import annotations

from io import StringIO

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.core.reference.frameworks import FrameworkLibrary

ELGS = [a.code for a in FrameworkLibrary.from_directory().for_year("eyfsp", 2026).assessments]


def run(*args: object, suppress_below: int = 0) -> str:
    """The command's output; these hand-worked schools are tiny, so nothing is suppressed unless asked."""
    printed = StringIO()
    call_command("measures", *[str(a) for a in args], "--suppress-below", str(suppress_below), stdout=printed)
    return printed.getvalue()


@pytest.fixture
def files(tmp_path):
    """Reception: R1 and R2 at S1 (R2 emerging in writing), R3 at S2 exempt; Year 1: Y1 at S1 scores
    33, Y2 at S2 absent; a Year 6 pupil who is left out."""
    rows = ["upn,assessment,result"]
    for upn, writing in (("R1", "2"), ("R2", "1"), ("R3", "A")):
        rows += [
            f"{upn},{code},{writing if code == 'elg_writing' else ('A' if writing == 'A' else '2')}"
            for code in ELGS
        ]
    rows += ["Y1,phonics_mark,33", "Y2,phonics_mark,A"]
    results = tmp_path / "results.csv"
    results.write_text("\n".join(rows) + "\n", encoding="utf-8")
    pupils = tmp_path / "pupils.csv"
    pupils.write_text(
        "upn,nc_year,school,sex\nR1,R,S1,F\nR2,R,S1,M\nR3,0,S2,F\nY1,1,S1,F\nY2,1,S2,M\nX6,6,S1,F\n",
        encoding="utf-8",
    )
    return results, pupils


def test_eyfsp_from_files(files, tmp_path):
    results, pupils = files
    out, pupil_out = tmp_path / "schools.csv", tmp_path / "pupils.parquet"
    printed = run(
        "eyfsp", "--results", results, "--pupils", pupils, "--school-out", out, "--pupil-out", pupil_out
    )
    assert (
        "3 pupils; the eyfsp framework from 2021/22" in printed
        and "3 pupils not in Reception left out" in printed
    )
    assert "School S1: 2 pupils, good level of development 50% of 2 (all pupils given 50%)." in printed
    assert "School S2: 1 pupil, good level of development - of 0" in printed  # R3 is exempt
    schools = pl.read_csv(out)
    s1 = schools.filter((pl.col("school") == "S1") & (pl.col("group") == "all")).row(0, named=True)
    assert (s1["gld"], s1["elgs_expected"], s1["elg_writing_expected"]) == (0.5, 16.5, 0.5)
    assert s1["national_gld"] == 0.5 and s1["national_gld"] == s1["gld"]  # S2 adds no counted child
    assert set(pl.read_parquet(pupil_out).get_column("upn")) == {"R1", "R2", "R3"}


def test_phonics_from_files(files, tmp_path):
    results, pupils = files
    printed = run("phonics", "--results", results, "--pupils", pupils)
    assert "School S1: 1 pupil, Year 1 met 100% of 1 (all pupils given 50%)." in printed
    assert "School S2: 1 pupil, Year 1 met 0% of 1" in printed  # Y2 was absent: counted, not met
    assert "pupils not in Year 1 or Year 2 left out" in printed


def test_primary_mistakes_are_messages(files, tmp_path):
    results, pupils = files
    with pytest.raises(CommandError, match="--estimates: not for eyfsp"):
        run("eyfsp", "--results", results, "--pupils", pupils, "--estimates", "platform")
    with pytest.raises(CommandError, match="give both --results and --pupils \\(--pupils is missing\\)"):
        run("phonics", "--results", results)
    with pytest.raises(CommandError, match="No eyfsp framework covers 2018/19"):
        run("eyfsp", "--results", results, "--pupils", pupils, "--framework-year", "2019")
    bad = tmp_path / "bad.csv"
    bad.write_text("upn,nc_year\nR1,Reception class\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 2: nc_year .Reception class. is not R \(Reception\)"):
        run("eyfsp", "--results", results, "--pupils", bad)
    with pytest.raises(CommandError, match="--framework-year is for the primary key stages"):
        run("ks4", "--results", results, "--pupils", pupils, "--framework-year", "2026")


def test_ks2_from_files(tmp_path):
    results = tmp_path / "results.csv"
    results.write_text(
        "upn,assessment,result\n"
        "K1,ks2_reading_test,105\nK1,ks2_maths_test,101\nK1,ks2_writing_ta,EXS\n"
        "K2,ks2_reading_test,98\nK2,ks2_maths_test,A\nK2,ks2_writing_ta,EXS\n",
        encoding="utf-8",
    )
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("upn,nc_year,school\nK1,6,S1\nK2,6,S1\n", encoding="utf-8")
    out = tmp_path / "schools.json"
    printed = run("ks2", "--results", results, "--pupils", pupils, "--school-out", out)
    assert "School S1: 2 pupils, reading, writing and maths expected 50% of 2" in printed
    school = pl.read_json(out).filter(pl.col("group") == "all").row(0, named=True)
    assert (school["ks2_maths_expected"], school["ks2_reading_score"]) == (0.5, 101.5)


def test_results_the_figures_cannot_use_are_named_not_dropped_silently(files, tmp_path):
    results, _pupils = files
    extra = results.read_text(encoding="utf-8") + (
        "Y1,phonics_score,30\n"  # an assessment no framework knows
        "Z9,phonics_mark,35\n"  # a pupil not in the pupils file
        "Y2,phonics_mark,35\n"  # a second result for Y2 (the first, A, counts)
    )
    results.write_text(extra, encoding="utf-8")
    clashing = tmp_path / "pupils-with-marks.csv"  # a phonics_mark column, empty: ignored
    clashing.write_text("upn,nc_year,school,phonics_mark\nY1,1,S1,\nY2,1,S2,\n", encoding="utf-8")
    printed = run("phonics", "--results", results, "--pupils", clashing)
    assert "1 results of assessments no framework knows left out (phonics_score)." in printed
    assert "1 phonics results of pupils not in the pupils table left out." in printed
    assert "1 pupil with two results for one assessment: the first given counts." in printed
    assert "The pupils' columns phonics_mark were ignored: results come from the results." in printed
    assert "School S2: 1 pupil, Year 1 met 0% of 1" in printed  # Y2's first result, A, counts


def test_ks1_from_files_and_eyfsp_results_written_as_decimals(tmp_path):
    results = tmp_path / "results.parquet"
    pl.DataFrame(
        {
            "upn": ["K1", "K1", "K1"],
            "assessment": ["ks1_reading_ta", "ks1_writing_ta", "ks1_maths_ta"],
            "result": ["GDS", "EXS", "WTS"],
        }
    ).vstack(
        pl.DataFrame({"upn": ["R1"] * len(ELGS), "assessment": ELGS, "result": ["2.0"] * len(ELGS)})
    ).write_parquet(results)
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("upn,nc_year,school\nK1,2,S1\nR1,R,S1\n", encoding="utf-8")
    printed = run("ks1", "--results", results, "--pupils", pupils)
    assert "School S1: 1 pupil, reading, writing and maths expected 0% of 1" in printed  # maths WTS
    printed = run("eyfsp", "--results", results, "--pupils", pupils)
    assert "School S1: 1 pupil, good level of development 100% of 1" in printed  # "2.0" is 2


def test_small_figures_are_shown_as_supp_by_default_and_left_empty_in_the_files(files, tmp_path):
    results, pupils = files
    schools = tmp_path / "schools.csv"
    printed = run(
        "phonics", "--results", results, "--pupils", pupils, "--school-out", schools, suppress_below=6
    )
    assert "School S1: 1 pupil, Year 1 met SUPP of 1 (all pupils given 50%)." in printed
    assert "SUPP: fewer than 6 pupils; such figures are empty in the files." in printed
    table = pl.read_csv(schools)
    everyone = table.filter((pl.col("school") == "S1") & (pl.col("group") == "all")).row(0, named=True)
    assert everyone["phonics_y1_met"] is None and everyone["phonics_y1_met_suppressed"] is True
    assert everyone["phonics_y1_met_pupils"] == 1  # how many it counts is still said
    with pytest.raises(CommandError, match="--suppress-below: give a number of pupils"):
        run("phonics", "--results", results, "--pupils", pupils, suppress_below=-1)
