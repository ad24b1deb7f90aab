"""The demo LA's returns for this academic year, opened once: a later run leaves them alone."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from keystage.core.returns import ReturnTag, academic_year_of
from keystage.organisations.models import LocalAuthority
from keystage.returns.models import ReturnRound

DEMO_LA_CODE = "990"


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _last_friday_of_june(year: int) -> date:
    end = date(year, 6, 30)
    return end - timedelta(days=(end.weekday() - 4) % 7)


def key_dates(tag: ReturnTag, year: int) -> dict[str, date | None]:
    """Typical dates for a return in the academic year ending ``year``: the KS1 tests in May, the KS2
    test week from the second Monday of May, the phonics check from the second Monday of June, and
    the second half of the summer term from the first Monday of June."""
    second_monday_may = _weekday_on_or_after(date(year, 5, 1), 0) + timedelta(days=7)
    second_monday_june = _weekday_on_or_after(date(year, 6, 1), 0) + timedelta(days=7)
    dates: dict[str, date | None] = {
        "deadline": _last_friday_of_june(year),
        "period_starts": None,
        "period_ends": None,
        "summer_second_half_starts": None,
    }
    if tag is ReturnTag.KS1:
        dates.update(period_starts=date(year, 5, 1), period_ends=date(year, 5, 31))
    elif tag is ReturnTag.KS2_TA:
        dates.update(period_starts=second_monday_may, period_ends=second_monday_may + timedelta(days=3))
    elif tag is ReturnTag.PHONICS:
        dates.update(
            period_starts=second_monday_june,
            period_ends=second_monday_june + timedelta(days=4),
            deadline=second_monday_june + timedelta(days=15),
        )
    elif tag is ReturnTag.EYFSP:
        dates["summer_second_half_starts"] = _weekday_on_or_after(date(year, 6, 1), 0)
    elif tag is ReturnTag.CENSUS:
        dates["deadline"] = date(year, 5, 31)
    elif tag in (ReturnTag.KS3_TA, ReturnTag.OTHER):
        dates["deadline"] = date(year, 7, 17)
    return dates


def load_demo_returns(year: int | None = None) -> list[str]:
    """Every return of the academic year, open to the demo LA's schools. Returns the rounds' titles;
    an empty list when the demo LA is not loaded."""
    la = LocalAuthority.objects.filter(code=DEMO_LA_CODE).first()
    if la is None:
        return []
    year = year or academic_year_of(timezone.localdate())
    opened = []
    for tag in ReturnTag:
        round_, _created = ReturnRound.objects.get_or_create(
            la=la,
            tag=tag.value,
            year=year,
            defaults={
                **key_dates(tag, year),
                "instructions": f"Send your {tag.label} file by the deadline.",
            },
        )
        opened.append(str(round_))
    return opened
