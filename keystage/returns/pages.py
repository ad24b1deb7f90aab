"""What the returns pages show: each school's rounds with its latest file, confirmation, open
corrections and reports; the LA's rounds and a round's schools; pupils returned by more than one
school (the movers). The pages' reads take the person asking, check the policy and, where the page
shows pupils (a checked CTF's problems, the movers), record who saw which return's pupils."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.returns import Registration, ReturnTag, took_phonics_check, who_submits
from keystage.core.roles import Action
from keystage.organisations.models import LocalAuthority, School
from keystage.pupils.models import Pupil
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnedPupil,
    ReturnRound,
    Validation,
)
from keystage.returns.rounds import can_run, current_year, require_la, rounds_open_to

NOT_YOURS = "You do not have permission to see this school's files."


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


# The pages, read for the person asking -------------------------------------------------------


def _pupils_in(issues: Sequence[dict[str, Any]]) -> int:
    """How many of a CTF's problems are about a pupil (named, or a row of the file with its value)
    rather than the whole file."""
    return sum(1 for issue in issues if issue.get("pupil") or issue.get("row") is not None)


def _record_problems_shown(
    sent: Return, shown: Sequence[dict[str, Any]], *, actor: Any, ip: str | None
) -> None:
    """Problems naming pupils are pupils' data: who saw which return's is recorded."""
    pupils = _pupils_in(shown)
    if pupils:
        log.record(
            AuditAction.PUPILS_VIEWED,
            actor=actor,
            organisation=sent.school,
            subject=f"{sent.round}: problems found in {sent.filename}",
            ip_address=ip,
            sent_return=sent.pk,
            problems=pupils,
        )


@dataclass(frozen=True)
class SchoolReturnsPage:
    """A school's LA returns page, as the person asking may see it."""

    rounds: list[SchoolRound]
    history: list[Return]  # the files sent, newest first (the latest 50)
    reports: list[PublishedReport]
    can_send: bool
    can_sign: bool
    can_see_files: bool  # the files' problems, comments and downloads, which name pupils
    open_tags: bool
    being_checked: bool


def school_returns_page(school: School, *, actor: Any, ip: str | None = None) -> SchoolReturnsPage:
    """The school's rounds, files and reports. Its files' problems are shown only to those who may
    see the school's files, and each return whose problems name pupils is audited."""
    policy.require(actor, Action.VIEW_ORGANISATION, school)
    can_see_files = policy.may_read_school_files(actor, school)
    rounds = school_rounds(school)
    history = list(
        Return.objects.filter(school=school)
        .select_related("round", "sent_by")
        .order_by("-sent_at", "-pk")[:50]
    )
    if can_see_files:
        for view in rounds:
            if view.current is not None:
                _record_problems_shown(view.current, view.current.first_issues, actor=actor, ip=ip)
    return SchoolReturnsPage(
        rounds=rounds,
        history=history,
        reports=list(PublishedReport.objects.filter(school=school).select_related("round")),
        can_send=policy.can(actor, Action.SUBMIT_DATA, school),
        can_sign=policy.can(actor, Action.SIGN_LA_CONFIRMATION, school),
        can_see_files=can_see_files,
        open_tags=bool(rounds_open_to(school)),
        being_checked=any(r.being_checked for r in history if r.current),
    )


def still_checking(school: School, *, actor: Any) -> bool:
    """Whether any of the school's files is being checked (what a page showing one polls); it says
    nothing of their content."""
    policy.require(actor, Action.VIEW_ORGANISATION, school)
    if not policy.may_read_school_files(actor, school):
        raise PermissionDenied(NOT_YOURS)
    return Return.objects.filter(school=school, validation=Validation.PENDING).exists()


@dataclass(frozen=True)
class ReturnPage:
    """One file a school sent, with every problem found in it."""

    sent: Return
    as_la: bool  # seen by the LA that runs its round (else by the school)
    corrections: list[CorrectionRequest]


def return_page(sent: Return, *, actor: Any, ip: str | None = None) -> ReturnPage:
    """A file for the school or its LA; audited when its problems name pupils."""
    if not policy.may_read_school_files(actor, sent.school):
        raise PermissionDenied(NOT_YOURS)
    _record_problems_shown(sent, sent.issues, actor=actor, ip=ip)
    return ReturnPage(sent, can_run(actor, sent.round.la), list(sent.corrections.all()))


@dataclass(frozen=True)
class RoundSchoolPage:
    """One school in a round, as its LA sees it."""

    view: SchoolRound
    history: list[Return]  # every file it sent in the round, newest first
    corrections: list[CorrectionRequest]


def round_school_page(
    round_: ReturnRound, school: School, *, actor: Any, ip: str | None = None
) -> RoundSchoolPage:
    """What the school sent in the LA's round; audited when its latest file's problems shown name
    pupils."""
    require_la(actor, round_.la)
    view = school_rounds_for(round_, school)
    if view.current is not None:
        _record_problems_shown(view.current, view.current.first_issues, actor=actor, ip=ip)
    history = list(
        Return.objects.filter(round=round_, school=school)
        .select_related("sent_by")
        .order_by("-sent_at", "-pk")
    )
    corrections = list(
        CorrectionRequest.objects.filter(sent_return__round=round_, sent_return__school=school)
    )
    return RoundSchoolPage(view, history, corrections)


@dataclass(frozen=True)
class RoundPage:
    """A round as its LA sees it: every school it is for, and the pupils more than one returned."""

    rows: list[tuple[School, SchoolRound]]
    movers: list[Mover]

    @property
    def sent_count(self) -> int:
        return sum(1 for _school, view in self.rows if view.current)

    @property
    def confirmed_count(self) -> int:
        return sum(1 for _school, view in self.rows if view.confirmation)


def round_page(round_: ReturnRound, *, actor: Any, ip: str | None = None) -> RoundPage:
    """The LA's round; the movers name pupils, so showing any is audited."""
    require_la(actor, round_.la)
    found = movers(round_)
    if found:
        log.record(
            AuditAction.PUPILS_VIEWED,
            actor=actor,
            organisation=round_.la,
            subject=f"{round_}: pupils returned by more than one school",
            ip_address=ip,
            round=round_.pk,
            pupils=len(found),
        )
    return RoundPage(round_overview(round_), found)
