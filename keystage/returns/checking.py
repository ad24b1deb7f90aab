"""The checking job: a CTF a school sent is checked by the worker with the results engine, its
outcome and pupils kept; checks lost or stalled are queued again, and the LA may ask for a check
again. The life of the check is shared with uploads (web.stored_checks): this module says what a
return's check reads and what its outcome writes (RETURNS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models.fields.files import FieldFile
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
from keystage.web import stored_checks

_FORMAT_NAMES = {
    "xlsx": "an Excel workbook",
    "xls": "an old-style Excel workbook (.xls)",
    "ods": "an OpenDocument spreadsheet",
    "csv": "not XML (it reads as text or CSV)",
}


def queue_check(return_id: int) -> None:
    stored_checks.queue(RETURNS, return_id)


def validate_return(return_id: int) -> Return | None:
    """The worker's part: check a CTF with the results engine and keep the outcome and its pupils.
    Safe to run twice: a return no longer waiting to be checked is left alone."""
    return stored_checks.run_check(RETURNS, return_id)


@dataclass(frozen=True)
class _Checked:
    issues: list[dict[str, Any]]
    report: ValidationReport | None = None


def _check_return(sent: Return) -> _Checked:
    tag = sent.tag_info
    kind = tag.collection_kind
    if kind is None:
        return _Checked([])
    with sent.file.open("rb") as stored:
        data = stored.read()
    found_format = detect_format(data) if data else "ctf"
    if found_format != "ctf":
        found = _FORMAT_NAMES.get(found_format, "not a CTF")
        refused = rules.RETURN_NOT_CTF.issue(la=sent.round.la.name, tag=tag.label, found=found)
        return _Checked([refused.as_dict()])
    try:
        report = check_file(data, kind, sent.round.year, sent.school)
    except CollectionError as error:
        return _Checked([rules.RETURN_NO_LAYOUT.issue(reason=str(error)).as_dict()])
    return _Checked([i.as_dict() for i in report.issues], report)


def _check_failed() -> dict[str, Any]:
    return rules.RETURN_CHECK_FAILED.issue().as_dict()


def _store_outcome(sent: Return, checked: _Checked, made: list[FieldFile]) -> None:
    issues, report = checked.issues, checked.report
    errors = sum(1 for i in issues if i["severity"] == "error")
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


def requeue_stalled_validations(now: datetime | None = None) -> int:
    """CTFs left waiting with no check queued or running for them are queued again, and one whose
    every check died with its worker is refused (stored_checks.requeue_stalled)."""
    return stored_checks.requeue_stalled(RETURNS, now)


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
        # A new check, counted afresh: earlier checks that finished are not deaths of this one.
        current.validation_started_at = None
        current.validation_attempts = 0
        # Accepted on the earlier check; the new check decides again.
        if current.status == ReturnStatus.ACCEPTED:
            current.status = ReturnStatus.SENT
            current.accepted_at = None
            current.accepted_by = None
        current.save(
            update_fields=[
                "validation",
                "validation_queued_at",
                "validation_started_at",
                "validation_attempts",
                "status",
                "accepted_at",
                "accepted_by",
            ]
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
        # Robust: the request is done whatever happens here; a check not queued is found by the sweep.
        transaction.on_commit(lambda: queue_check(current.pk), robust=True)
    return current


def _task() -> Any:
    from keystage.returns.tasks import validate_return_task

    return validate_return_task


RETURNS: stored_checks.StoredFileKind[Return, _Checked] = stored_checks.StoredFileKind(
    name="LA return",
    model=Return,
    waiting_field="validation",
    waiting_value=Validation.PENDING,
    arrived_field="sent_at",
    task=_task,
    rows=lambda: Return.objects.select_related("round__la", "school"),
    check=_check_return,
    refusal=_Checked,  # the issues alone: nothing read, no pupils
    uncheckable=rules.RETURN_UNCHECKABLE,
    check_failed=_check_failed,
    store=_store_outcome,
)
