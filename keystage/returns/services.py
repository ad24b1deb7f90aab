"""One function per user action on LA returns. Each checks permission through the policy, owns its
transaction and audit record, and queues the long work (checking a CTF) for the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.crypto import get_random_string

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core import file_kinds, year_groups
from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.kinds import academic_year_name
from keystage.core.results.reading import detect_format
from keystage.core.results.validation_report import ValidationReport
from keystage.core.returns import (
    Registration,
    ReturnTag,
    academic_year_of,
    parse_tag,
    took_phonics_check,
    who_submits,
)
from keystage.core.roles import Action
from keystage.organisations.models import LocalAuthority, School
from keystage.pupils.models import Pupil
from keystage.results.services import CollectionError
from keystage.results.upload_checks import check_file
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnedPupil,
    ReturnRound,
    ReturnStatus,
    Validation,
)
from keystage.web.faults import DATABASE_UNAVAILABLE
from keystage.web.queue import first_args_pending
from keystage.web.uploads import file_digest, max_upload_bytes, too_large_message

logger = logging.getLogger(__name__)

STALLED_AFTER = timedelta(minutes=2)
CHECK_ATTEMPTS = 3  # checks that may start without finishing before the file is refused
UNCHECKABLE_MESSAGE = rules.RETURN_UNCHECKABLE.message
MAX_COMMENT = 1000
MAX_MESSAGE = 2000
_FORMAT_NAMES = {
    "xlsx": "an Excel workbook",
    "xls": "an old-style Excel workbook (.xls)",
    "ods": "an OpenDocument spreadsheet",
    "csv": "not XML (it reads as text or CSV)",
}


# What a file past its retention period says in place of its content (keystage.privacy.retention).
RETENTION_ENDED = "This file was deleted when its retention period ended; its record stays."


class ReturnsError(Refused):
    """A user action that cannot be done; str() is the message to show, ``field`` the form field
    it concerns (None for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def current_year(today: date | None = None) -> int:
    return academic_year_of(today or timezone.localdate())


# Who may see what (composed from the policy; nothing here grants on its own) ------------------


def can_run(user: Any, la: LocalAuthority) -> bool:
    return policy.can(user, Action.RUN_LA_COLLECTIONS, la)


def _require_la(actor: Any, la: LocalAuthority) -> None:
    policy.require(actor, Action.RUN_LA_COLLECTIONS, la)


# Files -----------------------------------------------------------------------------------------


def _check_size(filename: str, size: int) -> None:
    if size == 0:
        raise ReturnsError(
            f"{filename} is empty. Choose the file again, or export it again from your MIS.", "file"
        )
    if size > max_upload_bytes():
        raise ReturnsError(too_large_message(filename, done="sent"), "file")


def _stored_name(prefix: str, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    suffix = "".join(c for c in suffix if c.isalnum())[:5] or "bin"
    return f"{prefix}-{get_random_string(16)}.{suffix}"


# Rounds ----------------------------------------------------------------------------------------


def open_round(
    la: LocalAuthority,
    *,
    tag: str,
    year: int,
    deadline: date,
    period_starts: date | None = None,
    period_ends: date | None = None,
    summer_second_half_starts: date | None = None,
    instructions: str = "",
    actor: Any,
) -> ReturnRound:
    """The LA data officer opens a return for its schools: a tag in an academic year, with its
    deadline and the dates the movers rules count from."""
    _require_la(actor, la)
    try:
        chosen = parse_tag(tag)
    except ValueError as error:
        raise ReturnsError(str(error), "tag") from None
    this_year = current_year()
    if year not in (this_year, this_year + 1):
        raise ReturnsError(
            f"Open a return for {academic_year_name(this_year)} or {academic_year_name(this_year + 1)}.",
            "year",
        )
    first_day, last_day = date(year - 1, 9, 1), date(year, 8, 31)
    in_year = f"in {academic_year_name(year)} (1 September {year - 1} to 31 August {year})"
    if not first_day <= deadline <= last_day:
        raise ReturnsError(f"The deadline must be {in_year}.", "deadline")
    if chosen.period_name is None:
        period_starts = period_ends = None
    else:
        name = chosen.period_name
        if period_starts is None or period_ends is None:
            raise ReturnsError(
                f"Enter the first and last days of the {name}: the rules for pupils who move count from it.",
                "period_starts" if period_starts is None else "period_ends",
            )
        if period_ends < period_starts:
            raise ReturnsError(f"The {name} must end on or after its first day.", "period_ends")
        if not (first_day <= period_starts and period_ends <= last_day):
            raise ReturnsError(f"The {name} must be {in_year}.", "period_starts")
    if not chosen.uses_summer_half_term:
        summer_second_half_starts = None
    elif summer_second_half_starts is None:
        raise ReturnsError(
            "Enter the first day of the second half of the summer term: the EYFSP rule for children who "
            "move counts from it.",
            "summer_second_half_starts",
        )
    elif not first_day <= summer_second_half_starts <= last_day:
        raise ReturnsError(
            f"The second half of the summer term must start {in_year}.", "summer_second_half_starts"
        )
    try:
        with transaction.atomic():
            return ReturnRound.objects.create(
                la=la,
                tag=chosen.value,
                year=year,
                deadline=deadline,
                period_starts=period_starts,
                period_ends=period_ends,
                summer_second_half_starts=summer_second_half_starts,
                instructions=instructions.strip(),
                opened_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        raise ReturnsError(
            f"{la.name} has already opened the {chosen.label} return for {academic_year_name(year)}.", "tag"
        ) from None


def rounds_open_to(school: School, today: date | None = None) -> list[ReturnRound]:
    """The rounds of the school's LA that take files now (this academic year or later) and are
    asked of it (by the year groups it teaches)."""
    rounds = ReturnRound.objects.filter(la_id=school.la_id, year__gte=current_year(today)).order_by(
        "year", "deadline", "tag"
    )
    return [round_ for round_ in rounds if round_.is_for(school)]


def _not_for(round_: ReturnRound, school: School) -> str:
    return (
        f"The {round_} return is for schools with {year_groups.describe(round_.tag_info.nc_years or ())}: "
        f"{school.name} teaches {year_groups.describe(school.year_groups)}"
        f"{'' if school.is_open else ' and is closed'}. If that is wrong, ask {school.la.name} to correct "
        "the school's details."
    )


def round_for_sending(school: School, tag: ReturnTag) -> ReturnRound:
    found = next((r for r in rounds_open_to(school) if r.tag == tag.value), None)
    if found is None:
        opened = ReturnRound.objects.filter(
            la_id=school.la_id, year__gte=current_year(), tag=tag.value
        ).first()
        if opened is not None:
            raise ReturnsError(_not_for(opened, school), "tag")
        raise ReturnsError(
            f"{school.la.name} has not opened a {tag.label} return for {academic_year_name(current_year())}. "
            "Choose another tag, or ask your LA.",
            "tag",
        )
    return found


# Sending ---------------------------------------------------------------------------------------


def _refuse_same_file(round_: ReturnRound, school: School, sha256: str) -> None:
    current = Return.objects.filter(round=round_, school=school, current=True).first()
    if current is not None and current.sha256 == sha256:
        raise ReturnsError(
            f"You already sent this file ({current.filename}) on {_when(current.sent_at)}, so it was "
            "not sent again. To replace it, choose the corrected file.",
            "file",
        )


def send_return(
    school: School,
    *,
    tag: str,
    source: File[Any],
    filename: str,
    comment: str = "",
    actor: Any,
    ip: str | None = None,
) -> Return:
    """A school sends one file to its LA. It replaces the school's earlier file for the round (kept
    as history) and answers any open correction request; a CTF is queued to be checked."""
    policy.require(actor, Action.SUBMIT_DATA, school)
    try:
        chosen = parse_tag(tag)
    except ValueError as error:
        raise ReturnsError(str(error), "tag") from None
    round_ = round_for_sending(school, chosen)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise ReturnsError(f"The comment must be {MAX_COMMENT} characters or fewer.", "comment")
    filename = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1][:255] or "file"
    _check_size(filename, source.size or 0)
    sha256, size = file_digest(source)
    _check_size(filename, size)
    _refuse_same_file(round_, school, sha256)
    now = timezone.now()
    sent = Return(
        round=round_,
        school=school,
        tag=chosen.value,
        comment=comment,
        filename=filename,
        size=size,
        sha256=sha256,
        sent_by=actor if getattr(actor, "pk", None) else None,
        sent_by_email=getattr(actor, "email", ""),
        sent_at=now,
        validation=Validation.PENDING if chosen.takes_ctf else Validation.NOT_NEEDED,
        validation_queued_at=now if chosen.takes_ctf else None,
    )
    sent.file.save(_stored_name(f"{chosen.value}-{round_.year}", filename), source, save=False)
    try:
        with transaction.atomic():
            School.objects.select_for_update().filter(pk=school.pk).first()
            _refuse_same_file(round_, school, sha256)  # a double click that waited for the lock
            Return.objects.select_for_update().filter(round=round_, school=school, current=True).update(
                current=False, status=ReturnStatus.SUPERSEDED, superseded_at=now
            )
            sent.save()
            CorrectionRequest.objects.filter(
                sent_return__round=round_, sent_return__school=school, resolved_at__isnull=True
            ).update(resolved_at=now, resolved_by=sent)
            log.record(
                AuditAction.RETURN_SENT,
                actor=actor,
                organisation=school,
                subject=f"{round_}: {sent.filename}",
                ip_address=ip,
                sent_return=sent.pk,
                tag=chosen.value,
                sha256=sha256,
            )
            if chosen.takes_ctf:
                transaction.on_commit(lambda: _queue_validation(sent.pk))
    except BaseException:
        default_storage.delete(sent.file.name)
        raise
    return sent


def _queue_validation(return_id: int) -> None:
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
        _queue_validation(return_id)
    return len(ids)


def check_again(sent: Return, *, actor: Any, ip: str | None = None) -> Return:
    """The LA checks a CTF again with today's roster and reference data."""
    _require_la(actor, sent.round.la)
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
        transaction.on_commit(lambda: _queue_validation(current.pk))
    return current


# The head teacher's confirmation ---------------------------------------------------------------


def confirm_as_head_teacher(
    round_: ReturnRound,
    school: School,
    *,
    moderation_done: bool,
    agreed: bool,
    name: str,
    role: str,
    confirmed_on: date | None,
    actor: Any,
    ip: str | None = None,
) -> HeadTeacherConfirmation:
    """The head teacher confirms moderation is done and the assessments are agreed (seed 002)."""
    policy.require(actor, Action.SIGN_LA_CONFIRMATION, school)
    if round_.la_id != school.la_id:
        raise ReturnsError(f"{round_} is another local authority's return.")
    if not round_.is_for(school) and not Return.objects.filter(round=round_, school=school).exists():
        raise ReturnsError(_not_for(round_, school))
    name, role = name.strip(), role.strip()
    if not moderation_done:
        raise ReturnsError("Confirm that all internal moderation has been completed.", "moderation_done")
    if not agreed:
        raise ReturnsError(
            "Confirm that the head teacher and the staff responsible have agreed the assessments.", "agreed"
        )
    if not name:
        raise ReturnsError("Enter the head teacher's name.", "name")
    if not role:
        raise ReturnsError("Enter the role of the person confirming.", "role")
    if confirmed_on is None:
        raise ReturnsError("Enter the date of the confirmation.", "confirmed_on")
    if confirmed_on > timezone.localdate():
        raise ReturnsError("The date of the confirmation cannot be in the future.", "confirmed_on")
    with transaction.atomic():
        School.objects.select_for_update().filter(pk=school.pk).first()
        current = Return.objects.filter(round=round_, school=school, current=True).first()
        if current is None:
            raise ReturnsError(
                f"Send the {round_.tag_info.label} file first: the head teacher confirms the results "
                "that were sent."
            )
        latest = HeadTeacherConfirmation.objects.filter(round=round_, school=school).first()
        if latest is not None and latest.for_return_id == (current.pk if current else None):
            raise ReturnsError(
                f"{latest.name} ({latest.role}) already confirmed this return on {_when(latest.signed_at)}. "
                "It needs confirming again only after a new file is sent."
            )
        confirmation = HeadTeacherConfirmation.objects.create(
            round=round_,
            school=school,
            for_return=current,
            moderation_done=True,
            agreed_by_head_and_staff=True,
            name=name[:200],
            role=role[:200],
            confirmed_on=confirmed_on,
            signed_by=actor if getattr(actor, "pk", None) else None,
            signed_by_email=getattr(actor, "email", ""),
        )
        log.record(
            AuditAction.RETURN_CONFIRMED,
            actor=actor,
            organisation=school,
            subject=f"{round_}: confirmed by {confirmation.name} ({confirmation.role})",
            ip_address=ip,
            round=round_.pk,
            sent_return=current.pk if current else None,
        )
    return confirmation


# The LA's actions on a school's file -----------------------------------------------------------


def _current_for_la_action(sent: Return) -> Return:
    current = Return.objects.select_for_update().get(pk=sent.pk)
    if not current.current:
        raise ReturnsError("The school has sent a newer file since this one; look at that one instead.")
    return current


def request_correction(sent: Return, *, message: str, actor: Any, ip: str | None = None) -> CorrectionRequest:
    """The LA asks the school to correct its file; the school sees the message until it sends a new one."""
    _require_la(actor, sent.round.la)
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
    _require_la(actor, sent.round.la)
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
    _require_la(actor, round_.la)
    if school.la_id != round_.la_id:
        raise ReturnsError(f"{school.name} is not one of {round_.la.name}'s schools.")
    filename = (filename or "report").replace("\\", "/").rsplit("/", 1)[-1][:255] or "report"
    title = title.strip() or f"{round_} report"
    if len(title) > 200:
        raise ReturnsError("The title must be 200 characters or fewer.", "title")
    _check_size(filename, source.size or 0)
    sha256, size = file_digest(source)
    _check_size(filename, size)
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
            f"This file was already published to {school.name} on {_when(earlier.published_at)} "
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
    report.file.save(_stored_name(f"report-{round_.tag}-{round_.year}", filename), source, save=False)
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


# Downloads -------------------------------------------------------------------------------------


def _open_audited(
    stored: FieldFile,
    school: School,
    *,
    missing: str,
    actor: Any,
    check: Callable[[FieldFile], None] | None = None,
    **audit: Any,
) -> FieldFile:
    """A stored file of a school's, for someone who may see the school's files; audited once it
    passes ``check`` (which raises ReturnsError to refuse it)."""
    if not policy.may_read_school_files(actor, school):
        raise PermissionDenied("You do not have permission to see this school's files.")
    if not stored:
        raise ReturnsError(RETENTION_ENDED)
    try:
        stored.open("rb")
    except FileNotFoundError:
        raise ReturnsError(missing) from None
    if check is not None:
        try:
            check(stored)
        except BaseException:
            stored.close()
            raise
    log.record(AuditAction.RETURN_DOWNLOADED, actor=actor, organisation=school, **audit)
    return stored


def open_return_file(sent: Return, *, actor: Any, ip: str | None = None) -> FieldFile:
    """The file a school sent, for the school or its LA."""
    return _open_audited(
        sent.file,
        sent.school,
        missing="The stored file is missing; ask the school to send it again.",
        actor=actor,
        subject=f"{sent.round}: {sent.filename}",
        ip_address=ip,
        sent_return=sent.pk,
    )


def open_report_file(
    report: PublishedReport, *, actor: Any, ip: str | None = None
) -> tuple[FieldFile, file_kinds.FileKind]:
    """A report the LA published to a school, and its kind, read from its content. A file published
    before kinds were checked that is of no kind served is refused, not served."""
    kinds: list[file_kinds.FileKind] = []

    def served_kind(stored: FieldFile) -> None:
        kind = file_kinds.kind_of(stored)
        if kind is None:
            raise ReturnsError(
                f"“{report.title}” is not a {file_kinds.ALLOWED_KINDS} file, so keystage does not serve "
                "it. Ask your LA to publish it again as one of these."
            )
        kinds.append(kind)

    stored = _open_audited(
        report.file,
        report.school,
        missing="The stored report is missing; ask your LA to publish it again.",
        actor=actor,
        check=served_kind,
        subject=f"{report.round}: report “{report.title}”",
        ip_address=ip,
        report=report.pk,
        file="published_report",
    )
    return stored, kinds[0]


# What the pages show ---------------------------------------------------------------------------


@dataclass
class SchoolRound:
    """A round as one school sees it."""

    round: ReturnRound
    current: Return | None
    confirmation: HeadTeacherConfirmation | None
    open_corrections: list[CorrectionRequest] = field(default_factory=list)
    reports: list[PublishedReport] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return self.confirmation is None or (
            self.current is not None and self.confirmation.for_return_id != self.current.pk
        )


def _by_round_and_school(
    rounds: list[ReturnRound], schools: list[School]
) -> dict[tuple[int, int], SchoolRound]:
    round_ids = [r.pk for r in rounds]
    school_ids = [s.pk for s in schools]
    rounds_by_id = {r.pk: r for r in rounds}
    views: dict[tuple[int, int], SchoolRound] = {}
    for r in rounds:
        for s in schools:
            views[(r.pk, s.pk)] = SchoolRound(r, None, None)
    currents = Return.objects.filter(
        round_id__in=round_ids, school_id__in=school_ids, current=True
    ).select_related("sent_by")
    for sent in currents:
        sent.round = rounds_by_id[sent.round_id]
        views[(sent.round_id, sent.school_id)].current = sent
    for confirmation in HeadTeacherConfirmation.objects.filter(
        round_id__in=round_ids, school_id__in=school_ids
    ):
        view = views[(confirmation.round_id, confirmation.school_id)]
        if view.confirmation is None:  # newest first
            view.confirmation = confirmation
    corrections = CorrectionRequest.objects.filter(
        sent_return__round_id__in=round_ids, sent_return__school_id__in=school_ids, resolved_at__isnull=True
    ).select_related("sent_return")
    for correction in corrections:
        views[(correction.sent_return.round_id, correction.sent_return.school_id)].open_corrections.append(
            correction
        )
    for report in PublishedReport.objects.filter(round_id__in=round_ids, school_id__in=school_ids):
        views[(report.round_id, report.school_id)].reports.append(report)
    return views


def school_rounds(school: School) -> list[SchoolRound]:
    """The rounds open to the school and asked of it, and earlier ones it took part in."""
    taken_part = Q(returns__school=school) | Q(reports__school=school)
    rounds = list(
        ReturnRound.objects.filter(la_id=school.la_id)
        .filter(Q(year__gte=current_year()) | taken_part)
        .distinct()
        .order_by("-year", "deadline", "tag")
    )
    sent_to = set(Return.objects.filter(school=school, round__in=rounds).values_list("round_id", flat=True))
    rounds = [r for r in rounds if r.pk in sent_to or r.year < current_year() or r.is_for(school)]
    views = _by_round_and_school(rounds, [school])
    return [views[(r.pk, school.pk)] for r in rounds]


def school_rounds_for(round_: ReturnRound, school: School) -> SchoolRound:
    return _by_round_and_school([round_], [school])[(round_.pk, school.pk)]


def round_schools(round_: ReturnRound) -> list[School]:
    """The schools a round is asked of (by the year groups they teach), with any other school of
    the LA that has sent a file or been sent a report in it, so nothing sent drops out of sight."""
    involved = set(Return.objects.filter(round=round_).values_list("school_id", flat=True)) | set(
        PublishedReport.objects.filter(round=round_).values_list("school_id", flat=True)
    )
    schools = round_.la.schools().select_related("la").order_by("name")
    return [school for school in schools if school.pk in involved or round_.is_for(school)]


@dataclass(frozen=True)
class RoundCount:
    round: ReturnRound
    sent: int  # schools the round is for that have sent a file
    schools: int  # schools the round is for


def la_rounds(la: LocalAuthority) -> list[RoundCount]:
    """The LA's rounds, newest first, each with how many of the schools it is for have sent."""
    counts = []
    for round_ in ReturnRound.objects.filter(la=la).order_by("-year", "deadline", "tag"):
        schools = round_schools(round_)
        sent = Return.objects.filter(round=round_, current=True).values("school_id").distinct().count()
        counts.append(RoundCount(round_, sent, len(schools)))
    return counts


def round_overview(round_: ReturnRound) -> list[tuple[School, SchoolRound]]:
    """Every school the round is for, with what it has sent and confirmed."""
    schools = round_schools(round_)
    views = _by_round_and_school([round_], schools)
    return [(school, views[(round_.pk, school.pk)]) for school in schools]


@dataclass(frozen=True)
class Mover:
    upn: str
    name: str
    schools: list[School]
    submits: School | None
    reason: str


def movers(round_: ReturnRound) -> list[Mover]:
    """Pupils in the checked CTFs of two or more schools of the round, each with the school that
    should submit under the movers rules and why."""
    tag = round_.tag_info
    if not tag.takes_ctf:
        return []
    returned = ReturnedPupil.objects.filter(
        sent_return__round=round_, sent_return__current=True
    ).select_related("sent_return__school")
    by_upn: dict[str, dict[int, ReturnedPupil]] = {}
    for pupil in returned:
        by_upn.setdefault(pupil.upn, {})[pupil.sent_return.school_id] = pupil
    shared = {upn: found for upn, found in by_upn.items() if len(found) > 1}
    if not shared:
        return []
    school_ids = {school_id for found in shared.values() for school_id in found}
    rosters = {
        (p.school_id, p.upn): p
        for p in Pupil.objects.filter(
            academic_year=round_.year, upn__in=shared, school_id__in=school_ids
        ).only("school_id", "upn", "joined_on", "left_on")
    }
    result = []
    for upn in sorted(shared, key=lambda u: (shared[u][min(shared[u])].surname, u)):
        found = shared[upn]
        schools = sorted((p.sent_return.school for p in found.values()), key=lambda s: s.name)
        first = found[schools[0].pk]
        name = f"{first.forename} {first.surname}".strip()
        if len(schools) > 2:
            result.append(
                Mover(
                    upn,
                    name,
                    schools,
                    None,
                    f"Returned by {len(schools)} schools: ask them which one should submit.",
                )
            )
            continue
        registrations = []
        for school in schools:
            on_roll = rosters.get((school.pk, upn))
            registrations.append(
                Registration(
                    key=str(school.pk),
                    school=school.name,
                    joined=on_roll.joined_on if on_roll else None,
                    left=on_roll.left_on if on_roll else None,
                    took_check=took_phonics_check(found[school.pk].results)
                    if tag is ReturnTag.PHONICS
                    else None,
                )
            )
        decision = who_submits(tag, round_.key_dates, registrations[0], registrations[1])
        submits = next((s for s in schools if str(s.pk) == decision.submits), None)
        result.append(Mover(upn, name, schools, submits, decision.reason))
    return result
