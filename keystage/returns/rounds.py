"""The LA's rounds of returns: who may run them, opening one, and which rounds a school is asked for
(by the academic year and the year groups it teaches)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.accounts import policy
from keystage.core.results.kinds import academic_year_name
from keystage.core.returns import academic_year_of, parse_tag
from keystage.core.roles import Action
from keystage.organisations.models import LocalAuthority, School
from keystage.returns.errors import ReturnsError
from keystage.returns.models import ReturnRound


def current_year(today: date | None = None) -> int:
    return academic_year_of(today or timezone.localdate())


# Who may see what (composed from the policy; nothing here grants on its own) ------------------


def can_run(user: Any, la: LocalAuthority) -> bool:
    return policy.can(user, Action.RUN_LA_COLLECTIONS, la)


def require_la(actor: Any, la: LocalAuthority) -> None:
    policy.require(actor, Action.RUN_LA_COLLECTIONS, la)


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
    require_la(actor, la)
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
