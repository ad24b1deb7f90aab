"""Every `keystage` subcommand, run through the real entry point (`keystage.cli:main`, the function
the console script calls). Each subcommand and action found in Django's command registry explains
itself (--help), and each does its job once on a small input (REAL_RUNS). An option that is read but
never defined, as `roster import`'s --allow-many-leavers once was, fails here.

The runs call main() in this process, as the console script does. Django's run_from_argv closes
every database connection when a command ends, and that would end the test's transaction, so here
the close waits until the test is over. `serve` replaces its process with gunicorn, so it runs in a
process of its own, and so does the one run of the installed `keystage help` script.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from argparse import ArgumentParser, _SubParsersAction
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from django.core import mail
from django.core.management import get_commands, load_command_class
from django.db import connection, connections
from django.utils import timezone

from keystage.cli import main
from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, ctf_version
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.reference.dfe_files import KS4_PROGRESS8, shipped_path
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.returns import academic_year_of
from keystage.core.synth import SynthSpec
from keystage.core.synth.ks5 import synthetic_ks5_year
from keystage.estimates.models import EstimatesFit, FitStatus, Ks5Dataset, Transition
from keystage.estimates.services import fitted_outcomes
from keystage.measures.models import MeasureRun
from keystage.measures.reference_choice import catalogue_from
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.reference_data.models import EstimatesRelease, ReferenceImport
from keystage.reference_data.services import framework_library
from keystage.results import downloads, upload_checks
from keystage.results.models import Collection
from tests.conftest import World
from tests.core.organisations.gias_files import england_sample, gias_bytes
from tests.estimates.conftest import national  # noqa: F401  (a fixture used here)
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture national uses)
from tests.measures.test_command_files import PUPILS as KS4_PUPILS
from tests.measures.test_command_files import RESULTS as KS4_RESULTS
from tests.reference_data.test_loading import MAPPING_2030
from tests.results.conftest import YEAR, filled, open_collection, roster

ROOT = Path(__file__).resolve().parents[2]
MARK = "Phonics screening check mark"
ELGS = [a.code for a in FrameworkLibrary.from_directory().for_year("eyfsp", YEAR).assessments]


# Discovery: keystage's own commands and, for each, the actions its parser offers.


def _actions(parser: ArgumentParser) -> list[str]:
    """A command's actions: its subcommands, or the choices of a positional that picks what it does
    ("" where the command runs without one)."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, _SubParsersAction):
            found += list(action.choices)
        elif not action.option_strings and action.choices:
            if action.nargs == "?":
                found.append("")
            found += list(action.choices)
    return found or [""]


def keystage_commands() -> dict[str, str]:
    """keystage's own management commands, by name: their app."""
    return {name: app for name, app in sorted(get_commands().items()) if app.startswith("keystage")}


def discovered() -> list[tuple[str, str]]:
    return [
        (name, action)
        for name, app in keystage_commands().items()
        for action in _actions(load_command_class(app, name).create_parser("keystage", name))
    ]


def _id(key: tuple[str, str]) -> str:
    return " ".join(part for part in key if part)


# Running `keystage ...` in this process.


@pytest.fixture(autouse=True)
def _connection_closed_after_the_test(monkeypatch):
    """run_from_argv closes every connection as a command ends, which would end the test's
    transaction: here the connection stays open until the test is over."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


@pytest.fixture(autouse=True)
def _logging_and_argv_kept(monkeypatch):
    """main() sets Django up again, which configures logging afresh, and `bench` sets sys.argv for its
    script: both are put back after each test."""
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@dataclass
class Printed:
    out: str
    err: str


@dataclass
class Run:
    """What a real run has to hand: its test's fixtures, and `keystage` itself."""

    request: pytest.FixtureRequest
    tmp_path: Path
    capsys: pytest.CaptureFixture[str]

    def fixture(self, name: str):
        return self.request.getfixturevalue(name)

    @property
    def world(self) -> World:
        return self.fixture("world")

    def keystage(self, *args: object) -> Printed:
        """`keystage ARGS` as a person types it; a command that fails fails the test, saying why."""
        argv = ["keystage", *(str(a) for a in args)]
        self.capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as stopped:
            printed = self.capsys.readouterr()
            pytest.fail(f"{' '.join(argv)} exited {stopped.code}:\n{printed.err}\n{printed.out}")
        printed = self.capsys.readouterr()
        assert code == 0
        return Printed(printed.out, printed.err)


REAL_RUNS: dict[tuple[str, str], Callable[[Run], None]] = {}


def real_run(command: str, action: str = "") -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def register(run: Callable[[Run], None]) -> Callable[[Run], None]:
        REAL_RUNS[(command, action)] = run
        return run

    return register


# Small inputs.


def _upn(school: School, n: int) -> str:
    return build_upn(school.dfe_number[:3], school.dfe_number[3:], 20, n)


def _roster_csv(path: Path, school: School, count: int) -> Path:
    rows = ["upn,surname,forename,date_of_birth,sex,nc_year,ks2_reading,ks2_maths"]
    rows += [
        f"{_upn(school, n)},Jones{n},Pupil,2010-0{n}-01,{'FM'[n % 2]},11,104,99" for n in range(1, count + 1)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _ctf_from(source: School, destination: School, path: Path, count: int) -> Path:
    """A CTF of ``count`` Year 6 pupils, from one school's MIS to another school."""
    pupils = [
        CTFPupil(_upn(source, n), f"Brown{n}", "Ann", date(2014, 1, n), "FM"[n % 2], "6")
        for n in range(1, count + 1)
    ]
    header = CTFHeader(
        ctf_version(YEAR),
        datetime(YEAR, 6, 20, 9, 0),
        "partial",
        "test-mis",
        SchoolRef(source.la.code, source.establishment_number, source.urn, source.name, YEAR - 1),
        SchoolRef(destination.la.code, destination.establishment_number, destination.urn),
    )
    path.write_bytes(write_ctf(CTFDocument(header, pupils)))
    return path


def _phonics_template(run: Run, pupils: int = 3) -> Path:
    """School One's phonics template, its Year 1 on the roster, as Get template gives it."""
    collection = open_collection("phonics")
    roster(run.world.s1, "phonics", pupils)
    path = run.tmp_path / "template.xlsx"
    path.write_bytes(downloads.download_template(collection, run.world.s1, actor=None))
    return path


def _measures_files(run: Run, results_rows: list[str], pupils_rows: list[str]) -> tuple[Path, Path]:
    results_file = run.tmp_path / "results.csv"
    results_file.write_text("\n".join(["upn,assessment,result", *results_rows]) + "\n", encoding="utf-8")
    pupils_file = run.tmp_path / "pupils.csv"
    pupils_file.write_text("\n".join(["upn,nc_year,school", *pupils_rows]) + "\n", encoding="utf-8")
    return results_file, pupils_file


def _primary_measures(run: Run, key_stage: str, results_rows: list[str], pupils_rows: list[str]) -> str:
    results_file, pupils_file = _measures_files(run, results_rows, pupils_rows)
    out = run.tmp_path / "schools.csv"
    printed = run.keystage(
        "measures",
        key_stage,
        "--results",
        results_file,
        "--pupils",
        pupils_file,
        "--suppress-below",
        "0",
        "--school-out",
        out,
    ).out
    table = pl.read_csv(out)
    assert table.filter((pl.col("school") == "S1") & (pl.col("group") == "all")).height == 1
    assert f"Wrote {table.height} school and group rows to {out}." in printed
    return printed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database_url() -> str:
    """The test database, as a URL another process can open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


# One real run of each (command, action).


@real_run("bench")
def _bench_prints_its_timings_and_ratio(run: Run) -> None:
    # The fastest benchmark, made small: validate a 20-pupil GCSE template once (about a second).
    out = run.keystage("bench", "validate", "--pupils", "20", "--repeat", "1").out
    assert "20 pupils x" in out and "subjects;" in out
    assert "keystage parse + validate :" in out and "ratio ours / bare read    :" in out


@real_run("collections", "create")
def _collections_create_opens_a_collection(run: Run) -> None:
    out = run.keystage(
        "collections",
        "create",
        "--collection",
        "phonics",
        "--year",
        YEAR,
        "--opens",
        "2026-06-01",
        "--provisional-deadline",
        "2026-07-03T17:00",
        "--final-deadline",
        "2026-09-25",
        "--terms",
        "Results are used for your reports.",
        "--final-reports-due",
        "2026-10-01",
    ).out
    assert "Opened Phonics 2025/26: uploads from 01/06/2026 00:00" in out
    assert "provisional deadline 03/07/2026 17:00, final deadline 25/09/2026 23:59 (UK time)" in out
    opened = Collection.objects.get(kind="phonics", year=YEAR)
    assert opened.terms == "Results are used for your reports." and opened.final_reports_due == date(
        2026, 10, 1
    )


@real_run("collections", "list")
def _collections_list_shows_each_window_and_state(run: Run) -> None:
    open_collection("phonics")
    out = run.keystage("collections", "list", "--year", YEAR).out
    header, row = out.splitlines()
    assert header.startswith("COLLECTION") and header.endswith("STATE")
    assert row.startswith("phonics") and "2025/26" in row and row.endswith(" open")


@real_run("ctf", "check")
def _ctf_check_finds_no_problem_in_a_good_file(run: Run) -> None:
    path = _ctf_from(run.world.s1, run.world.s2, run.tmp_path / "in.xml", 2)
    out = run.keystage("ctf", "check", path).out
    assert "CTF 25.0 from 8004001 School One to 8002001: 2 pupils" in out
    assert "No problems found." in out


@real_run("ctf", "import")
def _ctf_import_puts_the_pupils_on_the_roll(run: Run) -> None:
    world = run.world
    path = _ctf_from(world.s1, world.s2, run.tmp_path / "in.xml", 2)
    out = run.keystage("ctf", "import", path, "--school", world.s2.dfe_number, "--year", YEAR).out
    assert "School Two 2026 from a CTF: 2 added, 0 updated, 0 unchanged, 0 marked as left; 0 problems" in out
    arrived = Pupil.objects.filter(school=world.s2, academic_year=YEAR, on_roll=True)
    assert sorted(arrived.values_list("surname", flat=True)) == ["Brown1", "Brown2"]


@real_run("ctf", "export")
def _ctf_export_writes_a_file_that_ctf_check_passes(run: Run) -> None:
    world = run.world
    roster(world.s1, "ks2-ta", 3)
    out = run.keystage(
        "ctf",
        "export",
        "--school",
        world.s1.dfe_number,
        "--year",
        YEAR,
        "--to",
        world.s2.dfe_number,
        "-o",
        run.tmp_path,
    ).out
    path = run.tmp_path / f"{world.s1.dfe_number}_CTF_{world.s2.dfe_number}_001.xml"
    assert f"Wrote 3 pupils to {path}" in out and path.is_file()
    checked = run.keystage("ctf", "check", path).out
    assert ": 3 pupils" in checked and "No problems found." in checked


@real_run("demo")
def _demo_loads_everything_and_prints_the_sign_ins(run: Run) -> None:
    from keystage.web.demo import DEMO_PASSWORD, current_academic_year

    run.fixture("settings").MEDIA_ROOT = run.tmp_path / "storage"
    year = current_academic_year()
    # Fitting the demo's six estimates takes about two minutes (tests/web/test_demo.py fits them):
    # here they are already fitted, as on the demo's second start, and the rest runs for real.
    fitted = [
        EstimatesFit.objects.create(
            transition=transition,
            contextual=contextual,
            years=[year - 1],
            status=FitStatus.COMPLETE,
            source="demo",
            finished_at=timezone.now(),
        )
        for transition in Transition
        for contextual in (False, True)
    ]
    out = run.keystage("demo", "--no-serve").out
    assert "keystage demo is ready" in out and DEMO_PASSWORD in out
    assert "head@oakfield-academy.example" in out
    assert f"Open for uploads: {Collection.objects.get(kind='ks4-gcse', year=year)}" in out
    reports = out.split("Reports worked out: ")[1].splitlines()[0]
    assert f"KS4 {year - 1}/{str(year)[-2:]}" in reports and f"KS2 {year - 3}/{str(year - 2)[-2:]}" in reports
    assert MeasureRun.objects.filter(key_stage="ks4", year=year, school__isnull=True).exists()
    assert Ks5Dataset.objects.filter(year=year - 1).exists()
    assert list(EstimatesFit.objects.order_by("pk")) == fitted  # nothing fitted again
    assert "Serving on" not in out


@real_run("estimates", "fit")
def _estimates_fit_now_fits_every_outcome(run: Run) -> None:
    # The smallest national year set_background makes (12 secondary and 40 primary schools), and
    # the transition with the fewest outcomes: KS1 to KS2, four of them.
    run.fixture("national")
    out = run.keystage("estimates", "fit", "--transition", "ks1-ks2", "--year", YEAR, "--now").out
    fit = EstimatesFit.objects.get()
    assert fit.status == FitStatus.COMPLETE, fit.message
    assert out.startswith(f"{fit}, fitted in") and f"on {fit.pupils:,} pupils" in out
    names = [outcome.name for outcome in fitted_outcomes(fit)]
    assert set(names) == {"KS2 reading", "KS2 writing", "KS2 maths", "KS2 reading, writing and maths"}
    for name in names:
        assert re.search(rf"^  {re.escape(name)} +[\d,]+ +-?[\d.]+ .* (yes|NO)$", out, re.MULTILINE), name


@real_run("estimates", "show")
def _estimates_show_prints_the_newest_fit(run: Run) -> None:
    from django.core.management import call_command

    run.fixture("national")
    call_command("estimates", "fit", "--transition", "ks1-ks2", "--year", str(YEAR), "--now", verbosity=0)
    fit = EstimatesFit.objects.get(status=FitStatus.COMPLETE)
    out = run.keystage("estimates", "show", "--transition", "ks1-ks2").out
    assert out.startswith(f"{fit}, fitted in")
    name = fitted_outcomes(fit)[0].name
    out = run.keystage("estimates", "show", "--fit", fit.pk, "--outcome", name.lower()).out
    assert out.startswith(f"{name}: ") and "calibration on held-out schools" in out


@real_run("estimates", "import-ks5")
def _estimates_import_ks5_keeps_the_years_a_levels(run: Run) -> None:
    catalogue, _ = catalogue_from(None)
    path = run.tmp_path / "ks5.csv"
    synthetic_ks5_year(SynthSpec.at_scale("school", year=YEAR, seed=5), catalogue).write_csv(path)
    run.fixture("settings").MEDIA_ROOT = run.tmp_path / "storage"
    out = run.keystage("estimates", "import-ks5", path, "--year", YEAR).out
    dataset = Ks5Dataset.objects.get(year=YEAR)
    assert out.strip() == f"Imported {dataset} at {dataset.institutions:,} institutions."
    assert dataset.students > 0 and dataset.results >= dataset.students


@real_run("measures", "ks4")
def _measures_ks4_from_files_prints_each_schools_figures(run: Run) -> None:
    results_file, pupils_file = run.tmp_path / "results.csv", run.tmp_path / "pupils.csv"
    results_file.write_text(KS4_RESULTS, encoding="utf-8")
    pupils_file.write_text(KS4_PUPILS, encoding="utf-8")
    out_file = run.tmp_path / "pupil-figures.csv"
    out = run.keystage(
        "measures",
        "ks4",
        "--results",
        results_file,
        "--pupils",
        pupils_file,
        "--estimates",
        "dfe-2024-provisional",
        "--pupil-out",
        out_file,
    ).out
    assert "KS4 from results.csv and pupils.csv: 4 pupils, 13 results" in out
    assert "School file: 4 pupils, A8 21.75" in out
    assert f"Wrote 4 pupils to {out_file}." in out
    assert pl.read_csv(out_file, schema_overrides={"upn": pl.String}).get_column("upn").sort().to_list() == [
        "A1",
        "A2",
        "A3",
        "A4",
    ]


@real_run("measures", "eyfsp")
def _measures_eyfsp_from_files_prints_the_good_level_of_development(run: Run) -> None:
    rows = [f"{upn},{code},2" for upn in ("R1", "R2") for code in ELGS]
    out = _primary_measures(run, "eyfsp", rows, ["R1,R,S1", "R2,R,S1"])
    assert "School S1: 2 pupils, good level of development 100% of 2 (all pupils given 100%)." in out


@real_run("measures", "phonics")
def _measures_phonics_from_files_prints_year_1_met(run: Run) -> None:
    out = _primary_measures(
        run, "phonics", ["Y1,phonics_mark,33", "Y2,phonics_mark,20"], ["Y1,1,S1", "Y2,1,S1"]
    )
    assert "School S1: 2 pupils, Year 1 met 50% of 2 (all pupils given 50%)." in out


@real_run("measures", "ks1")
def _measures_ks1_from_files_prints_reading_writing_and_maths(run: Run) -> None:
    rows = ["K1,ks1_reading_ta,GDS", "K1,ks1_writing_ta,EXS", "K1,ks1_maths_ta,EXS"]
    out = _primary_measures(run, "ks1", rows, ["K1,2,S1"])
    assert "School S1: 1 pupil, reading, writing and maths expected 100% of 1" in out


@real_run("measures", "ks2")
def _measures_ks2_from_files_prints_reading_writing_and_maths(run: Run) -> None:
    rows = [
        "K1,ks2_reading_test,105",
        "K1,ks2_maths_test,101",
        "K1,ks2_writing_ta,EXS",
        "K2,ks2_reading_test,98",
        "K2,ks2_maths_test,A",
        "K2,ks2_writing_ta,EXS",
    ]
    out = _primary_measures(run, "ks2", rows, ["K1,6,S1", "K2,6,S1"])
    assert "School S1: 2 pupils, reading, writing and maths expected 50% of 2" in out


@real_run("organisations", "import-gias")
def _organisations_import_gias_creates_the_schools(run: Run) -> None:
    path = run.tmp_path / "edubasealldata20260301.csv"
    path.write_bytes(gias_bytes(england_sample()))
    out = run.keystage("organisations", "import-gias", path).out
    assert "Schools: 9 created, 0 updated (0 of them closed), 0 unchanged, 9 rows skipped." in out
    assert "Imported edubasealldata20260301.csv." in out
    assert School.objects.count() == 9
    assert School.objects.get(urn="100002").name == "Café Lumière Academy"


@real_run("organisations", "list")
def _organisations_list_names_each_la_trust_and_school(run: Run) -> None:
    run.world  # noqa: B018  (the world's organisations)
    out = run.keystage("organisations", "list").out.splitlines()
    assert "LA      800      Home Authority" in out
    assert any(line.startswith("school  8004001 URN 100001  School One") for line in out)
    listed = json.loads(run.keystage("organisations", "list", "--json", "--kind", "school").out)
    assert {row["dfe_number"] for row in listed} == {s.dfe_number for s in School.objects.all()}


@real_run("reference", "check")
def _reference_check_says_ok_for_each_framework_and_mapping(run: Run) -> None:
    new_year = _phonics_2030(run)
    lines = run.keystage("reference", "check", new_year).out.splitlines()
    assert lines and all(line.startswith("ok  ") for line in lines)
    assert any(line.startswith("ok  CTF mapping from") for line in lines)
    assert f"ok  {new_year}: phonics from 2030" in lines


def _phonics_2030(run: Run) -> Path:
    folder = run.tmp_path / "phonics"
    folder.mkdir()
    path = folder / "2030.toml"
    path.write_text(
        'collection = "phonics"\nfrom_year = 2030\ntitle = "Phonics (new check)"\n'
        "[thresholds]\nphonics_expected = 30\n"
        '[[assessments]]\ncode = "phonics_mark"\nlabel = "Mark"\nscore = { min = 0, max = 36 }\n'
    )
    return path


@real_run("reference", "load-framework")
def _reference_load_framework_takes_a_new_years_codes(run: Run) -> None:
    out = run.keystage("reference", "load-framework", _phonics_2030(run)).out
    assert "Loaded phonics from 2030 (2030.toml)." in out
    assert framework_library().for_year("phonics", 2030).thresholds["phonics_expected"] == 30


@real_run("reference", "load-ctf-mapping")
def _reference_load_ctf_mapping_takes_a_new_years_coding(run: Run) -> None:
    path = run.tmp_path / "2030.toml"
    path.write_text(MAPPING_2030)
    out = run.keystage("reference", "load-ctf-mapping", path).out
    assert "Loaded the CTF mapping from 2030: 1 assessments, 0 of them marked unconfirmed." in out
    assert ReferenceImport.objects.filter(kind="ctf-mapping").exists()


@real_run("reference", "load-ks4")
def _reference_load_ks4_loads_dfes_catalogue(run: Run) -> None:
    logged = ReferenceImport.objects.filter(kind="ks4-catalogue").count()
    out = run.keystage("reference", "load-ks4").out
    assert "1418 qualifications" in out and "KS4 catalogue loaded." in out
    assert ReferenceImport.objects.filter(kind="ks4-catalogue").count() == logged + 1


@real_run("reference", "load-progress8")
def _reference_load_progress8_adds_a_release(run: Run) -> None:
    settings = run.fixture("settings")
    settings.MEDIA_ROOT = run.tmp_path / "storage"
    settings.VAR_DIR = run.tmp_path / "var"
    shipped = shipped_path(KS4_PROGRESS8)
    sd = run.tmp_path / "p8_sd_2025prov.csv"
    shutil.copyfile(shipped / "p8_sd_2024prov.csv", sd)
    out = run.keystage(
        "reference",
        "load-progress8",
        "2025prov",
        "--estimates",
        shipped / "a8_estimates_2024prov.csv",
        "--sd",
        sd,
    ).out
    assert "a new release, 34 prior attainment groups" in out and "Loaded: " in out
    assert EstimatesRelease.objects.filter(release="2025prov").exists()


@real_run("reference", "show")
def _reference_show_prints_a_qualification(run: Run) -> None:
    out = run.keystage("reference", "show", "601/4606/0", "--year", "2019").out
    assert out.startswith("60146060  ")
    assert "2019: discount code RB1, EBacc maths" in out


@real_run("retention", "purge")
def _retention_purge_deletes_rosters_past_their_period(run: Run) -> None:
    world = run.world
    this_year = academic_year_of(timezone.localdate())
    for year, n in ((this_year - 10, 1), (this_year - 10, 2), (this_year, 3)):
        Pupil.objects.create(
            school=world.s1,
            academic_year=year,
            upn=_upn(world.s1, n),
            forename="Pupil",
            surname=f"Left{n}",
            date_of_birth=date(year - 16, 1, 1),
            sex="F",
            nc_year=11,
        )
    dry = run.keystage("retention", "purge", "--dry-run").out
    assert "Dry run: nothing was deleted." in dry and Pupil.objects.count() == 3
    out = run.keystage("retention", "purge").out
    assert "2  roster records of pupils who have left" in out
    assert "Deleted 2 in all; the audit log records it." in out
    assert list(Pupil.objects.values_list("surname", flat=True)) == ["Left3"]


@real_run("roster", "import")
def _roster_import_adds_the_pupils_of_the_file(run: Run) -> None:
    world = run.world
    path = _roster_csv(run.tmp_path / "roster.csv", world.s1, 3)
    out = run.keystage("roster", "import", path, "--school", world.s1.dfe_number, "--year", YEAR).out
    assert "School One 2026: 3 added, 0 updated, 0 unchanged, 0 marked as left; 0 problems" in out
    assert Pupil.objects.filter(school=world.s1, academic_year=YEAR, on_roll=True).count() == 3
    # The file again, now one pupil short, as a whole school: that pupil has left.
    _roster_csv(path, world.s1, 2)
    again = run.keystage(
        "roster", "import", path, "--school", world.s1.dfe_number, "--year", YEAR, "--allow-many-leavers"
    ).out
    assert "0 added, 0 updated, 2 unchanged, 1 marked as left" in again
    assert not Pupil.objects.get(upn=_upn(world.s1, 3)).on_roll


@real_run("serve")
def _serve_answers_health_checks_and_pages(run: Run) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "keystage.settings",
        "KEYSTAGE_VAR_DIR": str(run.tmp_path / "var"),  # its collected static files stay here
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "keystage.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert health.status == 200 and json.loads(health.read())["database"]["ok"] is True
        assert "Sign in" in urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=15)


@real_run("synth")
def _synth_writes_and_loads_a_synthetic_year(run: Run) -> None:
    out = run.keystage("synth", "--scale", "school", "-o", run.tmp_path / "year", "--load").out
    assert "Generated 2 schools," in out and f"Wrote 4 files to {run.tmp_path / 'year'}." in out
    loaded = Pupil.objects.count()
    assert loaded > 0 and f"Loaded 2 schools and {loaded} pupils for 2026." in out
    assert (run.tmp_path / "year" / "pupils.csv").read_text().startswith("dfe_number,upn,")
    assert School.objects.count() == 2


@real_run("synth", "fill-template")
def _synth_fill_template_fills_a_template_that_validates(run: Run) -> None:
    template = _phonics_template(run)
    out_file = run.tmp_path / "filled.xlsx"
    out = run.keystage(
        "synth", "fill-template", template, "--collection", "phonics", "--year", YEAR, "-o", out_file
    ).out
    assert out.startswith(f"Wrote {out_file}: Phonics") and "results for 3 pupils" in out
    report = upload_checks.check_file(out_file.read_bytes(), "phonics", YEAR, run.world.s1)
    assert report.valid and len(report.pupils) == 3


@real_run("synth", "ks5")
def _synth_ks5_writes_a_national_a_level_file(run: Run) -> None:
    path = run.tmp_path / "ks5.csv"
    out = run.keystage("synth", "ks5", "--year", YEAR, "--scale", "school", "-o", path).out
    table = pl.read_csv(path)
    assert out.startswith(f"Wrote {table.height:,} A level results of {table['upn'].n_unique():,} students")
    assert table.height > 0 and {"upn", "institution", "grade"} <= set(table.columns)


@real_run("template")
def _template_writes_the_schools_prefilled_workbook(run: Run) -> None:
    open_collection("phonics")
    pupils = roster(run.world.s1, "phonics", 3)
    path = run.tmp_path / "t.xlsx"
    out = run.keystage(
        "template", "--collection", "phonics", "--year", YEAR, "--school", "8004001", "-o", path
    ).out
    assert out.strip() == f"Wrote {path}: Phonics 2025/26 template for School One, 3 pupils."
    cells = {
        cell for row in openpyxl.load_workbook(path)["Results"].iter_rows(values_only=True) for cell in row
    }
    assert {p.upn for p in pupils} <= cells


@real_run("validate")
def _validate_reports_a_good_file_and_a_bad_one(run: Run) -> None:
    template = _phonics_template(run)
    good = run.tmp_path / "good.xlsx"
    good.write_bytes(filled(template.read_bytes(), "phonics", {(1, MARK): 35}))
    base = ["--collection", "phonics", "--year", YEAR, "--school", "8004001"]
    out = run.keystage("validate", good, *base).out
    assert out.strip() == "good.xlsx: valid for Phonics 2025/26: 3 pupils, 0 errors, 0 warnings."
    bad = run.tmp_path / "bad.xlsx"
    bad.write_bytes(filled(template.read_bytes(), "phonics", {(1, MARK): 41}))
    with pytest.raises(SystemExit) as stopped:
        main(["keystage", "validate", str(bad), *map(str, base)])
    assert stopped.value.code == 1
    assert "row 4, column L (Phonics screening check mark)" in run.capsys.readouterr().out


@real_run("worker")
def _worker_sends_the_queued_invitation_email(run: Run) -> None:
    from keystage.accounts.models import Invitation
    from keystage.accounts.services import invite_user

    world = run.world
    invite_user(
        actor=world.person("school_admin"),
        organisation=world.s1,
        email="far@example.org",
        full_name="Far Away",
        roles=["governor"],
    )
    assert not mail.outbox
    run.keystage("worker", "--batch", "--interval", "0")
    assert [message.to for message in mail.outbox] == [["far@example.org"]]
    assert "/invitations/" in mail.outbox[0].body
    assert Invitation.objects.get().emailed_at is not None


# The tests.


def test_every_subcommand_found_has_a_real_run_and_every_real_run_a_subcommand():
    found = discovered()
    assert len(found) == len(set(found))
    assert set(found) == set(REAL_RUNS), (
        f"no real run: {sorted(set(found) - set(REAL_RUNS))}; "
        f"no such subcommand: {sorted(set(REAL_RUNS) - set(found))}"
    )
    assert {"roster", "ctf", "measures", "synth", "serve", "worker", "demo", "bench"} <= set(
        keystage_commands()
    )


@pytest.mark.parametrize(("command", "action"), [pytest.param(*key, id=_id(key)) for key in discovered()])
def test_every_subcommand_prints_its_usage_with_help(command, action, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["keystage", command, *([action] if action else []), "--help"])
    assert stopped.value.code == 0
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert usage.startswith(f"usage: keystage {command}")
    assert action in usage


def _run_params() -> list[object]:
    params = []
    for key in REAL_RUNS:
        # serve is another process: it sees only what is committed. The worker closes a connection
        # left in a transaction each time it wakes, so its tasks are committed too.
        mark = pytest.mark.django_db(transaction=key in {("serve", ""), ("worker", "")})
        params.append(pytest.param(*key, id=_id(key), marks=mark))
    return params


@pytest.mark.parametrize(("command", "action"), _run_params())
def test_every_subcommand_does_its_job_on_a_small_input(command, action, request, tmp_path, capsys):
    REAL_RUNS[(command, action)](Run(request, tmp_path, capsys))


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "bench").glob("*.py")))
def test_every_benchmark_lists_its_own_options(name, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["keystage", "bench", name, "--help"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ")


def test_the_installed_keystage_script_lists_every_subcommand(tmp_path):
    script = shutil.which("keystage", path=str(Path(sys.executable).parent))
    assert script is not None, "the keystage console script is not installed beside this Python"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "keystage.settings", "KEYSTAGE_VAR_DIR": str(tmp_path)}
    listed = subprocess.run(
        [script, "help"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert listed.returncode == 0, listed.stderr
    assert "Type 'keystage help <subcommand>' for help on a specific subcommand." in listed.stdout
    names = {line.strip() for line in listed.stdout.splitlines()}
    assert set(keystage_commands()) <= names
