"""Retention: what is past its period goes, files from storage as well as rows; school and national
figures, a collection still open and a submission inside its period stay; a dry run deletes nothing;
each purge is in the audit log; the worker queues one a day."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keystage.audit.log import record
from keystage.audit.models import AuditAction, AuditEvent
from keystage.measures.models import MeasureRun, PrimaryPupilFigure, PupilFigure, SchoolFigure
from keystage.privacy import retention
from keystage.pupils.models import Pupil
from keystage.reports.models import ExportStatus, ReportExport
from keystage.results.models import FrozenSubmission, Result, SubmittedPupil, Upload, UploadStatus
from keystage.returns.models import PublishedReport, Return, ReturnedPupil
from tests.conftest import signed_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.privacy.conftest import (
    THIS_YEAR,
    closed_collection,
    ks4_run,
    open_collection_of_year,
    phonics_run,
    published_report,
    return_round,
    roster_pupil,
    sent_return,
    stored,
    upload,
    upn_of,
)
from tests.reports.conftest import reports_world  # noqa: F401  (a fixture used here)

OLD = THIS_YEAR - 8  # past both periods (2 and 6 academic years)
MID = THIS_YEAR - 4  # past the uploads' period, inside the pupil-level one
RECENT = THIS_YEAR - 1

EXPECTED = {
    "uploads": 3,  # OLD's file with errors and overwritten file, MID's file with errors
    "upload_files": 6,  # those files and their two error workbooks, and OLD's submission's file
    "submitted_pupils": 3,  # OLD's overwritten file's pupil and its submission's two
    "results": 3,
    "roster_pupils": 1,  # the pupil who left in OLD; the one still on roll keeps OLD's record
    "pupil_figures": 2,  # OLD's KS4 and phonics figures of a pupil
    "return_files": 1,
    "returned_pupils": 1,
    "published_reports": 1,
    "report_exports": 1,  # the week-old PDF
    "audit_events": 0,  # kept: KEYSTAGE_RETAIN_AUDIT_YEARS is not set
}


def _export(world, *, days_old: int) -> ReportExport:
    export = ReportExport(
        requested_by=world.person("school_named"),
        organisation=world.s1,
        path="/reports/",
        title="Pupil list",
        filename="pupils.pdf",
        status=ExportStatus.READY,
        personal=True,
    )
    export.file.save("pupils.pdf", ContentFile(b"%PDF pupils"), save=False)
    export.save()
    ReportExport.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return export


@pytest.fixture
def held(world):
    s1 = world.s1
    leaver, stayer, mid_pupil, recent_pupil, open_year_pupil = (upn_of(s1, n) for n in range(1, 6))
    old, mid = closed_collection("phonics", OLD), closed_collection("phonics", MID)
    still_open = open_collection_of_year("ks1", OLD - 1)
    for year, upn in (
        (OLD, leaver),
        (OLD, stayer),
        (RECENT, stayer),
        (MID, mid_pupil),
        (OLD - 1, open_year_pupil),
    ):
        roster_pupil(s1, year, upn, on_roll=not (year == OLD and upn == leaver))
    round_old, round_mid = return_round(world.la, OLD), return_round(world.la, MID)
    return SimpleNamespace(
        world=world,
        leaver=leaver,
        old_submission=upload(
            old, s1, [leaver, stayer], status=UploadStatus.REPORTS, in_use=True, frozen=True
        ),
        old_error=upload(old, s1, [], status=UploadStatus.ERROR, error_workbook=True),
        old_overwritten=upload(old, s1, [leaver], status=UploadStatus.OVERWRITTEN),
        mid_submission=upload(mid, s1, [mid_pupil], in_use=True, frozen=True),
        mid_error=upload(mid, s1, [], status=UploadStatus.ERROR, error_workbook=True),
        open_error=upload(still_open, s1, [], status=UploadStatus.ERROR, error_workbook=True),
        recent_submission=upload(closed_collection("phonics", RECENT), s1, [recent_pupil], in_use=True),
        old_run=ks4_run(s1, OLD, [leaver]),
        old_phonics_run=phonics_run(s1, OLD, [leaver]),
        mid_run=ks4_run(s1, MID, [mid_pupil]),
        old_return=sent_return(s1, round_old, [leaver]),
        old_report=published_report(s1, round_old),
        mid_return=sent_return(s1, round_mid, [mid_pupil]),
        mid_report=published_report(s1, round_mid),
        old_export=_export(world, days_old=8),
        fresh_export=_export(world, days_old=1),
    )


def _files(held) -> dict[str, bool]:
    """Whether each stored file is still on disk."""
    return {
        "old submission": stored(held.old_submission.file).exists(),
        "old error file": stored(held.old_error.file).exists(),
        "old error workbook": stored(held.old_error.error_workbook).exists(),
        "old overwritten": stored(held.old_overwritten.file).exists(),
        "mid submission": stored(held.mid_submission.file).exists(),
        "mid error file": stored(held.mid_error.file).exists(),
        "mid error workbook": stored(held.mid_error.error_workbook).exists(),
        "open collection's file": stored(held.open_error.file).exists(),
        "open collection's workbook": stored(held.open_error.error_workbook).exists(),
        "recent submission": stored(held.recent_submission.file).exists(),
        "old return": stored(held.old_return.file).exists(),
        "old report": stored(held.old_report.file).exists(),
        "mid return": stored(held.mid_return.file).exists(),
        "mid report": stored(held.mid_report.file).exists(),
        "old export": stored(held.old_export.file).exists(),
        "fresh export": stored(held.fresh_export.file).exists(),
    }


def _rows() -> dict[str, int]:
    models = (
        Upload,
        SubmittedPupil,
        Result,
        Pupil,
        PupilFigure,
        PrimaryPupilFigure,
        SchoolFigure,
        MeasureRun,
    )
    counts = {model.__name__: model.objects.count() for model in models}
    counts.update(
        returns=Return.objects.count(),
        returned_pupils=ReturnedPupil.objects.count(),
        reports=PublishedReport.objects.count(),
        exports=ReportExport.objects.count(),
        frozen=FrozenSubmission.objects.count(),
    )
    return counts


def _purges():
    return AuditEvent.objects.filter(action=AuditAction.RETENTION_PURGED)


def test_a_purge_deletes_what_is_past_its_period_files_and_rows_and_keeps_the_rest(held):
    assert all(_files(held).values())
    purge = retention.purge_expired()

    assert purge.counts == EXPECTED
    assert _files(held) == {
        "old submission": False,
        "old error file": False,
        "old error workbook": False,
        "old overwritten": False,
        "mid submission": True,  # a submission inside the pupil-level period stays whole
        "mid error file": False,
        "mid error workbook": False,
        "open collection's file": True,  # the collection is still open
        "open collection's workbook": True,
        "recent submission": True,
        "old return": False,
        "old report": False,
        "mid return": True,
        "mid report": True,
        "old export": False,
        "fresh export": True,
    }
    remaining = set(Upload.objects.values_list("pk", flat=True))
    assert remaining == {
        held.old_submission.pk,
        held.mid_submission.pk,
        held.open_error.pk,
        held.recent_submission.pk,
    }
    # The old submission's row stays as the record of the collection, holding nothing about pupils.
    old_submission = Upload.objects.get(pk=held.old_submission.pk)
    assert not old_submission.file and not old_submission.error_workbook and old_submission.issues == []
    assert old_submission.in_use and old_submission.frozen_as.exists()
    assert not SubmittedPupil.objects.filter(upload=old_submission).exists()
    assert SubmittedPupil.objects.filter(upload=held.mid_submission).count() == 1
    assert Upload.objects.get(pk=held.mid_submission.pk).issues  # inside its period: untouched
    # The pupil who left in OLD is gone from the roster; the one still on roll keeps every year.
    assert not Pupil.objects.filter(upn=held.leaver).exists()
    assert Pupil.objects.filter(upn=upn_of(held.world.s1, 2)).count() == 2
    assert Pupil.objects.filter(academic_year=OLD - 1).count() == 1  # a year with a collection open
    # Pupils' figures go; the runs and the school's figures (not about any one pupil) stay.
    assert not PupilFigure.objects.filter(run=held.old_run).exists()
    assert not PrimaryPupilFigure.objects.filter(run=held.old_phonics_run).exists()
    assert PupilFigure.objects.filter(run=held.mid_run).count() == 1
    assert SchoolFigure.objects.filter(run=held.old_run).count() == 1
    assert MeasureRun.objects.count() == 3
    # The file sent to the LA goes, and the pupils read from it; its record stays.
    old_return = Return.objects.get(pk=held.old_return.pk)
    assert not old_return.file and old_return.issues == [] and not old_return.pupils.exists()
    assert not PublishedReport.objects.filter(pk=held.old_report.pk).exists()
    assert ReturnedPupil.objects.filter(sent_return=held.mid_return).count() == 1
    assert list(ReportExport.objects.values_list("pk", flat=True)) == [held.fresh_export.pk]

    event = _purges().get()
    assert event.actor is None and event.organisation is None
    assert {kind: event.detail[kind] for kind in EXPECTED} == EXPECTED
    assert event.detail["uploads_through"] == THIS_YEAR - 3
    assert event.detail["pupil_data_through"] == THIS_YEAR - 7


def test_a_dry_run_counts_the_same_and_deletes_nothing(held):
    files, rows = _files(held), _rows()
    purge = retention.purge_expired(dry_run=True)
    assert purge.counts == EXPECTED
    assert _files(held) == files
    assert _rows() == rows
    assert Upload.objects.get(pk=held.old_submission.pk).issues
    assert not _purges().exists()


def test_a_second_purge_finds_nothing_left_and_says_so(held):
    retention.purge_expired()
    again = retention.purge_expired()
    assert again.total == 0
    assert _purges().count() == 2
    assert _purges().first().subject == "Data past its retention period: 0 deleted"


def test_the_periods_follow_the_settings(held, settings):
    settings.KEYSTAGE_RETAIN_UPLOADS_YEARS = 10
    settings.KEYSTAGE_RETAIN_PUPIL_DATA_YEARS = 10
    purge = retention.purge_expired(dry_run=True)
    assert purge.counts == {**dict.fromkeys(EXPECTED, 0), "report_exports": 1}
    settings.KEYSTAGE_RETAIN_PUPIL_DATA_YEARS = 3  # MID is now past the pupil-level period too
    purge = retention.purge_expired(dry_run=True)
    assert purge.counts["pupil_figures"] == 3 and purge.counts["return_files"] == 2


def test_audit_entries_go_only_when_their_period_is_set(world, settings):
    old = record(AuditAction.PUPILS_VIEWED, actor=world.person("school_named"), organisation=world.s1)
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3 * 366))
    recent = record(AuditAction.PUPILS_VIEWED, actor=world.person("school_named"), organisation=world.s1)
    assert retention.purge_expired().counts["audit_events"] == 0
    assert AuditEvent.objects.filter(pk=old.pk).exists()
    settings.KEYSTAGE_RETAIN_AUDIT_YEARS = 2
    assert retention.purge_expired().counts["audit_events"] == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(pk=recent.pk).exists()


def test_the_command_prints_each_kind_and_a_dry_run_deletes_nothing(held):
    out = io.StringIO()
    call_command("retention", "purge", "--dry-run", stdout=out)
    printed = out.getvalue()
    assert "would be deleted" in printed and "Dry run: nothing was deleted." in printed
    lines = {
        line.strip().split("  ", 1)[1]: line.split()[0]
        for line in printed.splitlines()
        if line.startswith("  ")
    }
    assert lines["uploaded files and error workbooks"] == "6"
    assert lines["roster records of pupils who have left"] == "1"
    assert all(_files(held).values())
    out = io.StringIO()
    call_command("retention", "purge", stdout=out)
    assert "Deleted 22 in all" in out.getvalue()
    assert not stored(held.old_error.file).exists()


def test_pages_of_purged_files_say_so_and_never_fail(held):
    world = held.world
    officer = signed_in(world.person("la_data_officer"))
    retention.purge_expired()
    detail = officer.get(reverse("returns:return_detail", args=[held.old_return.pk]))
    assert detail.status_code == 200 and "deleted when its retention period ended" in detail.content.decode()
    download = officer.get(reverse("returns:return_download", args=[held.old_return.pk]), follow=True)
    assert "This file was deleted when its retention period ended" in download.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.RETURN_DOWNLOADED).exists()
    school_page = officer.get(
        reverse("returns:round_school", args=[world.la.pk, held.old_return.round_id, world.s1.pk])
    )
    assert school_page.status_code == 200
    assert "Deleted when its retention period ended" in school_page.content.decode()
    again = officer.post(
        reverse("returns:check_again", args=[world.la.pk, held.old_return.round_id, world.s1.pk]), follow=True
    )
    assert "This file was deleted when its retention period ended" in again.content.decode()
    submitter = signed_in(world.person("manage_data"))
    page = submitter.get(reverse("results:upload_detail", args=[held.old_submission.pk]))
    assert page.status_code == 200
    assert submitter.get(reverse("results:history")).status_code == 200
    gone = submitter.get(reverse("results:download_file", args=[held.old_submission.pk]), follow=True)
    assert gone.status_code == 200 and "no longer kept" in gone.content.decode()


@pytest.mark.django_db(transaction=True)  # the worker commits as it runs, as it does for real
def test_the_worker_queues_a_purge_once_a_day(held):
    assert retention.queue_daily_purge() is True
    assert retention.queue_daily_purge() is False  # one is waiting
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    assert _purges().count() == 1
    assert not stored(held.old_error.file).exists()
    assert retention.queue_daily_purge() is False  # done within the day
    assert retention.queue_daily_purge(now=timezone.now() + timedelta(days=1, minutes=1)) is True


@pytest.mark.django_db(transaction=True)  # the failed task is committed as a real worker's is
def test_a_failing_purge_is_tried_again_hourly_not_on_every_sweep(held, monkeypatch):
    def storage_refuses(*args, **kwargs):
        raise OSError("the object store refused the delete")

    monkeypatch.setattr(retention, "_delete_files", storage_refuses)
    assert retention.queue_daily_purge() is True
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    assert not _purges().exists()  # it failed: nothing recorded as purged
    assert stored(held.old_error.file).exists()
    assert retention.queue_daily_purge() is False  # the next sweep, a minute on
    assert retention.queue_daily_purge(now=timezone.now() + timedelta(hours=1, minutes=1)) is True


def test_reports_of_a_year_past_the_pupil_period_keep_figures_and_name_no_pupil(reports_world, settings):  # noqa: F811
    world = reports_world
    settings.KEYSTAGE_RETAIN_PUPIL_DATA_YEARS = 1  # the two older of the reports' three years are past it
    purged_year = THIS_YEAR - 2
    assert retention.purge_expired().counts["pupil_figures"] > 0
    assert not PupilFigure.objects.filter(run__year__lte=purged_year).exists()
    assert PupilFigure.objects.filter(run__year=THIS_YEAR - 1, school=world.s1).exists()
    head = signed_in(world.person("school_named"))
    for page in ("dashboard", "explore", "scatter", "subjects", "inspection", "pupils"):
        url = reverse(f"reports:{page}", args=[world.s1.pk, "ks4", purged_year])
        response = head.get(url)
        assert response.status_code == (404 if page == "scatter" else 200), page
        assert not re.search(r"\b[A-Z][0-9]{11}[0-9A-Z]\b", response.content.decode()), page
    scatter = head.get(reverse("reports:scatter", args=[world.s1.pk, "ks4", purged_year]))
    assert "deleted when their retention period ended" in scatter.content.decode()
    dashboard = head.get(reverse("reports:dashboard", args=[world.s1.pk, "ks4", purged_year]))
    assert "Progress 8" in dashboard.content.decode()
    primary = signed_in(world.person("la_named"))
    for page, status in (("dashboard", 200), ("scatter", 404), ("pupils", 200)):
        response = primary.get(reverse(f"reports:{page}", args=[world.s2.pk, "ks2", purged_year]))
        assert response.status_code == status, page
