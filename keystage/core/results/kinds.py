"""The kinds of results collection keystage runs, and what each expects of a pupil.

A collection is one kind in one academic year (named by the year it ends: 2026 is 2025/26). The
outcomes each kind accepts are reference data (frameworks and the KS4 catalogue); what stays here
is the shape: which framework, key stage, NC years, template layout, and whether the school's
roster is the only source of pupils.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from keystage.core.key_stages import key_stage_of


@dataclass(frozen=True)
class CollectionKind:
    key: str  # as on the command line: ks4-gcse
    title: str  # as people name it: KS4 GCSE
    framework: str  # the framework collection whose outcomes it takes
    key_stage: str  # as written in the template's Key Stage column
    nc_years: tuple[int, ...]  # 0 is Reception
    layout: str  # "headed": header rows above the pupils (seed 000); "ks1": one header row (seed 001)
    roster_only: bool  # pupils must be on the school's roster (refused otherwise)
    takes_ctf: bool  # a CTF is accepted as an upload
    la_tag: str | None  # the LA return tag its CTFs travel under

    @property
    def report_key_stage(self) -> str | None:
        """The key stage of the reports its results feed (keystage.core.key_stages)."""
        return key_stage_of(self.key)

    def birth_span(self, year: int, nc_year: int) -> tuple[date, date]:
        """The first and last birthdays of the pupils in ``nc_year`` in the academic year ending
        ``year`` (Year 11 in 2020/21: born 1 September 2004 to 31 August 2005)."""
        return date(year - nc_year - 6, 9, 1), date(year - nc_year - 5, 8, 31)

    def birth_years(self, year: int) -> set[int]:
        years: set[int] = set()
        for nc_year in self.nc_years:
            first, last = self.birth_span(year, nc_year)
            years |= {first.year, last.year}
        return years


KINDS: dict[str, CollectionKind] = {
    kind.key: kind
    for kind in (
        CollectionKind("ks4-gcse", "KS4 GCSE", "ks4-gcse", "4", (11,), "headed", False, False, None),
        CollectionKind(
            "ks4-non-gcse", "KS4 non-GCSE", "ks4-non-gcse", "4", (11,), "headed", False, False, None
        ),
        CollectionKind("ks1", "KS1", "ks1", "1", (2,), "ks1", True, True, "KS1"),
        CollectionKind("ks2-ta", "KS2 TA", "ks2", "2", (6,), "headed", False, True, "KS2 TA"),
        CollectionKind("phonics", "Phonics", "phonics", "1", (1, 2), "headed", False, True, "Phonics"),
        CollectionKind("eyfsp", "EYFSP", "eyfsp", "F", (0,), "headed", False, True, "EYFSP"),
    )
}


def kind(key: str) -> CollectionKind:
    try:
        return KINDS[key]
    except KeyError:
        raise KeyError(f"no collection “{key}”; choose one of {', '.join(KINDS)}") from None


def academic_year_name(year: int) -> str:
    """2026 -> "2025/26"."""
    return f"{year - 1}/{year % 100:02d}"
