"""Deleting what keystage holds about pupils once its retention period is over (UK GDPR: kept no
longer than needed). The periods are academic years after the academic year the data belongs to
(settings.KEYSTAGE_RETAIN_*; their defaults and the reasons for them are there):

- uploads (KEYSTAGE_RETAIN_UPLOADS_YEARS): the uploads that did not become a school's submission (files
  with errors, files never confirmed, files overwritten or deleted), with their files, error workbooks,
  validation results and the pupils they held;
- pupil-level data (KEYSTAGE_RETAIN_PUPIL_DATA_YEARS): the submissions' files, pupils and results (the
  upload's row stays, emptied, as the record that the school submitted), roster records of pupils who
  have left, pupils' figures (measures), the files schools sent their LA with the pupils read from them,
  and the reports the LA published to schools (they list pupils).

School, trust, LA and national figures are not about any one pupil and stay; so does the audit log, unless
KEYSTAGE_RETAIN_AUDIT_YEARS is set. Report PDFs kept for download go after a week (reports.exports).

Nothing of a collection that is still open, or of its academic year, is touched, and a school's
submission (the upload in use, or one a deadline froze) stays whole for the pupil-level period. Each
batch of uploads, each kind and each return round is purged in its own transaction, files first and then
their rows: a run stopped half way leaves rows whose file is gone (every download says so) and the next
run finishes them, never a file that no row points to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from keystage.audit import log
from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import academic_year_of
from keystage.measures.models import PrimaryPupilFigure, PupilFigure, RunStatus
from keystage.pupils.models import Pupil
from keystage.reports.exports import KEEP_EXPORTS
from keystage.reports.models import ReportExport
from keystage.results.models import Collection, FrozenSubmission, Result, SubmittedPupil, Upload
from keystage.returns.models import PublishedReport, Return, ReturnedPupil, ReturnRound

logger = logging.getLogger(__name__)

# What a purge counts, in the order it reports them.
KINDS: dict[str, str] = {
    "uploads": "uploads that were not a school's submission",
    "upload_files": "uploaded files and error workbooks",
    "submitted_pupils": "pupils in uploads",
    "results": "pupils' results",
    "roster_pupils": "roster records of pupils who have left",
    "pupil_figures": "pupils' figures (measures)",
    "return_files": "files sent to LAs",
    "returned_pupils": "pupils read from files sent to LAs",
    "published_reports": "reports LAs published to schools",
    "report_exports": "report PDFs kept for download",
    "audit_events": "audit log entries",
}
# A daily purge: the worker queues one when none has run for this long.
PURGE_EVERY = timedelta(days=1)
RETRY_FAILED_PURGE_AFTER = timedelta(hours=1)
# Uploads are purged this many at a time, each batch in its own transaction.
BATCH = 500


@dataclass
class Purge:
    """What one purge deleted (or, in a dry run, would delete)."""

    now: datetime
    dry_run: bool
    uploads_through: int  # the last academic year (by its end) whose other uploads are past their period
    pupil_data_through: int  # the last academic year whose pupil-level data is past its period
    audit_before: datetime | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> list[str]:
        """One line per kind, for the command and the log."""
        verb = "would be deleted" if self.dry_run else "deleted"
        lines = [
            f"Uploads that were not a school's submission, of {academic_year_name(self.uploads_through)} "
            f"and earlier: {verb}.",
            f"Pupil-level data of {academic_year_name(self.pupil_data_through)} and earlier: {verb}.",
        ]
        if self.audit_before is not None:
            before = timezone.localtime(self.audit_before)
            lines.append(f"Audit log entries from before {before:%d %B %Y}: {verb}.")
        else:
            lines.append("Audit log: kept (KEYSTAGE_RETAIN_AUDIT_YEARS is not set).")
        width = max(len(f"{n:,}") for n in self.counts.values())
        lines += [f"  {self.counts[kind]:>{width},}  {label}" for kind, label in KINDS.items()]
        return lines


def _years(name: str) -> int:
    value: int = getattr(settings, name)
    return value


def purge_expired(now: datetime | None = None, *, dry_run: bool = False, actor: Any = None) -> Purge:
    """Delete (or, with ``dry_run``, count) everything past its retention period at ``now``, and write
    one RETENTION_PURGED record with the counts (none for a dry run)."""
    now = now or timezone.now()
    this_year = academic_year_of(timezone.localdate(now))
    audit_years: int | None = settings.KEYSTAGE_RETAIN_AUDIT_YEARS
    purge = Purge(
        now=now,
        dry_run=dry_run,
        uploads_through=this_year - 1 - _years("KEYSTAGE_RETAIN_UPLOADS_YEARS"),
        pupil_data_through=this_year - 1 - _years("KEYSTAGE_RETAIN_PUPIL_DATA_YEARS"),
        audit_before=now - timedelta(days=round(365.25 * audit_years)) if audit_years else None,
    )
    # The academic years of collections not yet closed: nothing of those years is touched.
    open_years = set(Collection.objects.filter(final_deadline__gte=now).values_list("year", flat=True))
    closed = Collection.objects.filter(final_deadline__lt=now).exclude(year__in=open_years).order_by("pk")
    latest = max(purge.uploads_through, purge.pupil_data_through)
    for collection in closed.filter(year__lte=latest):
        _purge_collection(collection, purge, whole=collection.year <= purge.pupil_data_through)
    _purge_roster(purge, open_years)
    _purge_pupil_figures(purge, open_years)
    rounds = ReturnRound.objects.filter(year__lte=purge.pupil_data_through, year__lt=this_year)
    for round_ in rounds.exclude(year__in=open_years).order_by("pk"):
        _purge_round(round_, purge)
    _purge_report_exports(purge)
    _purge_audit(purge)
    if not dry_run:
        detail: dict[str, Any] = {
            "uploads_through": purge.uploads_through,
            "pupil_data_through": purge.pupil_data_through,
            **purge.counts,
        }
        log.record(
            AuditAction.RETENTION_PURGED,
            actor=actor,
            subject=f"Data past its retention period: {purge.total:,} deleted",
            **detail,
        )
        deleted = ", ".join(f"{n} {kind}" for kind, n in purge.counts.items() if n)
        logger.info("Retention purge: %s", deleted or "nothing was due")
    return purge


def _delete_files(names: Iterable[str]) -> int:
    """Delete stored files by name; a file already gone is not an error (an earlier run took it)."""
    count = 0
    for name in names:
        if name:
            default_storage.delete(name)
            count += 1
    return count


def _purge_collection(collection: Collection, purge: Purge, *, whole: bool) -> None:
    """A closed collection past a period: its uploads other than the schools' submissions go, rows and
    all; past the pupil-level period (``whole``), the submissions are emptied too."""
    uploads = Upload.objects.filter(collection=collection)
    submissions = Q(in_use=True) | Q(
        pk__in=FrozenSubmission.objects.filter(collection=collection).values("upload_id")
    )
    for batch in _batches(uploads.exclude(submissions)):
        _purge_uploads(batch, purge, keep_rows=False)
    if whole:
        for batch in _batches(uploads.filter(submissions)):
            _purge_uploads(batch, purge, keep_rows=True)


def _batches(uploads: QuerySet[Upload]) -> list[list[int]]:
    ids = list(uploads.order_by("pk").values_list("pk", flat=True))
    return [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]


def _purge_uploads(ids: list[int], purge: Purge, *, keep_rows: bool) -> None:
    """Uploads' files, pupils and results; their rows too unless ``keep_rows`` (a submission's row stays
    as the record that the school submitted, holding nothing about pupils: no file, error workbook or
    validation messages)."""
    chosen = Upload.objects.filter(pk__in=ids)
    with transaction.atomic():
        files = [name for row in chosen.values_list("file", "error_workbook") for name in row if name]
        pupils = SubmittedPupil.objects.filter(upload_id__in=ids)
        results = Result.objects.filter(upload_id__in=ids)
        counts = {"upload_files": len(files), "submitted_pupils": pupils.count(), "results": results.count()}
        _add(purge, {**counts, "uploads": 0 if keep_rows else len(ids)})
        if purge.dry_run:
            return
        _delete_files(files)
        results.delete()
        pupils.delete()
        if keep_rows:
            chosen.update(file="", error_workbook="", issues=[])
        else:
            chosen.delete()


def _purge_roster(purge: Purge, open_years: set[int]) -> None:
    """Roster records of pupils who have left: a pupil's records at a school go once the last academic
    year the school had them on its roll is past the period. A pupil still on roll keeps every year."""
    later = Pupil.objects.filter(
        school=OuterRef("school"), upn=OuterRef("upn"), academic_year__gt=purge.pupil_data_through
    )
    expired = (
        Pupil.objects.filter(academic_year__lte=purge.pupil_data_through)
        .exclude(academic_year__in=open_years)
        .filter(~Exists(later))
    )
    _delete_rows(expired, "roster_pupils", purge)


def _purge_pupil_figures(purge: Purge, open_years: set[int]) -> None:
    """Pupils' figures of runs past the period; the runs' school, trust, LA and national figures stay.
    A run still being computed is left to finish (its figures go on the next day's purge)."""
    finished = Q(run__status__in=[RunStatus.COMPLETE, RunStatus.FAILED]) & Q(
        run__year__lte=purge.pupil_data_through
    )
    ks4: QuerySet[Any] = PupilFigure.objects.filter(finished)
    primary: QuerySet[Any] = PrimaryPupilFigure.objects.filter(finished)
    for expired in (ks4, primary):
        _delete_rows(expired.exclude(run__year__in=open_years), "pupil_figures", purge)


def _delete_rows(rows: QuerySet[Any], kind: str, purge: Purge) -> None:
    with transaction.atomic():
        count = rows.count()
        purge.counts[kind] += count
        if count and not purge.dry_run:
            rows.delete()


def _purge_round(round_: ReturnRound, purge: Purge) -> None:
    """An LA return round past the period: the files schools sent (their rows stay, emptied, with the
    head teachers' confirmations and the LA's corrections), the pupils read from them, and the reports
    the LA published to its schools."""
    sent = Return.objects.filter(round=round_)
    reports = PublishedReport.objects.filter(round=round_)
    with transaction.atomic():
        return_files = [name for name in sent.select_for_update().values_list("file", flat=True) if name]
        report_files = [name for name in reports.values_list("file", flat=True) if name]
        counts = {
            "return_files": len(return_files),
            "returned_pupils": ReturnedPupil.objects.filter(sent_return__round=round_).count(),
            "published_reports": reports.count(),
        }
        _add(purge, counts)
        if purge.dry_run:
            return
        _delete_files([*return_files, *report_files])
        ReturnedPupil.objects.filter(sent_return__round=round_).delete()
        sent.update(file="", issues=[])
        reports.delete()


def _purge_report_exports(purge: Purge) -> None:
    """Report PDFs are kept a week for their requester (reports.exports); this is the daily sweep that
    takes them even when no one asks for another PDF."""
    old = ReportExport.objects.filter(created_at__lt=purge.now - KEEP_EXPORTS)
    with transaction.atomic():
        purge.counts["report_exports"] += old.count()
        if purge.dry_run:
            return
        for export in old:
            export.delete()  # its file goes with it (reports.models)


def _purge_audit(purge: Purge) -> None:
    if purge.audit_before is None:
        return
    _delete_rows(AuditEvent.objects.filter(created_at__lt=purge.audit_before), "audit_events", purge)


def _add(purge: Purge, counts: dict[str, int]) -> None:
    for kind, count in counts.items():
        purge.counts[kind] += count


# The daily run ------------------------------------------------------------------------------------


def purged_recently(now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return AuditEvent.objects.filter(
        action=AuditAction.RETENTION_PURGED, created_at__gt=now - PURGE_EVERY
    ).exists()


def queue_daily_purge(now: datetime | None = None) -> bool:
    """Queue the purge for a worker if none has run in the last day and none is waiting. Every worker
    asks once a minute (keystage worker's sweep); the task asks again before it starts, so a second one
    that two workers queued at the same moment finds the purge done. True if it queued one."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from keystage.privacy.tasks import purge_expired_data

    now = now or timezone.now()
    if purged_recently(now):
        return False
    # One waiting or running, or one that failed within the hour (storage refusing deletes, say): a
    # failing purge is tried again hourly, not on every worker's sweep, and its failure is in the queue.
    tried = DBTaskResult.objects.filter(task_path=purge_expired_data.module_path).filter(
        Q(status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING])
        | Q(enqueued_at__gt=now - RETRY_FAILED_PURGE_AFTER)
    )
    if tried.exists():
        return False
    purge_expired_data.enqueue()
    return True
