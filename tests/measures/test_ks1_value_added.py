"""KS4 results of summer 2026 (and 2025) have no Progress 8: those pupils sat no KS2 tests. Through
`keystage measures ks4` and the database run, no pupil or school gets a Progress 8, even where the
roster has KS2 scores; keystage's KS1-based value added is given instead, measured against the
national KS1 groups, with who is left out said; a 2024 run is as it was."""

from __future__ import annotations

import json
import re
from io import StringIO

import polars as pl
import pytest
from django.core.management import call_command

from keystage.measures import services
from keystage.measures.models import PupilFigure, SchoolFigure
from tests.core.reference.test_ks4_catalogue import DFE_2019
from tests.measures.conftest import (
    LANGUAGE,
    LITERATURE,
    MATHS,
    confirm,
    gcse_collection,
    ks4_roster,
    upload_ks4,
)
from tests.results.conftest import YEAR

NO_P8_2026 = "DfE publishes no Progress 8 for 2026 (these pupils sat no KS2 tests in 2021)"
NAME = "keystage's KS1-based value added (not DfE's Progress 8)"

# Maths 60146084, English language 60142923, English literature 60144476 (DfE's 2019 catalogue).
RESULTS = """upn,qan,grade,exam_date
K1,60146084,7,{year}-06-10
K1,60142923,6,{year}-06-10
K1,60144476,6,{year}-06-12
K2,60146084,5,{year}-06-10
K2,60142923,4,{year}-06-10
K3,60146084,3,{year}-06-10
K4,60146084,6,{year}-06-10
K5,60146084,4,{year}-06-10
"""
# Every pupil has KS2 scores (which would give a Progress 8 in a year with one); K1 and K2 share a KS1
# group, K3 is alone in another, K4 has no KS1 assessment and K5 one with no points (BLW).
PUPILS = """upn,ks2_reading,ks2_maths,ks1_reading,ks1_writing,ks1_maths,sex
K1,105,108,EXS,EXS,EXS,F
K2,100,101,exs,EXS,EXS ,M
K3,95,96,WTS,WTS,WTS,F
K4,104,104,,,,M
K5,90,90,BLW,PKF,PKF,F
"""


def _files(tmp_path, year: int) -> tuple[str, str]:
    results, pupils = tmp_path / "results.csv", tmp_path / "pupils.csv"
    results.write_text(RESULTS.format(year=year))
    pupils.write_text(PUPILS)
    return str(results), str(pupils)


def _run_command(tmp_path, year: int) -> tuple[str, pl.DataFrame, pl.DataFrame]:
    results, pupils = _files(tmp_path, year)
    out = StringIO()
    call_command(
        "measures",
        "ks4",
        "--results",
        results,
        "--pupils",
        pupils,
        "--catalogue",
        str(DFE_2019),
        "--pupil-out",
        str(tmp_path / "pupils_out.csv"),
        "--school-out",
        str(tmp_path / "schools_out.json"),
        stdout=out,
    )
    pupil_table = pl.read_csv(tmp_path / "pupils_out.csv", infer_schema_length=None)
    school_table = pl.DataFrame(json.loads((tmp_path / "schools_out.json").read_text()))
    return out.getvalue(), pupil_table, school_table


def test_the_command_gives_no_progress_8_for_2026_and_the_ks1_value_added_instead(db, tmp_path):
    printed, pupils, schools = _run_command(tmp_path, 2026)
    assert NO_P8_2026 in printed and NAME in printed
    assert re.search(
        r"School file: 5 pupils, A8 [0-9.]+, no P8, KS1-based value added -?0\.00 \(95% CI", printed
    )
    # Without a national run of 2026 on the platform, the groups are the given pupils' and say so.
    assert "the KS1 groups of the 3 pupils given" in printed and "not national" in printed
    assert "Of 5 pupils, 1 pupil has no KS1 assessment and 1 pupil has a KS1 assessment" in printed
    by_upn = {row["upn"]: row for row in pupils.iter_rows(named=True)}
    assert all(by_upn[upn]["p8"] is None and by_upn[upn]["pag"] is None for upn in by_upn)
    # K1 (A8 = 14 + 12 + 0 + 6 = 32: maths 7 twice, English 6 twice, literature's 6 in open) and K2 (maths
    # 5 twice, English 4 once: A8 14) are EXS, EXS, EXS: KS1 APS 8, group mean 23; K3 is alone in its group.
    assert (by_upn["K1"]["a8"], by_upn["K2"]["a8"]) == (32, 14)
    assert by_upn["K1"]["ks1_aps"] == 8 and by_upn["K1"]["ks1_pag"] == by_upn["K2"]["ks1_pag"]
    assert by_upn["K1"]["ks1_va"] == pytest.approx(0.9) and by_upn["K2"]["ks1_va"] == pytest.approx(-0.9)
    assert by_upn["K1"]["ks1_va_maths"] == pytest.approx((14 - 12) / 2)
    assert by_upn["K3"]["ks1_aps"] == 6 and by_upn["K3"]["ks1_va"] == 0
    assert by_upn["K4"]["ks1_va"] is None and by_upn["K4"]["ks1_missing"] == "no KS1 assessment"
    assert by_upn["K5"]["ks1_va"] is None and by_upn["K5"]["ks1_missing"].startswith("a KS1 assessment")
    everyone = schools.filter((pl.col("group") == "all") & (pl.col("value") == "all")).row(0, named=True)
    assert everyone["p8"] is None and everyone["p8_ci_low"] is None and everyone["banding"] is None
    assert everyone["ks1_va_pupils"] == 3 and (everyone["ks1_none"], everyone["ks1_other"]) == (1, 1)
    assert everyone["ks1_va"] == pytest.approx(0)
    assert everyone["ks1_va_ci_low"] < 0 < everyone["ks1_va_ci_high"]


def test_a_2024_file_run_is_unchanged_by_the_ks1_columns(db, tmp_path):
    printed, pupils, schools = _run_command(tmp_path, 2024)
    assert "DfE publishes no Progress 8" not in printed and NAME not in printed
    assert not {c for c in pupils.columns if c.startswith("ks1_va")}
    assert pupils.filter(pl.col("upn") == "K1").item(0, "p8") is not None
    assert not {c for c in schools.columns if c.startswith("ks1_")}
    assert schools.filter(pl.col("group") == "all").item(0, "p8") is not None


def _roster_2026(world):
    """School One's Year 11 of 2026: KS2 scores on every pupil (as a roster may hold), and KS1
    assessments: six EXS, EXS, EXS; two GDS, GDS, GDS; one with none; one BLW."""
    ks1 = [("EXS", "EXS", "EXS")] * 6 + [("GDS", "GDS", "GDS")] * 2 + [("", "", ""), ("BLW", "BLW", "BLW")]
    pupils = ks4_roster(world.s1, len(ks1))
    for pupil, (reading, writing, maths) in zip(pupils, ks1, strict=True):
        pupil.ks1_reading, pupil.ks1_writing, pupil.ks1_maths = reading, writing, maths
        pupil.save()
    return pupils


def test_a_database_run_for_2026_stores_no_progress_8_and_the_ks1_value_added(
    world, ks4_catalogue, django_capture_on_commit_callbacks
):
    assert YEAR == 2026
    pupils = _roster_2026(world)
    user = world.person("manage_data")
    values = {(n, MATHS): str(3 + n % 6) for n in range(1, len(pupils) + 1)}
    values |= {(n, LANGUAGE): str(2 + n % 5) for n in range(1, len(pupils) + 1)}
    values |= {(1, LITERATURE): "5"}
    upload = upload_ks4(gcse_collection(), world.s1, user, values=values)
    with django_capture_on_commit_callbacks(execute=False):
        confirm(upload, user)
    run, _figures = services.compute_and_store_ks4(YEAR)

    stored = {f.upn: f for f in PupilFigure.objects.filter(run=run)}
    assert all(f.p8 is None and f.p8_adjusted is None and f.pag is None for f in stored.values())
    assert all(f.ks2_pa == 105 for f in stored.values())  # KS2 on the roster gives no Progress 8
    exs = [stored[p.upn] for p in pupils[:6]]
    mean = sum(f.a8 for f in exs) / len(exs)
    assert all(f.ks1_aps == 8 and f.ks1_va == pytest.approx((f.a8 - mean) / 10) for f in exs)
    assert stored[pupils[8].upn].ks1_va is None and stored[pupils[9].upn].ks1_va is None
    explained = " ".join(stored[pupils[0].upn].explanation)
    assert "KS1 prior attainment: reading EXS, writing EXS, maths EXS; KS1 average point score 8" in explained
    assert f"{NAME}: {stored[pupils[0].upn].ks1_va:+.2f}" in explained
    assert f"No Progress 8: {NO_P8_2026}." in explained
    assert "no estimates for this year" not in explained
    assert "no KS1 assessment on record" in " ".join(stored[pupils[8].upn].explanation)

    mine = SchoolFigure.objects.get(run=run, school=world.s1, group="all", value="all")
    assert (mine.p8, mine.p8_ci_low, mine.banding, mine.p8_pupils) == (None, None, "", 0)
    assert (mine.ks1_va_pupils, mine.ks1_none, mine.ks1_other) == (8, 1, 1)
    everyone = [stored[p.upn].ks1_va for p in pupils[:8]]
    assert mine.ks1_va == pytest.approx(sum(everyone) / 8, abs=1e-8)
    assert mine.ks1_va_ci_low < mine.ks1_va < mine.ks1_va_ci_high
    assert run.ks1_groups["label"].startswith("keystage's national KS1 groups for 2026")
    assert NO_P8_2026 in run.message and run.estimates == f"No Progress 8 for 2026: {NAME}"

    # The same pupils computed for the school alone get the same group means and value added.
    alone, _ = services.compute_and_store_ks4(YEAR, school=world.s1)
    again = SchoolFigure.objects.get(run=alone, school=world.s1, group="all", value="all")
    assert (again.ks1_va, again.ks1_va_ci_low) == (mine.ks1_va, mine.ks1_va_ci_low)


def test_a_file_of_2026_is_measured_against_the_platforms_stored_national_groups(
    world, ks4_catalogue, django_capture_on_commit_callbacks, tmp_path
):
    pupils = _roster_2026(world)
    user = world.person("manage_data")
    values = {(n, MATHS): str(3 + n % 6) for n in range(1, len(pupils) + 1)}
    upload = upload_ks4(gcse_collection(), world.s1, user, values=values)
    with django_capture_on_commit_callbacks(execute=False):
        confirm(upload, user)
    run, _ = services.compute_and_store_ks4(YEAR)
    national = {g["ks1_aps"]: g for g in run.ks1_groups["groups"]}
    assert set(national) == {8.0, 10.0}  # EXS and GDS pupils; none assessed WTS

    printed, table, _schools = _run_command(tmp_path, 2026)
    assert (
        "measured against keystage's national KS1 groups for 2026 (8 pupils with a KS1 point score)"
        in printed
    )
    by_upn = {row["upn"]: row for row in table.iter_rows(named=True)}
    assert by_upn["K1"]["ks1_va"] == pytest.approx((32 - national[8.0]["a8"]) / 10)
    assert (
        by_upn["K3"]["ks1_va"] is None
        and by_upn["K3"]["ks1_missing"] == "no pupils nationally in their KS1 group"
    )


def test_a_synthetic_background_of_2026_gives_the_nation_its_ks1_value_added(db, ks4_catalogue):
    """The demo's background: its Year 11 carry their KS1 assessments (nine years back, the older
    codes), so the national KS1 groups and the value added exist in a year without Progress 8."""
    from keystage.measures.background import set_background

    set_background(YEAR, scale="small", seed=31, schools=[])
    run, _figures = services.compute_and_store_ks4(YEAR)
    nation = SchoolFigure.objects.national().get(run=run, group="all", value="all")
    assert nation.p8 is None and nation.p8_pupils == 0
    assert nation.ks1_va_pupils > 0.9 * nation.cohort  # all but the few with a pre-key stage code
    assert nation.ks1_va is not None and abs(nation.ks1_va) < 0.05  # the nation against itself
    assert run.ks1_groups is not None
