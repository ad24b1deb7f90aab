"""Figures stored from the database: a confirmed KS4 upload queues one refresh of the year (debounced),
the worker computes and stores every school's, the nation's and every pupil's figures with their
explanation, and reports read the latest complete run; a half-written run is never read."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.roles import Role
from keystage.measures import reference_choice, refresh, services
from keystage.measures.models import MeasureRun, PupilFigure, RunStatus, SchoolFigure, SubjectFigure
from keystage.measures.tasks import refresh_ks4_measures
from keystage.results.models import Result
from tests.factories import member
from tests.measures.conftest import (
    ART,
    COMBINED,
    FRENCH,
    HISTORY,
    LANGUAGE,
    LITERATURE,
    MATHS,
    confirm,
    gcse_collection,
    ks4_roster,
    upload_ks4,
)
from tests.results.conftest import YEAR, open_collection, roster

pytestmark = pytest.mark.usefixtures("ks4_catalogue", "progress8_in_2026")


def refresh_tasks() -> int:
    return DBTaskResult.objects.filter(task_path__endswith="refresh_measures").count()


@pytest.mark.django_db(transaction=True)
def test_a_confirmed_upload_refreshes_the_years_figures_in_the_worker(world):
    collection = gcse_collection()
    pupils = ks4_roster(world.s1, 8)
    user = world.person("manage_data")
    upload = upload_ks4(collection, world.s1, user, seed=4)
    confirm(upload, user)
    queued = MeasureRun.objects.get()
    assert (queued.status, queued.year, queued.source) == (RunStatus.QUEUED, YEAR, "refresh")
    assert services.latest_run("ks4", YEAR) is None  # nothing to read until the run is complete

    call_command("worker", "--batch", "--interval", "0")

    run = services.latest_run("ks4", YEAR)
    assert run is not None and run.pk == queued.pk and run.status == RunStatus.COMPLETE
    assert (run.pupils, run.schools, run.points_year) == (8, 1, 2021)
    assert run.estimates == "Platform 2026 national estimates (8 pupils)"
    stored = {f.upn: f for f in PupilFigure.objects.filter(run=run)}
    assert set(stored) == {p.upn for p in pupils}
    # The stored A8 is the engine's on the results as stored from the file.
    results = pl.DataFrame(
        list(Result.objects.filter(upload=upload).values_list("pupil__upn", "qan", "value")),
        schema=["upn", "qan", "grade"],
        orient="row",
    ).with_columns(pl.lit(None, dtype=pl.Date).alias("exam_date"))
    engine = pupil_measures(
        results,
        pl.DataFrame({"upn": [p.upn for p in pupils]}),
        points_table(reference_choice.database_catalogue(), YEAR),
    ).pupils
    assert {upn: stored[upn].a8 for upn in stored} == dict(engine.select("upn", "a8").iter_rows())
    assert all(f.a8 > 0 and f.p8 is not None for f in stored.values())
    assert all(f.explanation[-2].startswith("Attainment 8 ") for f in stored.values())
    everyone = SchoolFigure.objects.get(run=run, school=world.s1, group="all", value="all")
    national = SchoolFigure.objects.national().get(run=run, group="all", value="all")
    assert everyone.cohort == national.cohort == 8 and everyone.a8 == pytest.approx(national.a8)
    assert everyone.p8 == pytest.approx(0) and everyone.banding == "average" and everyone.rank == 1


def test_hand_filled_results_are_stored_with_each_pupils_figures_and_explanation(
    world, django_capture_on_commit_callbacks
):
    collection = gcse_collection()
    pupils = ks4_roster(world.s1, 3)
    user = world.person("manage_data")
    values = {
        (1, MATHS): "7",
        (1, LANGUAGE): "6",
        (1, LITERATURE): "8",
        (1, COMBINED): "65",
        (1, HISTORY): "5",
        (1, FRENCH): "4",
        (1, ART): "6",
        (2, MATHS): "3",
        (2, LANGUAGE): "4",
    }
    upload = upload_ks4(collection, world.s1, user, values=values)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(upload, user)
    assert refresh_tasks() == 1
    refresh_ks4_measures.call(YEAR)

    run = services.latest_run("ks4", YEAR)
    figures = {f.upn: f for f in PupilFigure.objects.filter(run=run)}
    first, second, third = (figures[p.upn] for p in pupils)
    assert (first.a8, first.a8_maths, first.a8_english, first.a8_ebacc, first.a8_open) == (62, 14, 16, 16, 16)
    assert first.ebacc_entered and first.em_5plus and first.ks2_pa == 105 and first.pag is not None
    assert (second.a8, second.em_4plus, third.a8, third.open_slots_filled) == (10, False, 0, 0)
    assert first.characteristics == {
        "sex": "M",
        "disadvantaged": True,
        "sen": "N",
        "eal": False,
        "non_mobile": True,
        "ethnicity_group": "WHIT",
        "month_of_birth": 2,
    }
    assert "(60146084) grade 7: 7 points, counted twice in maths." in first.explanation[0]
    assert first.explanation[-2] == (
        "Attainment 8 62: English 16, maths 14, EBacc 16 (3 of 3 slots), open 16 (3 of 3 slots)."
    )
    assert first.explanation[-1].endswith(f"against {run.estimates}.")
    assert third.explanation == [
        "Attainment 8 0: English 0, maths 0, EBacc 0 (0 of 3 slots), open 0 (0 of 3 slots).",
        third.explanation[-1],
    ]
    rows = {(f.group, f.value): f for f in SchoolFigure.objects.filter(run=run, school=world.s1)}
    assert rows[("all", "all")].cohort == 3 and rows[("all", "all")].a8 == pytest.approx(24)
    assert rows[("sex", "male")].cohort == 2 and rows[("disadvantaged", "disadvantaged")].cohort == 1
    assert rows[("ethnicity", "WHIT")].cohort == 3 and rows[("non_mobile", "non_mobile")].cohort == 3


def data_manager(school):
    return member(Role.MANAGE_DATA.value, school, email=f"data-{school.dfe_number}@example.org")


def test_confirmations_in_a_row_queue_one_refresh_until_it_starts(world, django_capture_on_commit_callbacks):
    s3_data = data_manager(world.s3)
    collection = gcse_collection()
    ks4_roster(world.s1, 4)
    ks4_roster(world.s3, 4)
    first = upload_ks4(collection, world.s1, world.person("manage_data"), seed=1)
    second = upload_ks4(collection, world.s3, s3_data, seed=2)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(first, world.person("manage_data"))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(second, s3_data)
    assert refresh_tasks() == 1
    assert MeasureRun.objects.filter(status=RunStatus.QUEUED).count() == 1

    run = refresh.run_queued_refresh("ks4", YEAR)
    assert run.status == RunStatus.COMPLETE and (run.pupils, run.schools) == (8, 2)
    assert refresh.run_queued_refresh("ks4", YEAR) is None  # a second task finds nothing to do
    # Once the refresh has started, a new confirmation queues another.
    newer = upload_ks4(collection, world.s1, world.person("manage_data"), seed=3)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(newer, world.person("manage_data"))
    assert refresh_tasks() == 2
    assert MeasureRun.objects.filter(status=RunStatus.QUEUED).count() == 1


def test_a_phonics_confirmation_refreshes_phonics_not_ks4(world, django_capture_on_commit_callbacks):
    from keystage.results import downloads, upload_checks, uploading
    from tests.results.conftest import as_file, filled

    collection = open_collection("phonics")
    roster(world.s1, "phonics", 2)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    data = filled(template, "phonics", {(1, "Phonics screening check mark"): 35})
    upload = uploading.upload_results(collection, world.s1, as_file(data), filename="p.xlsx", actor=user)
    upload = upload_checks.validate_stored_upload(upload.pk)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(upload, user)
    assert refresh_tasks() == 1
    assert list(MeasureRun.objects.values_list("key_stage", "status")) == [("phonics", RunStatus.QUEUED)]


def test_deleting_the_upload_in_use_refreshes_and_its_pupils_leave_the_figures(
    world, django_capture_on_commit_callbacks
):
    from keystage.results import uploading

    collection = gcse_collection()
    ks4_roster(world.s1, 4)
    ks4_roster(world.s3, 4)
    s1_data, s3_data = world.person("manage_data"), data_manager(world.s3)
    kept = upload_ks4(collection, world.s1, s1_data, seed=1)
    deleted = upload_ks4(collection, world.s3, s3_data, seed=2)
    spare = upload_ks4(collection, world.s3, s3_data, seed=5)  # never confirmed
    for upload, user in ((kept, s1_data), (deleted, s3_data)):
        with django_capture_on_commit_callbacks(execute=True):
            confirm(upload, user)
    before = refresh.run_queued_refresh("ks4", YEAR)
    assert (before.pupils, before.schools) == (8, 2)

    with django_capture_on_commit_callbacks(execute=True):
        uploading.delete_upload(spare, actor=s3_data)  # not in use: the figures stand
    assert not MeasureRun.objects.filter(status=RunStatus.QUEUED).exists()
    with django_capture_on_commit_callbacks(execute=True):
        uploading.delete_upload(deleted, actor=s3_data)
    after = refresh.run_queued_refresh("ks4", YEAR)
    assert after is not None and (after.pupils, after.schools) == (4, 1)
    assert services.latest_run("ks4", YEAR).pk == after.pk
    assert set(
        SchoolFigure.objects.filter(run=after, school__isnull=False).values_list("school", flat=True)
    ) == {world.s1.pk}


def test_a_refresh_whose_task_was_lost_is_queued_again(world):
    first = refresh.queue_refresh("ks4", YEAR)
    assert first is not None and refresh.queue_refresh("ks4", YEAR) is None  # debounced
    DBTaskResult.objects.all().delete()  # the task is gone and the run never started
    MeasureRun.objects.filter(pk=first.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    again = refresh.queue_refresh("ks4", YEAR)
    first.refresh_from_db()
    assert again is not None and again.pk != first.pk and refresh_tasks() == 1
    assert first.status == RunStatus.FAILED and "never started" in first.message


def test_the_command_stores_a_run_for_the_year_or_one_school(world, tmp_path):
    s3_data = data_manager(world.s3)
    collection = gcse_collection()
    ks4_roster(world.s1, 4)
    ks4_roster(world.s3, 3, ks2=(100.0, 100.0))
    confirm(
        upload_ks4(collection, world.s1, world.person("manage_data"), seed=5), world.person("manage_data")
    )
    confirm(
        upload_ks4(collection, world.s3, s3_data, seed=6),
        s3_data,
    )
    out = tmp_path / "pupils.csv"
    from io import StringIO

    printed = StringIO()
    call_command(
        "measures", "ks4", "--year", str(YEAR), "--estimates", "dfe-2024-provisional", stdout=printed
    )
    run = services.latest_run("ks4", YEAR)
    assert f"Stored KS4 2025/26 run {run.pk}: 7 pupils in 2 schools" in printed.getvalue()
    assert run.estimates == "DfE 2024 provisional estimates" and run.source == "command"
    assert PupilFigure.objects.filter(run=run).count() == 7

    printed = StringIO()
    call_command(
        "measures", "ks4", "--year", str(YEAR), "--school", "8002002", "--pupil-out", out, stdout=printed
    )
    scoped = MeasureRun.objects.exclude(pk=run.pk).get()
    assert scoped.school == world.s3 and scoped.pupils == 3 and scoped.schools == 1
    assert set(PupilFigure.objects.filter(run=scoped).values_list("school_id", flat=True)) == {world.s3.pk}
    # The school's figures are stored with the national ones (computed over every school).
    national = SchoolFigure.objects.national().get(run=scoped, group="all", value="all")
    assert national.cohort == 7
    assert services.latest_run("ks4", YEAR) == run  # a one-school run is not every school's figures
    assert services.latest_run("ks4", YEAR, school=world.s3) == scoped
    assert services.latest_run("ks4", YEAR, school=world.s1) == run
    assert set(pl.read_csv(out).get_column("school").cast(pl.String)) == {"8002002"}
    assert "School 8002002: 3 pupils" in printed.getvalue()


def test_the_command_says_when_there_is_nothing_to_compute(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"No school has confirmed KS4 results for 2024/25\."):
        call_command("measures", "ks4", "--year", "2025")
    failed = MeasureRun.objects.get()
    assert failed.status == RunStatus.FAILED and "No school has confirmed" in failed.message
    collection = gcse_collection()
    ks4_roster(world.s1, 2)
    confirm(upload_ks4(collection, world.s1, world.person("manage_data")), world.person("manage_data"))
    with pytest.raises(CommandError, match=r"School Four has no confirmed KS4 results for 2025/26\."):
        call_command("measures", "ks4", "--year", str(YEAR), "--school", "8014001")
    with pytest.raises(CommandError, match="No school with DfE number 8019999"):
        call_command("measures", "ks4", "--year", str(YEAR), "--school", "8019999")
    assert services.latest_run("ks4", YEAR) is None


def test_a_run_that_fails_while_storing_leaves_nothing_half_written(world, monkeypatch):
    collection = gcse_collection()
    ks4_roster(world.s1, 3)
    confirm(upload_ks4(collection, world.s1, world.person("manage_data")), world.person("manage_data"))
    good, _figures = services.compute_and_store_ks4(YEAR, estimates="dfe-2024-provisional")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(PupilFigure.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        services.compute_and_store_ks4(YEAR, estimates="dfe-2024-provisional")
    failed = MeasureRun.objects.exclude(pk=good.pk).get()
    assert failed.status == RunStatus.FAILED and "disk full" in failed.message
    assert not SchoolFigure.objects.filter(run=failed).exists()  # the school figures went back too
    assert services.latest_run("ks4", YEAR) == good
    assert SchoolFigure.objects.filter(run=good).exists()


def test_a_run_stores_trust_la_and_subject_figures(world, tmp_path):
    collection = gcse_collection()
    ks4_roster(world.s1, 3)  # School One: in the Home Trust and the home LA
    ks4_roster(world.s3, 2)  # School Three: the same LA, no trust
    s1_data, s3_data = world.person("manage_data"), data_manager(world.s3)
    s1_values = {(1, MATHS): "7", (1, ART): "6", (2, MATHS): "3", (3, MATHS): "U", (3, ART): "4"}
    confirm(upload_ks4(collection, world.s1, s1_data, values=s1_values), s1_data)
    confirm(upload_ks4(collection, world.s3, s3_data, values={(1, MATHS): "5", (2, ART): "8"}), s3_data)

    run, _figures = services.compute_and_store_ks4(YEAR, estimates="dfe-2024-provisional")

    def figure(**where):
        return SchoolFigure.objects.get(run=run, group="all", value="all", **where)

    school_one, trust, la = (
        figure(school=world.s1),
        figure(organisation=world.trust),
        figure(organisation=world.la),
    )
    national = SchoolFigure.objects.national().get(run=run, group="all", value="all")
    a8 = dict(PupilFigure.objects.filter(run=run).values_list("upn", "a8"))
    # The trust has one school here, so its figures are that school's; the LA's are over both schools.
    assert (trust.cohort, trust.a8, trust.p8) == (
        3,
        pytest.approx(school_one.a8),
        pytest.approx(school_one.p8),
    )
    assert la.cohort == national.cohort == 5 and la.a8 == pytest.approx(sum(a8.values()) / 5)
    assert SchoolFigure.objects.filter(run=run, organisation=world.away_trust).count() == 0
    assert SchoolFigure.objects.filter(run=run, organisation=world.trust, group="sex").count() == 2

    catalogue = reference_choice.database_catalogue()
    maths_code = catalogue.by_qan("60146084").discount_code(2021)

    def subject(code, **where):
        return SubjectFigure.objects.get(run=run, group="all", value="all", subject=code, **where)

    maths = subject(maths_code, school=world.s1)  # 7, 3 and U (0 points): three entries
    assert (maths.cohort, maths.entries, maths.average_points) == (3, 3, pytest.approx(10 / 3))
    assert maths.grades == [["7", 1], ["3", 1], ["U", 1]]
    others = SubjectFigure.objects.filter(run=run, school=world.s1, group="all").exclude(subject=maths_code)
    assert [(f.subject_name, f.entries) for f in others] == [
        ("Art & Design", 2)
    ]  # DfE's description of the code
    assert subject(maths_code, organisation=world.trust).entries == 3
    la_maths = subject(maths_code, organisation=world.la)
    assert (la_maths.cohort, la_maths.entries) == (5, 4)
    assert la_maths.average_points == pytest.approx((7 + 3 + 0 + 5) / 4)
    national_maths = SubjectFigure.objects.national().get(
        run=run, group="all", value="all", subject=maths_code
    )
    # Every pupil has the same KS2, so value added is each entry's points less the national mean.
    assert national_maths.va == pytest.approx(0)
    assert maths.va == pytest.approx(10 / 3 - 15 / 4) and maths.va_pupils == 3
    assert run.subjects_basis.startswith("Subject value added against the national mean points")

    out = tmp_path / "aggregates.csv"
    call_command(
        "measures", "ks4", "--year", str(YEAR), "--estimates", "dfe-2024-provisional", "--aggregate-out", out
    )
    everyone = pl.read_csv(out).filter(pl.col("group") == "all")
    assert sorted(everyone.select("level", "organisation", "cohort").rows()) == [
        ("la", f"{world.la.code} {world.la.name}", 5),
        ("trust", "Home Trust", 3),
    ]

    scoped, _figures = services.compute_and_store_ks4(YEAR, school=world.s3, estimates="dfe-2024-provisional")
    assert not SchoolFigure.objects.filter(run=scoped, organisation__isnull=False).exists()
    assert not SubjectFigure.objects.filter(run=scoped, organisation__isnull=False).exists()
    assert set(
        SubjectFigure.objects.filter(run=scoped, school__isnull=False).values_list("school", flat=True)
    ) == {world.s3.pk}
    assert SubjectFigure.objects.national().filter(run=scoped, subject=maths_code).exists()


@pytest.mark.django_db(transaction=True)
def test_once_figures_are_worked_out_the_upload_reads_reports_available_and_a_new_one_still_replaces_it(
    world,
):
    from keystage.accounts.models import Membership
    from tests.conftest import signed_in

    collection = gcse_collection()
    ks4_roster(world.s1, 8)
    user = world.person("manage_data")
    first = upload_ks4(collection, world.s1, user, seed=4)
    confirm(first, user)
    call_command("worker", "--batch", "--interval", "0")
    first.refresh_from_db()
    assert first.status == "reports" and first.in_use
    link = f"/reports/{world.s1.pk}/ks4/{YEAR}/"
    data_manager = signed_in(user).get("/uploads/").content.decode()
    assert "Reports available" in data_manager and link not in data_manager  # they cannot read reports
    Membership.objects.create(user=user, organisation=world.s1, role=Role.SCHOOL_NAMED)
    assert link in signed_in(user).get("/uploads/").content.decode()
    second = upload_ks4(collection, world.s1, user, seed=5)
    confirm(second, user)  # the one reading "Reports available" is overwritten, not kept in use beside it
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.in_use) == ("overwritten", False) and second.in_use
