"""The LA's actions on a school's file: asking for a correction, accepting it, and publishing a
report (such as the summary PDF) back to the school. Each checks the LA's permission and is audited."""

from __future__ import annotations

from typing import Any

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core import file_kinds
from keystage.organisations.models import School
from keystage.returns.errors import ReturnsError, in_words
from keystage.returns.files import check_size, stored_name
from keystage.returns.models import (
    CorrectionRequest,
    PublishedReport,
    Return,
    ReturnRound,
    ReturnStatus,
    Validation,
)
from keystage.returns.rounds import require_la
from keystage.web.uploads import file_digest

MAX_MESSAGE = 2000


def _current_for_la_action(sent: Return) -> Return:
    current = Return.objects.select_for_update().get(pk=sent.pk)
    if not current.current:
        raise ReturnsError("The school has sent a newer file since this one; look at that one instead.")
    return current


def request_correction(sent: Return, *, message: str, actor: Any, ip: str | None = None) -> CorrectionRequest:
    """The LA asks the school to correct its file; the school sees the message until it sends a new one."""
    require_la(actor, sent.round.la)
    message = message.strip()
    if not message:
        raise ReturnsError("Write what the school needs to correct.", "message")
    if len(message) > MAX_MESSAGE:
        raise ReturnsError(f"The message must be {MAX_MESSAGE} characters or fewer.", "message")
    with transaction.atomic():
        current = _current_for_la_action(sent)
        if CorrectionRequest.objects.filter(
            sent_return=current, message=message, resolved_at__isnull=True
        ).exists():
            raise ReturnsError(
                "You have already sent the school this request; it is waiting for their new file."
            )
        correction = CorrectionRequest.objects.create(
            sent_return=current,
            message=message,
            requested_by=actor if getattr(actor, "pk", None) else None,
            requested_by_email=getattr(actor, "email", ""),
        )
        current.status = ReturnStatus.CORRECTION_REQUESTED
        current.accepted_at = None
        current.accepted_by = None
        current.save(update_fields=["status", "accepted_at", "accepted_by"])
        log.record(
            AuditAction.CORRECTION_REQUESTED,
            actor=actor,
            organisation=current.school,
            subject=f"{current.round}: {current.filename}",
            ip_address=ip,
            sent_return=current.pk,
            correction=correction.pk,
        )
    return correction


def accept_return(sent: Return, *, actor: Any, ip: str | None = None) -> Return:
    """The LA has verified the file and accepts it (recorded as the LA's validation of the return)."""
    require_la(actor, sent.round.la)
    with transaction.atomic():
        current = _current_for_la_action(sent)
        if current.status == ReturnStatus.ACCEPTED:
            return current
        if current.validation == Validation.PENDING:
            raise ReturnsError("This file is still being checked; accept it when the check has finished.")
        if current.validation == Validation.ERRORS:
            raise ReturnsError(
                f"This file has {current.error_count} error{'s' if current.error_count != 1 else ''}; "
                "ask the school for a correction instead of accepting it."
            )
        now = timezone.now()
        current.status = ReturnStatus.ACCEPTED
        current.accepted_at = now
        current.accepted_by = actor if getattr(actor, "pk", None) else None
        current.save(update_fields=["status", "accepted_at", "accepted_by"])
        CorrectionRequest.objects.filter(sent_return=current, resolved_at__isnull=True).update(
            resolved_at=now
        )
        log.record(
            AuditAction.RETURN_VALIDATED,
            actor=actor,
            organisation=current.school,
            subject=f"{current.round}: {current.filename} accepted",
            ip_address=ip,
            sent_return=current.pk,
            decision="accepted",
        )
    return current


def publish_report(
    round_: ReturnRound,
    school: School,
    *,
    source: File[Any],
    filename: str,
    title: str = "",
    actor: Any,
    ip: str | None = None,
) -> PublishedReport:
    """The LA publishes a report file (such as the summary PDF) back to one of its schools."""
    require_la(actor, round_.la)
    if school.la_id != round_.la_id:
        raise ReturnsError(f"{school.name} is not one of {round_.la.name}'s schools.")
    filename = (filename or "report").replace("\\", "/").rsplit("/", 1)[-1][:255] or "report"
    title = title.strip() or f"{round_} report"
    if len(title) > 200:
        raise ReturnsError("The title must be 200 characters or fewer.", "title")
    check_size(filename, source.size or 0)
    sha256, size = file_digest(source)
    check_size(filename, size)
    kind = file_kinds.kind_of(source)
    if kind is None:
        raise ReturnsError(
            f"{filename} cannot be published to a school: its content is not a "
            f"{file_kinds.ALLOWED_KINDS} file. Save the report as one of these and publish it again.",
            "file",
        )
    filename = file_kinds.download_name(filename, kind)[-255:]
    earlier = PublishedReport.objects.filter(round=round_, school=school, sha256=sha256).first()
    if earlier is not None:
        raise ReturnsError(
            f"This file was already published to {school.name} on {in_words(earlier.published_at)} "
            f"as “{earlier.title}”.",
            "file",
        )
    report = PublishedReport(
        round=round_,
        school=school,
        title=title,
        filename=filename,
        size=size,
        sha256=sha256,
        published_by=actor if getattr(actor, "pk", None) else None,
        published_by_email=getattr(actor, "email", ""),
    )
    report.file.save(stored_name(f"report-{round_.tag}-{round_.year}", filename), source, save=False)
    try:
        with transaction.atomic():
            report.save()
            log.record(
                AuditAction.REPORT_PUBLISHED,
                actor=actor,
                organisation=school,
                subject=f"{round_}: {report.title}",
                ip_address=ip,
                report=report.pk,
                sha256=sha256,
            )
    except BaseException:
        default_storage.delete(report.file.name)
        raise
    return report
