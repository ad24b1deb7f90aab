"""What the returns pages show: each school's rounds with its latest file, confirmation, open
corrections and reports; the LA's rounds and a round's schools; pupils returned by more than one
school (the movers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from keystage.core.returns import Registration, ReturnTag, took_phonics_check, who_submits
from keystage.organisations.models import LocalAuthority, School
from keystage.pupils.models import Pupil
from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnedPupil,
    ReturnRound,
)
from keystage.returns.rounds import current_year


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
