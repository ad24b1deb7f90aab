"""Primary figures stored from the database: a confirmed phonics, EYFSP, KS1 or KS2 upload queues a
refresh of its key stage and year; the worker stores every school's, trust's, LA's and the nation's
figures for each pupil group, each school's place among schools, and every pupil's results and
figures; `keystage measures <key stage> --year` does the same by hand."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks_db.models import DBTaskResult

from keystage.core.pupils.model import build_upn
from keystage.core.roles import Role
from keystage.measures import services, trends
from keystage.measures.models import MeasureRun, PrimaryFigure, PrimaryPupilFigure, RunStatus
from keystage.measures.tasks import refresh_measures
from keystage.pupils.models import Pupil
from keystage.results import downloads, upload_checks, uploading
from keystage.results import services as results
from keystage.results.models import Collection, UploadStatus
from tests.factories import member
from tests.results.conftest import YEAR, as_file, filled, open_collection

MARK = "Phonics screening check mark"


@pytest.fixture(autouse=True)
def _uploads_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def year_group(
    school, nc_year: int, count: int, *, year: int = YEAR, first: int = 1, **fields
) -> list[Pupil]:
    la, estab = school.dfe_number[:3], school.dfe_number[3:]
    return [
        Pupil.objects.create(
            school=school,
            academic_year=year,
            upn=build_upn(la, estab, 19, n),
            forename=f"Pupil{n}",
            surname="Smith",
            date_of_birth=date(year - nc_year - 5, 1 + n % 12, 1),
            sex="FM"[n % 2],
            nc_year=nc_year,
            fsm6=n % 2 == 1,
            **fields,
        )
        for n in range(first, first + count)
    ]


def upload_confirmed(kind: str, school, user, values: dict, *, year: int = YEAR):
    """The school's template for the kind and year, filled ({(pupil number, heading): result}),
    uploaded, checked and confirmed."""
    collection = Collection.objects.filter(kind=kind, year=year).first() or open_collection(kind, year=year)
    template = downloads.download_template(collection, school, actor=user)
    data = as_file(filled(template, kind, values))
    upload = uploading.upload_results(collection, school, data, filename="r.xlsx", actor=user)
    upload = upload_checks.validate_stored_upload(upload.pk)
    assert upload.status == UploadStatus.SUCCESSFUL, upload.issues[:3]
    return results.confirm_upload(upload, actor=user, agreed=True)


def data_manager(school):
    return member(Role.MANAGE_DATA.value, school, email=f"data-{school.dfe_number}@example.org")


def figure(run, measure: str, *, school=None, organisation=None, group="all", value="all") -> dict:
    rows = PrimaryFigure.objects.filter(run=run, group=group, value=value)
    if school is not None:
        row = rows.get(school=school)
    elif organisation is not None:
        row = rows.get(organisation=organisation)
    else:
        row = rows.national().get()
    return row.figures[measure]


@pytest.mark.django_db(transaction=True)
def test_confirmed_phonics_is_stored_for_schools_trusts_las_and_the_nation_by_the_worker(world):
    s1_pupils = year_group(world.s1, 1, 6)
    year_group(world.s3, 1, 6)
    # 35, 32 and 40 meet the standard (32 is the threshold); 20 and 10 do not; absent counts as not met.
    s1_marks = (35, 20, "A", 32, 40, 10)
    upload_confirmed(
        "phonics", world.s1, world.person("manage_data"), {(n, MARK): m for n, m in enumerate(s1_marks, 1)}
    )
    s3_marks = (40, 33, 32, 38, 36, 39)
    upload_confirmed(
        "phonics", world.s3, data_manager(world.s3), {(n, MARK): m for n, m in enumerate(s3_marks, 1)}
    )
    queued = MeasureRun.objects.get(key_stage="phonics", year=YEAR)
    assert queued.status == RunStatus.QUEUED  # debounced: two confirmations, one refresh
    assert DBTaskResult.objects.filter(task_path__endswith="refresh_measures").count() >= 1

    call_command("worker", "--batch", "--interval", "0")

    run = services.latest_run("phonics", YEAR)
    assert run is not None and run.pk == queued.pk and run.status == RunStatus.COMPLETE
    assert (run.pupils, run.schools) == (12, 2)
    assert "Phonics" in run.estimates  # the framework the results were read with
    s1 = figure(run, "phonics_y1_met", school=world.s1)
    assert (s1["figure"], s1["pupils"], s1["national"]) == (0.5, 6, 0.75)
    assert figure(run, "phonics_y1_met", school=world.s3)["figure"] == 1.0
    assert figure(run, "phonics_y1_average_mark", school=world.s3)["figure"] == pytest.approx(218 / 6)
    # Places among schools: S3 is first (the top half), S1 second of two (the bottom fifth).
    assert figure(run, "phonics_y1_met", school=world.s3)["percentile"] == 50
    assert figure(run, "phonics_y1_met", school=world.s1)["quintile"] == 5
    # The trust (S1 only) and the LA (S1 and S3), and the nation.
    assert figure(run, "phonics_y1_met", organisation=world.trust)["figure"] == 0.5
    assert figure(run, "phonics_y1_met", organisation=world.la)["figure"] == 0.75
    assert figure(run, "phonics_y1_met")["pupils"] == 12
    # Pupil groups: S1's girls are pupils 2, 4 and 6 (marks 20, 32 and 10).
    girls = figure(run, "phonics_y1_met", school=world.s1, group="sex", value="female")
    assert (girls["figure"], girls["pupils"]) == (pytest.approx(1 / 3), 3)
    assert "percentile" not in girls  # places are among schools' whole cohorts
    # Each pupil's results and figures, as confirmed.
    first = PrimaryPupilFigure.objects.get(run=run, upn=s1_pupils[0].upn)
    assert first.results == {"phonics_mark": "35"} and first.figures["phonics_y1_met"] is True
    absent = PrimaryPupilFigure.objects.get(run=run, upn=s1_pupils[2].upn)
    assert absent.results == {"phonics_mark": "A"} and absent.figures["phonics_y1_met"] is False
    assert absent.characteristics["disadvantaged"] is True


def test_met_by_the_end_of_year_2_counts_last_years_year_1_checks(world, capsys):
    user = world.person("manage_data")
    year_group(world.s1, 1, 3, year=YEAR - 1)  # last year's Year 1: 36 meets, 20 and 31 do not
    upload_confirmed("phonics", world.s1, user, {(1, MARK): 36, (2, MARK): 20, (3, MARK): 31}, year=YEAR - 1)
    # S3 confirmed last year's check but not this year's: its pupils are not this year's Year 2.
    year_group(world.s3, 1, 1, year=YEAR - 1)
    upload_confirmed("phonics", world.s3, data_manager(world.s3), {(1, MARK): 40}, year=YEAR - 1)
    retakers = year_group(world.s1, 2, 2, first=2)  # this year the two who did not meet are checked again
    upload_confirmed("phonics", world.s1, user, {(1, MARK): 33, (2, MARK): 10})

    call_command("measures", "phonics", "--year", str(YEAR))

    out = capsys.readouterr().out
    assert f"Stored Phonics {YEAR - 1}/{YEAR % 100} run" in out and "3 pupils in 1 school" in out
    run = services.latest_run("phonics", YEAR)
    by_end = figure(run, "phonics_y2_met_by_end", school=world.s1)
    # The first met it in Year 1 and was not checked again; the second met it in the retake.
    assert (by_end["figure"], by_end["pupils"]) == (pytest.approx(2 / 3), 3)
    second = PrimaryPupilFigure.objects.get(run=run, upn=retakers[0].upn)
    assert second.results == {"phonics_mark": "33", "phonics_mark_year1": "20"}
    assert second.figures["phonics_y2_met_by_end"] is True
    # No Year 1 pupil this year: no Year 1 figure, rather than a zero.
    assert figure(run, "phonics_y1_met", school=world.s1) == {"figure": None, "pupils": 0, "national": None}


def test_a_school_run_stores_only_that_school_and_the_nation_and_names_organisations_in_files(
    world, tmp_path, capsys
):
    year_group(world.s1, 1, 2)
    year_group(world.s3, 1, 2)
    upload_confirmed("phonics", world.s1, world.person("manage_data"), {(1, MARK): 35, (2, MARK): 20})
    upload_confirmed("phonics", world.s3, data_manager(world.s3), {(1, MARK): 40, (2, MARK): 33})

    call_command("measures", "phonics", "--year", str(YEAR), "--school", world.s1.dfe_number)
    run = MeasureRun.objects.get(key_stage="phonics", status=RunStatus.COMPLETE)
    assert run.school == world.s1 and run.pupils == 2
    stored = PrimaryFigure.objects.filter(run=run, group="all", value="all")
    assert {(f.school_id, f.organisation_id) for f in stored} == {(world.s1.pk, None), (None, None)}
    assert figure(run, "phonics_y1_met")["figure"] == 0.75  # the nation is every school's pupils
    assert {p.school_id for p in PrimaryPupilFigure.objects.filter(run=run)} == {world.s1.pk}

    aggregates = tmp_path / "aggregates.csv"
    call_command("measures", "phonics", "--year", str(YEAR), "--aggregate-out", str(aggregates))
    text = aggregates.read_text()
    assert "Home Trust" in text and "800 Home Authority" in text
    assert "Wrote" in capsys.readouterr().out


def test_primary_from_the_database_says_what_is_missing(world):
    with pytest.raises(CommandError, match=f"No school has confirmed KS2 results for {YEAR - 1}/"):
        call_command("measures", "ks2", "--year", str(YEAR))
    assert MeasureRun.objects.get().status == RunStatus.FAILED
    with pytest.raises(CommandError, match="--framework-year is for files"):
        call_command("measures", "ks2", "--year", str(YEAR), "--framework-year", "2026")
    with pytest.raises(CommandError, match="--estimates: not for ks1, only for ks4"):
        call_command("measures", "ks1", "--year", str(YEAR), "--estimates", "platform")
    with pytest.raises(CommandError, match="cannot be given with --school"):
        call_command(
            "measures", "eyfsp", "--year", str(YEAR), "--school", "8004001", "--aggregate-out", "a.csv"
        )


def test_deleting_the_phonics_upload_in_use_refreshes_the_figures(world, django_capture_on_commit_callbacks):
    year_group(world.s1, 1, 2)
    user = world.person("manage_data")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_confirmed("phonics", world.s1, user, {(1, MARK): 35, (2, MARK): 20})
    refresh_measures.call("phonics", YEAR)
    assert services.latest_run("phonics", YEAR).pupils == 2
    with django_capture_on_commit_callbacks(execute=True):
        uploading.delete_upload(upload, actor=user)
    waiting = MeasureRun.objects.get(key_stage="phonics", status=RunStatus.QUEUED)
    refresh_measures.call("phonics", YEAR)
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.FAILED and "No school has confirmed Phonics results" in waiting.message


def test_confirming_last_years_phonics_refreshes_this_years_figures_once_computed(
    world, django_capture_on_commit_callbacks
):
    user = world.person("manage_data")
    year_group(world.s1, 2, 1, first=2)
    upload_confirmed("phonics", world.s1, user, {(1, MARK): 33})
    services.compute_and_store_primary("phonics", YEAR)
    year_group(world.s1, 1, 2, year=YEAR - 1)
    with django_capture_on_commit_callbacks(execute=True):
        upload_confirmed("phonics", world.s1, user, {(1, MARK): 36, (2, MARK): 20}, year=YEAR - 1)
    queued = MeasureRun.objects.filter(key_stage="phonics", status=RunStatus.QUEUED)
    assert sorted(queued.values_list("year", flat=True)) == [YEAR - 1, YEAR]


def test_trends_put_three_years_side_by_side_from_the_stored_runs(world, tmp_path, capsys):
    user = world.person("manage_data")
    marks = {YEAR - 2: (35, 20), YEAR - 1: (35, 36), YEAR: (10, 20)}
    for year, (first, second) in marks.items():
        year_group(world.s1, 1, 2, year=year, first=1 + 2 * (year - YEAR + 2))
        upload_confirmed("phonics", world.s1, user, {(1, MARK): first, (2, MARK): second}, year=year)
        services.compute_and_store_primary("phonics", year)
    services.compute_and_store_primary("phonics", YEAR, school=world.s1)  # a one-school run is not a year's

    out = tmp_path / "trends.csv"
    call_command("measures", "phonics", "--trends", "--school", world.s1.dfe_number)
    assert "phonics_y1_met: SUPP (national 0.50); SUPP (national 1.00); SUPP" in capsys.readouterr().out
    call_command(
        "measures",
        "phonics",
        "--trends",
        "--school",
        world.s1.dfe_number,
        "--trend-out",
        str(out),
        "--suppress-below",
        "0",
    )

    printed = capsys.readouterr().out
    assert f"School One, phonics, {YEAR - 3}/{(YEAR - 2) % 100}" in printed
    assert "phonics_y1_met: 0.50 (national 0.50); 1.00 (national 1.00); 0.00 (national 0.00)" in printed
    table = trends.trend_table("phonics", school=world.s1)
    row = table.filter(table["measure"] == "phonics_y1_average_mark").row(0, named=True)
    assert (row[f"{YEAR - 2} figure"], row[f"{YEAR - 1} figure"], row[f"{YEAR} figure"]) == (27.5, 35.5, 15.0)
    assert row[f"{YEAR} pupils"] == 2
    assert out.read_text().startswith("measure,")
    with pytest.raises(CommandError, match="No ks2 figures are stored yet"):
        call_command("measures", "ks2", "--trends")
    with pytest.raises(CommandError, match="--year cannot be given with it"):
        call_command("measures", "ks2", "--trends", "--year", str(YEAR))


def ks2_values(reading: list, maths: list, writing: list) -> dict:
    values = {}
    for n, (r, m, w) in enumerate(zip(reading, maths, writing, strict=True), start=1):
        values[(n, "Reading test scaled score")] = r
        values[(n, "Maths test scaled score")] = m
        values[(n, "Writing teacher assessment")] = w
    return values


def test_ks2_progress_from_the_rosters_ks1_assessments_with_confidence_intervals(world):
    expected = {"ks1_reading": "EXS", "ks1_writing": "EXS", "ks1_maths": "EXS"}
    home = year_group(world.s1, 6, 4, **expected)
    Pupil.objects.filter(pk=home[3].pk).update(ks1_reading="A")  # absent at KS1: no prior attainment
    year_group(world.s3, 6, 3, **expected)
    upload_confirmed(
        "ks2-ta",
        world.s1,
        world.person("manage_data"),
        ks2_values([100, 104, 108, 120], [110] * 4, ["EXS"] * 4),
    )
    upload_confirmed(
        "ks2-ta", world.s3, data_manager(world.s3), ks2_values([96, 100, 104], [100] * 3, ["EXS"] * 3)
    )

    run, _figures = services.compute_and_store_primary("ks2", YEAR)

    # Everyone with KS1 is in one prior attainment group; its national means: reading 102, maths 105.
    reading = figure(run, "ks2_reading_progress", school=world.s1)
    assert (reading["figure"], reading["pupils"]) == (pytest.approx(2), 3)
    # CI: 1.96 x the national SD of pupils' progress (-2, 2, 6, -6, -2, 2: SD sqrt(88/5)) / sqrt(3).
    half = 1.96 * (88 / 5) ** 0.5 / 3**0.5
    assert (reading["ci_low"], reading["ci_high"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert reading["significance"] == "not significant"
    maths = figure(run, "ks2_maths_progress", school=world.s3)
    # Maths progress is +5 at S1 and -5 at S3 for every pupil: SD sqrt(30), so -5 is within its CI.
    assert maths["figure"] == pytest.approx(-5) and maths["significance"] == "not significant"
    assert maths["ci_high"] == pytest.approx(-5 + 1.96 * 30**0.5 / 3**0.5)
    assert figure(run, "ks2_writing_progress", school=world.s1)["figure"] == pytest.approx(0)
    assert figure(run, "ks2_reading_progress")["figure"] == pytest.approx(0)  # the nation
    # Attainment counts the pupil without KS1: 4 of 4 reach 100 in reading at S1.
    assert figure(run, "ks2_reading_expected", school=world.s1)["figure"] == 1.0
    absent = PrimaryPupilFigure.objects.get(run=run, upn=home[3].upn)
    assert absent.results["ks1_reading_ta"] == "A" and absent.figures["ks2_reading_progress"] is None
    first = PrimaryPupilFigure.objects.get(run=run, upn=home[0].upn)
    assert first.figures["ks1_aps"] == 8 and first.figures["ks2_reading_progress"] == pytest.approx(-2)


def test_ks2_reads_ks1_from_the_ks1_collection_four_years_before_over_the_roster(world):
    user = world.person("manage_data")
    year_group(world.s1, 2, 3, year=YEAR - 4)
    ks1 = {}
    for n, outcome in enumerate(("GDS", "EXS", "EXS"), start=1):
        for subject in ("Reading", "Writing", "Maths"):
            ks1[(n, f"Teacher Assessment: KS1 {subject}")] = outcome
    upload_confirmed("ks1", world.s1, user, ks1, year=YEAR - 4)
    # The roster says WTS for the first pupil; the confirmed KS1 results say GDS, and count.
    pupils = year_group(world.s1, 6, 3, ks1_reading="WTS", ks1_writing="WTS", ks1_maths="WTS")
    upload_confirmed("ks2-ta", world.s1, user, ks2_values([110, 100, 102], [100] * 3, ["EXS"] * 3))

    run, _figures = services.compute_and_store_primary("ks2", YEAR)

    stored = {p.upn: p for p in PrimaryPupilFigure.objects.filter(run=run)}
    assert [stored[p.upn].figures["ks1_aps"] for p in pupils] == [10, 8, 8]
    assert stored[pupils[0].upn].results["ks1_reading_ta"] == "GDS"
    # The two with EXS at KS1 share a group (mean reading 101); the first is alone in hers.
    assert [stored[p.upn].figures["ks2_reading_progress"] for p in pupils] == [0, -1, 1]


def test_no_ks2_progress_in_a_year_dfe_measures_none(world):
    expected = {"ks1_reading": "EXS", "ks1_writing": "EXS", "ks1_maths": "EXS"}
    pupils = year_group(world.s1, 6, 2, year=YEAR - 1, **expected)  # 2024/25: KS1 was not assessed in 2021
    upload_confirmed(
        "ks2-ta",
        world.s1,
        world.person("manage_data"),
        ks2_values([100, 104], [110] * 2, ["EXS"] * 2),
        year=YEAR - 1,
    )

    run, _figures = services.compute_and_store_primary("ks2", YEAR - 1)

    assert f"DfE measures no KS2 progress from KS1 for {YEAR - 2}/{(YEAR - 1) % 100}" in run.message
    reading = figure(run, "ks2_reading_progress", school=world.s1)
    assert (reading["figure"], reading["pupils"], reading["ci_low"]) == (None, 0, None)
    stored = PrimaryPupilFigure.objects.get(run=run, upn=pupils[0].upn)
    assert "ks1_reading_ta" not in stored.results and stored.figures["ks2_reading_expected"] is True
