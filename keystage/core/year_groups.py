"""Which year groups a school teaches, from its statutory age range, and so which collections are
for it. A pupil in national curriculum year Y (0 is Reception) is Y + 4 on 1 September and turns
Y + 5 during the year; a school whose statutory ages run from LOW to HIGH teaches the years whose
pupils start the year at LOW or older and finish it at HIGH or younger (4-11: Reception to Year 6;
11-16: Years 7 to 11; 9-13: Years 5 to 8)."""

from __future__ import annotations

from collections.abc import Iterable

RECEPTION, LAST_YEAR = 0, 13

# Year groups a school is taken to teach when its age range is not known, by its phase.
_BY_PHASE: dict[str, range] = {
    "nursery": range(0, 0),
    "primary": range(0, 7),
    "middle": range(4, 9),
    "secondary": range(7, 14),
    "sixteen_plus": range(12, 14),
    "all_through": range(0, 14),
    "special": range(0, 14),
}


def taught(low_age: int | None, high_age: int | None, phase: str = "") -> frozenset[int]:
    """The NC years (0 for Reception to 13) a school teaches: by its age range where both ends are
    known, else by its phase (every year when the phase is not known either). A nursery school
    teaches none: its oldest children leave before Reception's assessments."""
    if phase == "nursery":
        return frozenset()
    if low_age is not None and high_age is not None:
        return frozenset(y for y in range(RECEPTION, LAST_YEAR + 1) if low_age <= y + 4 and y + 5 <= high_age)
    return frozenset(_BY_PHASE.get(phase, range(RECEPTION, LAST_YEAR + 1)))


def takes_part(years_taught: Iterable[int], nc_years: Iterable[int]) -> bool:
    """Whether a school teaching these years takes part in a collection of pupils in ``nc_years``."""
    return bool(set(years_taught) & set(nc_years))


def describe(years: Iterable[int]) -> str:
    """“Reception to Year 6”, “Years 7 to 11”, “Years 1 and 2”, “Year 2”, or “no year groups”."""
    ordered = sorted(set(years))
    if not ordered:
        return "no year groups"

    def name(y: int) -> str:
        return "Reception" if y == RECEPTION else f"Year {y}"

    if len(ordered) == 1:
        return name(ordered[0])
    first, last = ordered[0], ordered[-1]
    if len(ordered) == 2:
        return f"{name(first)} and Year {last}" if first == RECEPTION else f"Years {first} and {last}"
    if first == RECEPTION:
        return f"Reception to Year {last}"
    return f"Years {first} to {last}"
