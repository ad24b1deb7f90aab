"""The checking job: a CTF a school sent is checked by the worker with the results engine, its
outcome and pupils kept; checks lost or stalled are queued again, and the LA may ask for a check
again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.results import rules
from keystage.core.results.reading import detect_format
from keystage.core.results.validation_report import ValidationReport
from keystage.results.services import CollectionError
from keystage.results.upload_checks import check_file
from keystage.returns.errors import RETENTION_ENDED, ReturnsError
from keystage.returns.models import Return, ReturnedPupil, ReturnStatus, Validation
from keystage.returns.rounds import require_la
from keystage.web.faults import DATABASE_UNAVAILABLE
from keystage.web.queue import first_args_pending

logger = logging.getLogger(__name__)

STALLED_AFTER = timedelta(minutes=2)
CHECK_ATTEMPTS = 3  # checks that may start without finishing before the file is refused
UNCHECKABLE_MESSAGE = rules.RETURN_UNCHECKABLE.message
_FORMAT_NAMES = {
    "xlsx": "an Excel workbook",
    "xls": "an old-style Excel workbook (.xls)",
    "ods": "an OpenDocument spreadsheet",
    "csv": "not XML (it reads as text or CSV)",
}


def queue_check(return_id: int) -> None:
    from keystage.returns.tasks import validate_return_task

    Return.objects.filter(pk=return_id).update(validation_queued_at=timezone.now())
    validate_return_task.enqueue(return_id)


def validate_return(return_id: int) -> Return | None:
    """The worker's part: check a CTF with the results engine and keep the outcome and its pupils.
    Safe to run twice: a return no longer waiting to be checked is left alone."""
    sent = Return.objects.select_related("round__la", "school").filter(pk=return_id).first()
    if sent is None or sent.validation != Validation.PENDING:
        return sent
    if sent.validation_attempts >= CHECK_ATTEMPTS:
        # Every earlier check of it died with its worker (memory, a crash in a reader): stop trying.
        logger.error("LA return %s refused after %s unfinished checks", return_id, sent.validation_attempts)
        return _finish(return_id, [rules.RETURN_UNCHECKABLE.issue().as_dict()], None)
    Return.objects.filter(pk=return_id).update(validation_attempts=F("validation_attempts") + 1)
    tag = sent.tag_info
    kind = tag.collection_kind
    if kind is None:
        return _finish(return_id, [], None)
    with sent.file.open("rb") as stored:
        data = stored.read()
    if data and detect_format(data) != "ctf":
        found = _FORMAT_NAMES.get(detect_format(data), "not a CTF")
        refused = rules.RETURN_NOT_CTF.issue(la=sent.round.la.name, tag=tag.label, found=found)
        return _finish(return_id, [refused.as_dict()], None)
    year = sent.round.year
    try:
        report = check_file(data, kind, year, sent.school)
    except CollectionError as error:
        return _finish(return_id, [rules.RETURN_NO_LAYOUT.issue(reason=str(error)).as_dict()], None)
    except DATABASE_UNAVAILABLE:
        raise  # not the file's fault: it stays waiting, and the task is run again (keystage worker)
    except Exception:  # never leave a file "being checked" for ever; the log has the details
        logger.exception("LA return %s could not be checked", return_id)
        return _finish(return_id, [rules.RETURN_CHECK_FAILED.issue().as_dict()], None)
    return _finish(return_id, [i.as_dict() for i in report.issues], report)


def _finish(return_id: int, issues: list[dict[str, Any]], report: ValidationReport | None) -> Return | None:
    errors = sum(1 for i in issues if i["severity"] == "error")
    with transaction.atomic():
        sent = Return.objects.select_for_update().filter(pk=return_id).first()
        if sent is None or sent.validation != Validation.PENDING:
            return sent  # another run finished first
        sent.issues = issues
        sent.error_count = errors
        sent.warning_count = len(issues) - errors
        sent.file_format = (report.format or "") if report else ""
        sent.pupil_count = len(report.pupils) if report else None
        sent.validation = (
            Validation.VALID if report is not None and report.readable and not errors else Validation.ERRORS
        )
        sent.validated_at = timezone.now()
        if sent.status == ReturnStatus.SENT:
            sent.status = ReturnStatus.VALIDATED
        sent.save()
        ReturnedPupil.objects.filter(sent_return=sent).delete()
        if report is not None and report.readable:
            seen: set[str] = set()
            pupils = []
            for pupil in report.pupils:
                if not pupil.upn or pupil.upn in seen:
                    continue
                seen.add(pupil.upn)
                pupils.append(
                    ReturnedPupil(
                        sent_return=sent,
                        upn=pupil.upn,
                        forename=pupil.forename[:100],
                        surname=pupil.surname[:100],
                        results=dict(pupil.results),
                    )
                )
            ReturnedPupil.objects.bulk_create(pupils, batch_size=1000)
        log.record(
            AuditAction.RETURN_VALIDATED,
            organisation=sent.school,
            subject=f"{sent.round}: {sent.filename}",
            sent_return=sent.pk,
            errors=sent.error_count,
            warnings=sent.warning_count,
            pupils=sent.pupil_count,
        )
    return sent


def requeue_stalled_validations(now: datetime | None = None) -> int:
    """CTFs left waiting with no check queued or running for them (the task was lost, or failed: its
    worker died each time it took it) are queued again; the task is safe to re-run. A dead worker's
    task is queued again by the worker itself (requeue_orphaned_tasks)."""
    from keystage.returns.tasks import validate_return_task

    now = now or timezone.now()
    waiting = Return.objects.filter(validation=Validation.PENDING).exclude(
        pk__in=first_args_pending(validate_return_task)
    )
    # A CTF whose every check died with its worker is refused by this sweep, not queued again.
    for return_id in waiting.filter(validation_attempts__gte=CHECK_ATTEMPTS).values_list("pk", flat=True):
        validate_return(return_id)
    ids = list(
        waiting.filter(validation_attempts__lt=CHECK_ATTEMPTS)
        .filter(Q(validation_queued_at__lt=now - STALLED_AFTER) | Q(validation_queued_at__isnull=True))
        .values_list("pk", flat=True)
    )
    for return_id in ids:
        queue_check(return_id)
    return len(ids)


def check_again(sent: Return, *, actor: Any, ip: str | None = None) -> Return:
    """The LA checks a CTF again with today's roster and reference data."""
    require_la(actor, sent.round.la)
    if not sent.tag_info.takes_ctf:
        raise ReturnsError(
            "Only CTF returns (EYFSP, Phonics, KS1, KS2 TA) are checked; "
            f"this is a {sent.tag_info.label} file."
        )
    with transaction.atomic():
        current = Return.objects.select_for_update().get(pk=sent.pk)
        if current.validation == Validation.PENDING:
            return current
        if not current.file:
            raise ReturnsError(RETENTION_ENDED)
        current.validation = Validation.PENDING
        current.validation_queued_at = timezone.now()
        # Accepted on the earlier check; the new check decides again.
        if current.status == ReturnStatus.ACCEPTED:
            current.status = ReturnStatus.SENT
            current.accepted_at = None
            current.accepted_by = None
        current.save(
            update_fields=["validation", "validation_queued_at", "status", "accepted_at", "accepted_by"]
        )
        log.record(
            AuditAction.RETURN_VALIDATED,
            actor=actor,
            organisation=current.school,
            subject=f"{current.round}: {current.filename}",
            ip_address=ip,
            sent_return=current.pk,
            requested=True,
        )
        transaction.on_commit(lambda: queue_check(current.pk))
    return current
