"""Exam series: the exam windows of an academic year that KS4 results are sat in, as DfE's early entry
rule counts them (shared/domain/ks4-measures.md, "Discounting"): the first *series* in which a pupil
sat a qualification of a discount code counts, and two exams on different days of one summer are one
series.

The windows, by academic year (September to August, named by the year it ends):

- November: October to December (GCSE English language and maths resits; the exceptional autumn
  2020 series sat in October);
- January: January and February;
- March: March;
- summer: May and June.

These are the four series Ofqual's data returns name ("January|June|March|November YYYY"). A date in
April, July, August or September is in no series: ``series_of`` answers None and the file readers
refuse it (a result whose exam has no formal date should be given its series instead).

A series is a ``Series``: an ordered key (``academic year * 10 + window``: November 2025 is 20261,
summer 2026 is 20264, so keys sort in time) and a label ("November 2025", "Summer 2026"). Tables
carry the key (Int32); ``series_keys`` and ``series_labels`` work on whole columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import polars as pl

NOVEMBER, JANUARY, MARCH, SUMMER = 1, 2, 3, 4
_WINDOW_NAMES = {NOVEMBER: "November", JANUARY: "January", MARCH: "March", SUMMER: "Summer"}
# Month -> window. October to December belong to the academic year that ends the next summer.
_WINDOW_OF_MONTH = {
    10: NOVEMBER,
    11: NOVEMBER,
    12: NOVEMBER,
    1: JANUARY,
    2: JANUARY,
    3: MARCH,
    5: SUMMER,
    6: SUMMER,
}
WINDOWS_TEXT = "November: October to December; January: January and February; March; summer: May and June"
# Words a person or an exams system writes for a series, each with its window.
_WORDS = {
    "summer": SUMMER,
    "may": SUMMER,
    "june": SUMMER,
    "jun": SUMMER,
    "november": NOVEMBER,
    "nov": NOVEMBER,
    "october": NOVEMBER,
    "oct": NOVEMBER,
    "december": NOVEMBER,
    "dec": NOVEMBER,
    "january": JANUARY,
    "jan": JANUARY,
    "february": JANUARY,
    "feb": JANUARY,
    "march": MARCH,
    "mar": MARCH,
}
_KEY = re.compile(r"(20\d\d)([1-4])")


@dataclass(frozen=True, order=True)
class Series:
    """One exam series; compared (and sorted) in time order by its key."""

    key: int  # academic year * 10 + window (1 November, 2 January, 3 March, 4 summer)

    def __post_init__(self) -> None:
        if self.key % 10 not in _WINDOW_NAMES or not 1000 <= self.key // 10 <= 9999:
            raise ValueError(f"{self.key} is not an exam series key")

    @property
    def academic_year(self) -> int:
        """The academic year by its end: November 2025 is in 2026."""
        return self.key // 10

    @property
    def window(self) -> int:
        return self.key % 10

    @property
    def calendar_year(self) -> int:
        return self.academic_year - 1 if self.window == NOVEMBER else self.academic_year

    @property
    def label(self) -> str:
        """ "Summer 2026", "November 2025"."""
        return f"{_WINDOW_NAMES[self.window]} {self.calendar_year}"

    def __str__(self) -> str:
        return self.label


def summer(academic_year: int) -> Series:
    """The summer series of an academic year (by its end)."""
    return Series(academic_year * 10 + SUMMER)


def series_of(day: date) -> Series | None:
    """The series an exam on ``day`` belongs to, None if the day is in no series."""
    window = _WINDOW_OF_MONTH.get(day.month)
    if window is None:
        return None
    academic_year = day.year + 1 if day.month >= 9 else day.year
    return Series(academic_year * 10 + window)


def parse_series(text: str) -> Series | None:
    """A series as written: "summer 2026", "2026 summer", "June 2026", "Nov 2025", "November 2025",
    "Jan 2026", "March 2026" (any case, with spaces, hyphens or slashes), or a key as tables carry it
    ("20264"). None if it names no series."""
    cleaned = text.strip().lower()
    key = _KEY.fullmatch(cleaned)
    if key:
        return Series(int(cleaned))
    parts = [part for part in re.split(r"[\s,/_-]+", cleaned) if part]
    if len(parts) != 2:
        return None
    years = [part for part in parts if re.fullmatch(r"(19|20)\d\d", part)]
    words = [part for part in parts if part in _WORDS]
    if len(years) != 1 or len(words) != 1:
        return None
    window, year = _WORDS[words[0]], int(years[0])
    # A November series is named by its calendar year and belongs to the next academic year.
    return Series((year + 1 if window == NOVEMBER else year) * 10 + window)


def series_keys(day: pl.Expr) -> pl.Expr:
    """The series key (Int32) of each date; null for no date or a date in no series."""
    month = day.dt.month()
    window = month.replace_strict(_WINDOW_OF_MONTH, default=None, return_dtype=pl.Int32)
    academic_year = day.dt.year().cast(pl.Int32) + (month >= 9).cast(pl.Int32)
    return (academic_year * 10 + window).cast(pl.Int32)


def series_labels(key: pl.Expr) -> pl.Expr:
    """The label ("Summer 2026") of each series key; null for null."""
    window = key % 10
    calendar_year = key // 10 - (window == NOVEMBER).cast(pl.Int32)
    name = window.replace_strict(_WINDOW_NAMES, default=None, return_dtype=pl.String)
    return pl.concat_str([name, calendar_year.cast(pl.String)], separator=" ")
