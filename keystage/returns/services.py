"""A school's actions on its returns: sending a file to its LA (into the round open to it, replacing
its earlier file, queued to be checked if a CTF), and the head teacher's confirmation of the
results sent. Each checks the school's permission, owns its transaction and is audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core import year_groups
from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import ReturnTag, parse_tag
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.returns.checking import queue_check
from keystage.returns.errors import ReturnsError, in_words
from keystage.returns.files import check_size, stored_name
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    Return,
    ReturnRound,
    ReturnStatus,
    Validation,
)
from keystage.returns.rounds import current_year, rounds_open_to
from keystage.web.uploads import file_digest

MAX_COMMENT = 1000


# The round a school's file goes to -----------------------------------------------------------


def not_asked_of(round_: ReturnRound, school: School) -> str:
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
            raise ReturnsError(not_asked_of(opened, school), "tag")
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
            f"You already sent this file ({current.filename}) on {in_words(current.sent_at)}, so it was "
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
    check_size(filename, source.size or 0)
    sha256, size = file_digest(source)
    check_size(filename, size)
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
    sent.file.save(stored_name(f"{chosen.value}-{round_.year}", filename), source, save=False)
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
                # Robust: the file is sent whatever happens here; a check not queued is found by the sweep.
                transaction.on_commit(lambda: queue_check(sent.pk), robust=True)
    except BaseException:
        default_storage.delete(sent.file.name)
        raise
    return sent


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
        raise ReturnsError(not_asked_of(round_, school))
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
                f"{latest.name} ({latest.role}) already confirmed this return on "
                f"{in_words(latest.signed_at)}. It needs confirming again only after a new file is sent."
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
