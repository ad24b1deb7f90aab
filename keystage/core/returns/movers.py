"""Which school submits for a pupil whom two schools returned: the movers rules of seed 002 (KS1)
and seed 003 (EYFSP, phonics, KS2 TA), as a pure function of the LA round's key dates and the
pupil's two registrations.

The new ("receiving") school is the one the pupil joined later; the day the pupil moved is the day
they joined it. A pupil who joins on the first day of a test or check period has been at the new
school for all of it, so is treated as having moved before it. When the order of the two
registrations, or a date a rule needs, is not known the answer is "cannot tell: ask both schools".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from keystage.core.returns.tags import ReturnTag

# The rules as the guidance words them, quoted in every decision.
KS1_DURING = (
    "The school where the child was registered for the greater number of days in May should submit "
    "TA data to the LA."
)
KS1_AFTER = (
    "The school where the pupil was registered during KS1 test period submit TA data for that pupil "
    "to the LA."
)
KS1_NON_PARTICIPATING = (
    "If a pupil arrives from a non-participating school or was electively home educated, the receiving "
    "school should assess the pupil and submit data."
)
EYFSP_AFTER = (
    "If a child starts a new school or provider on the first day of the second half of the summer term "
    "(or any time after that), then the previous school should submit the data to the LA."
)
EYFSP_BEFORE = (
    "If a child moves school or provider any time before the half term, then the new school should "
    "submit the data."
)
EYFSP_DIFFERENT = (
    "If half term dates differ between schools and LAs, it is the school or provider where a child attends "
    "(or will attend) for the longest period of time that submits the data."
)
PHONICS_BEFORE = (
    "before the check period: the receiving school should assess the pupil and submit data for them"
)
PHONICS_DURING = (
    "during the check period: the receiving school should find out whether the pupil has already taken "
    "the check (if not, they should assess the pupil and submit data for them)"
)
PHONICS_AFTER = (
    "after taking the check: their result should be submitted by the school where they took the check "
    "and provided to the new school"
)
KS2_BEFORE = "If a pupil changes school before test week, the receiving school must submit TA data for them."
KS2_DURING = (
    "If a pupil changes school during test week, the school where the pupil was registered at the "
    "beginning of test week must submit TA data for them."
)
KS2_AFTER = (
    "If a pupil changes school after test week, the school where the pupil was registered during test "
    "week must submit TA data for them."
)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class KeyDates:
    """The LA round's dates the rules count from."""

    period_starts: date | None = None  # KS1 test period, phonics check period, KS2 test week
    period_ends: date | None = None
    summer_second_half_starts: date | None = None  # EYFSP: first day of the second half of summer term


@dataclass(frozen=True)
class Registration:
    """A pupil's time at one school: ``key`` identifies the school to the caller, ``school`` names it."""

    key: str
    school: str
    joined: date | None
    left: date | None = None
    took_check: bool | None = None  # phonics: the school's return holds a check mark for the pupil
    participating: bool = True  # False: a school outside the collection, or elective home education
    summer_second_half_starts: date | None = None  # EYFSP: the school's own date, where it differs


@dataclass(frozen=True)
class Decision:
    submits: str | None  # the key of the school that should submit; None when it cannot be told
    reason: str  # a plain sentence quoting the rule

    @property
    def known(self) -> bool:
        return self.submits is not None


def day_text(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _span(first: date, last: date) -> str:
    return day_text(first) if first == last else f"{day_text(first)} to {day_text(last)}"


def _days(first: date, last: date) -> int:
    return max(0, (last - first).days + 1)


def _cannot_tell(why: str) -> Decision:
    return Decision(None, f"Cannot tell which school should submit: {why}. Ask both schools.")


def took_phonics_check(results: Mapping[str, str]) -> bool | None:
    """Whether a school's phonics return shows the pupil took the check (a mark, not a code such as
    A for absent); None when the return holds no phonics outcome for the pupil."""
    values = [value.strip() for value in results.values() if value and value.strip()]
    if not values:
        return None
    return any(value.isdigit() for value in values)


def _order(a: Registration, b: Registration) -> tuple[Registration, Registration] | str:
    """(earlier, later) registration, or why their order is not known."""
    if a.joined is not None and b.joined is not None:
        if a.joined != b.joined:
            return (a, b) if a.joined < b.joined else (b, a)
        return f"both schools have the pupil joining on {day_text(a.joined)}"
    for earlier, later in ((a, b), (b, a)):
        if earlier.left is not None and later.joined is not None and earlier.left <= later.joined:
            return earlier, later
    missing = [r.school for r in (a, b) if r.joined is None]
    if len(missing) == 2:
        return f"the dates the pupil joined {missing[0]} and {missing[1]} are not on their rosters"
    return f"the date the pupil joined {missing[0]} is not on its roster"


def who_submits(tag: ReturnTag, dates: KeyDates, first: Registration, second: Registration) -> Decision:
    """Which of the two schools should submit the pupil's data for a return with this tag, and why."""
    if not tag.takes_ctf:
        return _cannot_tell(f"{tag.label} returns have no rule for pupils who move")
    ordered = _order(first, second)
    if isinstance(ordered, str):
        return _cannot_tell(ordered)
    earlier, later = ordered
    moved = later.joined
    assert moved is not None  # _order only orders registrations whose later one has a joining date
    if tag is ReturnTag.EYFSP:
        return _eyfsp(dates, earlier, later, moved)
    if dates.period_starts is None or dates.period_ends is None:
        return _cannot_tell(f"the round has no {tag.period_name} dates; the LA adds them to the round")
    period = (dates.period_starts, dates.period_ends)
    if tag is ReturnTag.KS1:
        return _ks1(period, earlier, later, moved)
    if tag is ReturnTag.PHONICS:
        return _phonics(period, earlier, later, moved)
    return _ks2(period, earlier, later, moved)


def _joined(later: Registration, moved: date) -> str:
    return f"The pupil joined {later.school} on {day_text(moved)}"


def _ks1(period: tuple[date, date], earlier: Registration, later: Registration, moved: date) -> Decision:
    first, last = period
    span = f"the KS1 test period ({_span(first, last)})"
    if not earlier.participating:
        return Decision(
            later.key,
            f"The pupil came to {later.school} from {earlier.school}, which does not take part: "
            f"“{KS1_NON_PARTICIPATING}”",
        )
    if moved <= first:
        when = "the first day of" if moved == first else "before"
        return Decision(
            later.key,
            f"{_joined(later, moved)}, {when} {span}, so was registered there during it: “{KS1_AFTER}”",
        )
    if moved > last:
        return Decision(
            earlier.key,
            f"{_joined(later, moved)}, after {span}, so was registered at {earlier.school} during it: "
            f"“{KS1_AFTER}”",
        )
    may_first, may_last = date(first.year, 5, 1), date(first.year, 5, 31)
    at_earlier = _days(
        max(may_first, earlier.joined or may_first), min(may_last, earlier.left or moved - _DAY)
    )
    at_later = _days(max(may_first, moved), min(may_last, later.left or may_last))
    if at_earlier == at_later:
        return _cannot_tell(
            f"the pupil joined {later.school} on {day_text(moved)}, during {span}, and each school had "
            f"the pupil for {at_earlier} days in May (“{KS1_DURING}”)"
        )
    submits = earlier if at_earlier > at_later else later
    return Decision(
        submits.key,
        f"{_joined(later, moved)}, during {span}: “{KS1_DURING}” {earlier.school} had the pupil for "
        f"{at_earlier} days in May and {later.school} for {at_later}.",
    )


def _phonics(period: tuple[date, date], earlier: Registration, later: Registration, moved: date) -> Decision:
    first, last = period
    span = f"the phonics check period ({_span(first, last)})"
    if moved <= first:
        when = "the first day of" if moved == first else "before"
        return Decision(later.key, f"{_joined(later, moved)}, {when} {span}: “{PHONICS_BEFORE}”.")
    if moved > last:
        return Decision(
            earlier.key,
            f"{_joined(later, moved)}, after {span}, so took the check at {earlier.school}: "
            f"“{PHONICS_AFTER}”.",
        )
    if earlier.took_check:
        return Decision(
            earlier.key,
            f"{_joined(later, moved)}, during {span}, and had already taken the check at {earlier.school} "
            f"(its return has the pupil's mark): “{PHONICS_AFTER}”.",
        )
    if earlier.took_check is False:
        return Decision(
            later.key,
            f"{_joined(later, moved)}, during {span}, and had not taken the check at {earlier.school}: "
            f"“{PHONICS_DURING}”.",
        )
    return _cannot_tell(
        f"the pupil joined {later.school} on {day_text(moved)}, during {span}, and {earlier.school}'s return "
        f"does not show whether they took the check there (“{PHONICS_DURING}”)"
    )


def _ks2(period: tuple[date, date], earlier: Registration, later: Registration, moved: date) -> Decision:
    first, last = period
    span = f"the KS2 test week ({_span(first, last)})"
    if moved <= first:
        when = "the first day of" if moved == first else "before"
        return Decision(later.key, f"{_joined(later, moved)}, {when} {span}: “{KS2_BEFORE}”")
    if moved <= last:
        return Decision(
            earlier.key,
            f"{_joined(later, moved)}, during {span}, so was registered at {earlier.school} at its "
            f"beginning: “{KS2_DURING}”",
        )
    return Decision(
        earlier.key,
        f"{_joined(later, moved)}, after {span}, so was registered at {earlier.school} during it: "
        f"“{KS2_AFTER}”",
    )


def _eyfsp(dates: KeyDates, earlier: Registration, later: Registration, moved: date) -> Decision:
    at_earlier_school = earlier.summer_second_half_starts or dates.summer_second_half_starts
    at_later_school = later.summer_second_half_starts or dates.summer_second_half_starts
    if at_earlier_school is None or at_later_school is None:
        return _cannot_tell(
            "the round has no date for the first day of the second half of the summer term; "
            "the LA adds it to the round"
        )
    if at_earlier_school != at_later_school:
        start = min(at_earlier_school, at_later_school)
        end = date(start.year, 7, 31)
        days_earlier = _days(max(start, earlier.joined or start), min(end, earlier.left or moved - _DAY))
        days_later = _days(max(start, moved), min(end, later.left or end))
        differ = (
            f"schools' summer half terms differ ({earlier.school}'s second half starts "
            f"{day_text(at_earlier_school)}, {later.school}'s {day_text(at_later_school)}): "
            f"“{EYFSP_DIFFERENT}”"
        )
        counted = f"From {day_text(start)} to {day_text(end)} the child attends"
        if days_earlier == days_later:
            return _cannot_tell(f"the {differ} {counted} each for {days_earlier} days")
        submits = earlier if days_earlier > days_later else later
        return Decision(
            submits.key,
            f"The {differ} {counted} {earlier.school} for {days_earlier} days and {later.school} "
            f"for {days_later}.",
        )
    second_half = at_earlier_school
    if moved >= second_half:
        when = "the first day of" if moved == second_half else "after the start of"
        return Decision(
            earlier.key,
            f"The child started at {later.school} on {day_text(moved)}, {when} the second half of the summer "
            f"term ({day_text(second_half)}): “{EYFSP_AFTER}”",
        )
    return Decision(
        later.key,
        f"The child moved to {later.school} on {day_text(moved)}, before the summer half term (the second "
        f"half starts {day_text(second_half)}): “{EYFSP_BEFORE}”",
    )
