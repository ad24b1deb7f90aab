"""`keystage measures ks4` from an analyst's files: a hand-made results and pupils pair, worked on paper
with DfE's 2019 points and the 2024 provisional estimates; the outputs in each format; every mistake
reported as a message, never a traceback."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keystage.core.measures.ks4.pupils import PUPIL_COLUMNS
from tests.core.reference.test_ks4_catalogue import DFE_2019

RESULTS = """upn,qan,grade,exam_date
A1,60146084,7,2024-06-01
A1,60142923,6,2024-06-01
A1,60144476,8,2024-06-01
A1,6018758X,65,2024-06-01
A1,60182179,5,2024-06-01
A1,60181576,4,2024-06-01
A1,60180882,6,2024-06-01
A2,60146084,3,2024-06-01
A2,60142923,4,2024-06-01
A3,60146084,7,2024-06-01
A3,60146084,5,2023-11-01
A3,60142923,5,2024-06-01
X9,60146084,5,2024-06-01
"""
PUPILS = """upn,ks2_reading,ks2_maths,sex,disadvantaged
A1,105,108,F,no
A2,79,79,M,yes
A3,,,M,no
A4,79,79,F,yes
"""
REQUIRED = [
    "upn",
    "a8",
    "a8_english",
    "a8_maths",
    "a8_ebacc",
    "a8_open",
    "ebacc_entered",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
    "ks2_pa",
    "pag",
    "p8",
    "p8_english",
    "p8_maths",
    "p8_ebacc",
    "p8_open",
    "p8_adjusted",
]

# The catalogue and estimates are the platform's: loaded into its database.
pytestmark = pytest.mark.django_db


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    results = tmp_path / "results.csv"
    pupils = tmp_path / "pupils.csv"
    results.write_text(RESULTS, encoding="utf-8")
    pupils.write_text(PUPILS, encoding="utf-8")
    return results, pupils


def run(*args: object) -> str:
    printed = StringIO()
    call_command("measures", "ks4", *[str(a) for a in args], stdout=printed)
    return printed.getvalue()


def by_upn(table: pl.DataFrame) -> dict[str, dict]:
    return {row["upn"]: row for row in table.iter_rows(named=True)}


def test_pupil_figures_from_files_match_the_hand_worked_pupils(files, tmp_path):
    results, pupils = files
    out = tmp_path / "pupils-out.csv"
    printed = run(
        "--results",
        results,
        "--pupils",
        pupils,
        "--catalogue",
        DFE_2019,
        "--estimates",
        "dfe-2024-provisional",
        "--no-floors",
        "--pupil-out",
        out,
    )
    table = pl.read_csv(out, schema_overrides={"upn": pl.String})
    assert table.columns[: len(PUPIL_COLUMNS)] == PUPIL_COLUMNS
    assert set(REQUIRED) <= set(table.columns) and table.height == 4
    assert {"sex", "disadvantaged", "school", "estimates"} <= set(table.columns)
    pupil = by_upn(table)
    # A1: maths 7 x2 = 14; English literature 8 x2 (both taken) = 16; EBacc: combined science 65 (5.5 and
    # 5.5) and history 5 = 16; open: English language 6, art 6, French 4 = 16. A8 62.
    a1 = pupil["A1"]
    assert (a1["a8"], a1["a8_maths"], a1["a8_english"], a1["a8_ebacc"], a1["a8_open"]) == (62, 14, 16, 16, 16)
    assert a1["ebacc_entered"] and a1["em_5plus"] and a1["ks2_pa"] == 106.5
    # A2: maths 3 x2, English language 4 once: A8 10, below 4 in maths.
    assert (pupil["A2"]["a8"], pupil["A2"]["em_4plus"]) == (10, False)
    # A3: maths 5 in November counts, not the later 7 in June (first entry); English language 5
    # once: A8 15, and no KS2, so no P8. A4 took nothing: A8 0 and, with KS2 79 (group 1), P8 -1.60 as
    # DfE's ready reckoner gives with the 2024 provisional estimates.
    assert pupil["A3"]["p8"] is None and pupil["A3"]["a8"] == 15 and pupil["A3"]["a8_maths"] == 10
    assert pupil["A4"]["a8"] == 0 and pupil["A4"]["pag"] == 1 and round(pupil["A4"]["p8"], 2) == -1.60
    assert set(table.get_column("estimates")) == {"DfE 2024 provisional estimates"}
    assert set(table.get_column("school")) == {"file"}
    assert "Note: 1 result of 1 pupil not in pupils.csv left out (e.g. X9)." in printed
    assert "School file: 4 pupils, A8 21.75" in printed
    assert f"Wrote 4 pupils to {out}." in printed


def test_school_figures_per_group_with_counts_cis_and_comparators(files, tmp_path):
    results, pupils = files
    out = tmp_path / "schools.parquet"
    run("--results", results, "--pupils", pupils, "--estimates", "dfe-2024-provisional", "--school-out", out)
    table = pl.read_parquet(out)
    rows = {(r["group"], r["value"]): r for r in table.iter_rows(named=True)}
    assert set(rows) == {
        ("all", "all"),
        ("sex", "female"),
        ("sex", "male"),
        ("disadvantaged", "disadvantaged"),
        ("disadvantaged", "other"),
        ("prior_attainment", "low"),
        ("prior_attainment", "middle"),
    }
    everyone = rows[("all", "all")]
    assert (everyone["cohort"], everyone["p8_pupils"], everyone["a8"]) == (4, 3, 21.75)
    assert everyone["p8_ci_low"] < everyone["p8"] < everyone["p8_ci_high"]
    assert everyone["banding"] == "average" and everyone["rank"] == 1 and everyone["percentile"] is not None
    assert rows[("sex", "female")]["cohort"] == 2 and rows[("disadvantaged", "disadvantaged")]["cohort"] == 2
    # Disadvantaged pupils are compared with other pupils nationally by default.
    assert rows[("disadvantaged", "disadvantaged")]["comparator_value"] == "other"
    assert set(table.get_column("estimates")) == {"DfE 2024 provisional estimates"}


def test_a_school_column_gives_figures_per_school_and_json_output(tmp_path, files):
    results, _ = files
    pupils = tmp_path / "pupils.csv"
    pupils.write_text(
        "upn,ks2_reading,ks2_maths,school\nA1,105,108,8004001\nA2,79,79,8004001\nA3,100,100,8002002\n",
        encoding="utf-8",
    )
    out = tmp_path / "schools.json"
    pupil_out = tmp_path / "pupils.json"
    printed = run("--results", results, "--pupils", pupils, "--school-out", out, "--pupil-out", pupil_out)
    rows = json.loads(out.read_text())
    everyone = {r["school"]: r for r in rows if r["group"] == "all"}
    assert set(everyone) == {"8004001", "8002002"}
    assert everyone["8004001"]["cohort"] == 2 and everyone["8002002"]["a8"] == pytest.approx(15)
    assert {r["school"] for r in json.loads(pupil_out.read_text())} == {"8004001", "8002002"}
    assert "School 8004001: 2 pupils, A8 36.00" in printed


def test_platform_estimates_are_the_national_means_of_the_pupils_given(tmp_path):
    results = tmp_path / "results.csv"
    pupils = tmp_path / "pupils.csv"
    grades = {"B1": 4, "B2": 6, "B3": 5, "B4": 7}  # in maths, English, history and art alike
    qans = ["60146084", "60142923", "60182179", "60180882"]
    results.write_text(
        "upn,qan,grade,exam_date\n"
        + "".join(f"{upn},{qan},{grade},2024-06-01\n" for upn, grade in grades.items() for qan in qans)
    )
    pupils.write_text("upn,ks2_reading,ks2_maths\nB1,100,100\nB2,100,100\nB3,110,110\nB4,110,110\n")
    out = tmp_path / "p.csv"
    printed = run("--results", results, "--pupils", pupils, "--estimates", "platform", "--pupil-out", out)
    assert "Platform 2024 national estimates (4 pupils)" in printed
    table = pl.read_csv(out)
    assert dict(table.select("upn", "a8").iter_rows()) == {"B1": 20, "B2": 30, "B3": 25, "B4": 35}
    # Each group's estimate is its pupils' mean A8: 25 for KS2 100, 30 for KS2 110.
    p8 = dict(table.select("upn", "p8").iter_rows())
    assert p8 == pytest.approx({"B1": -0.5, "B2": 0.5, "B3": -0.5, "B4": 0.5})
    assert "School file: 4 pupils, A8 27.50, P8 0.00" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give --results and --pupils to compute from files, or --year"),
        (["--results", "{results}"], "give both --results and --pupils (--pupils is missing)"),
        (["--results", "{results}", "--pupils", "{pupils}", "--year", "2026"], "not both"),
        (
            ["--results", "{results}", "--pupils", "{pupils}", "--estimates", "dfe-2031"],
            "No estimates called “dfe-2031”",
        ),
        (
            ["--results", "{results}", "--pupils", "{pupils}", "--points-year", "2010"],
            "no points for 2010 or before",
        ),
        (["--results", "{tmp}/missing.csv", "--pupils", "{pupils}"], "missing.csv: file not found"),
        (
            ["--results", "{pupils}", "--pupils", "{pupils}"],
            "pupils.csv: the results file needs the column(s) qan",
        ),
        (
            ["--results", "{results}", "--pupils", "{pupils}", "--pupil-out", "{tmp}/out.xlsx"],
            "--pupil-out: out.xlsx",
        ),
        (["--results", "{results}", "--pupils", "{pupils}", "--school-out", "{tmp}/no/s.csv"], "the folder"),
        (["--results", "{results}", "--pupils", "{pupils}", "--catalogue", "{tmp}/none"], "does not exist"),
        (["--school", "8004001"], "--school needs --year"),
    ],
)
def test_mistakes_are_explained(files, tmp_path, args, message):
    results, pupils = files
    filled = [a.format(results=results, pupils=pupils, tmp=tmp_path) for a in args]
    with pytest.raises(CommandError) as error:
        run(*filled)
    assert message in str(error.value)
    assert not list(tmp_path.glob("out.*"))


def test_a_whole_roster_file_keeps_year_11_and_reads_dfe_number_as_the_school(files, tmp_path):
    results, _pupils = files
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "dfe_number,upn,nc_year,ks2_reading,ks2_maths\n8004001,A1,11,105,108\n8004001,A2,11,79,79\n"
        "8004001,P1,6,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    printed = run(
        "--results",
        results,
        "--pupils",
        roster,
        "--catalogue",
        DFE_2019,
        "--estimates",
        "dfe-2024-provisional",
        "--pupil-out",
        out,
    )
    assert "Note: 1 pupils not in Year 11 left out" in printed
    table = pl.read_csv(out, schema_overrides={"upn": pl.String, "school": pl.String})
    assert sorted(table.get_column("upn")) == ["A1", "A2"] and set(table.get_column("school")) == {"8004001"}
    assert not re.search(r"\d\.\d{7,}", out.read_text())  # figures written to six decimals at most


def test_the_estimates_each_year_uses_are_chosen_by_setting(settings):
    from keystage.measures import reference_choice

    assert reference_choice.default_estimates(2024) == "dfe-2024-provisional"  # DfE's, where published
    assert reference_choice.default_estimates(2026) == "platform"
    settings.KEYSTAGE_KS4_ESTIMATES = {2026: "dfe-2024-provisional", 2024: "platform"}
    assert reference_choice.default_estimates(2026) == "dfe-2024-provisional"
    assert reference_choice.default_estimates(2024) == "platform"


def test_trust_la_and_subject_figures_from_files(files, tmp_path):
    results, _pupils = files
    pupils = tmp_path / "pupils-with-trusts.csv"
    pupils.write_text(
        "upn,ks2_reading,ks2_maths,school,trust,la\n"
        "A1,105,108,S1,T1,800\n"
        "A2,79,79,S1,T1,800\n"
        "A3,,,S2,,800\n"
        "A4,79,79,S2,,800\n",
        encoding="utf-8",
    )
    aggregates, subjects = tmp_path / "aggregates.csv", tmp_path / "subjects.parquet"
    printed = run(
        *("--results", results, "--pupils", pupils, "--estimates", "dfe-2024-provisional"),
        *("--aggregate-out", aggregates, "--subject-out", subjects),
    )
    assert "Subjects: 7 subjects, 11 entries in all." in printed  # A1 7, A2 2, A3 2
    # Rows per (level, group value): A1's 7 subjects in all and the middle band, A2's 2 in the low band:
    # 16 each for S1, T1, LA 800 and the nation; S2: A3's 2 (A3 has no KS2, A4 no results).
    assert "Wrote 66 subject rows" in printed
    rows = pl.read_csv(aggregates, schema_overrides={"organisation": pl.String})
    everyone = rows.filter(pl.col("group") == "all")
    assert sorted(everyone.select("level", "organisation", "cohort").iter_rows()) == [
        ("la", "800", 4),
        ("trust", "T1", 2),
    ]
    maths = pl.read_parquet(subjects).filter((pl.col("subject") == "RB1") & (pl.col("group") == "all"))
    found = {(r["level"], r["organisation"]): r for r in maths.iter_rows(named=True)}
    assert set(found) == {
        ("school", "S1"),
        ("school", "S2"),
        ("trust", "T1"),
        ("la", "800"),
        ("national", "national"),
    }
    assert (found["school", "S1"]["entries"], found["school", "S1"]["average_points"]) == (2, 5.0)  # 7 and 3
    # A3's first entry (November, grade 5) counts, not the better June 7; X9 is not a pupil.
    assert (found["school", "S2"]["entries"], found["school", "S2"]["average_points"]) == (1, 5.0)
    assert json.loads(found["national", "national"]["grades"]) == [["7", 1], ["5", 1], ["3", 1]]
    # A1 and A2 are each alone in their prior attainment group: each is the national mean there.
    assert found["national", "national"]["va_pupils"] == 2 and found["national", "national"]["va"] == 0


def test_aggregates_say_when_no_pupil_has_a_trust_or_la(files, tmp_path):
    results, pupils = files
    out = tmp_path / "aggregates.json"
    printed = run("--results", results, "--pupils", pupils, "--aggregate-out", out)
    assert "Wrote 0 trust and LA rows" in printed and "No pupil has a trust or LA." in printed


def test_a_blank_trust_is_the_schools_and_two_trusts_in_one_school_are_refused(files, tmp_path):
    results, _pupils = files
    pupils = tmp_path / "pupils-with-trusts.csv"
    rows = "upn,ks2_reading,ks2_maths,school,trust\nA1,105,108,S1,T1\nA2,79,79,S1,\nA3,,,S2,\nA4,79,79,S2,\n"
    pupils.write_text(rows, encoding="utf-8")
    out = tmp_path / "aggregates.csv"
    run("--results", results, "--pupils", pupils, "--aggregate-out", out)
    everyone = pl.read_csv(out).filter(pl.col("group") == "all")
    assert everyone.select("organisation", "cohort").rows() == [("T1", 2)]  # A2 counts with S1's trust
    pupils.write_text(rows.replace("A2,79,79,S1,", "A2,79,79,S1,T2"), encoding="utf-8")
    with pytest.raises(CommandError, match=r"The pupils of school S1 name more than one trust \(T1, T2\)"):
        run("--results", results, "--pupils", pupils, "--aggregate-out", out)


def test_aggregates_cannot_be_written_for_one_school(tmp_path):
    with pytest.raises(CommandError, match="cannot be given with --school"):
        run("--year", "2026", "--school", "8004001", "--aggregate-out", tmp_path / "a.csv")
