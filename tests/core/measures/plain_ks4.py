"""A second opinion on the KS4 engine: Attainment 8 and its elements, EBacc entry and average point
score, and English and maths 4+/5+, worked out one pupil at a time in plain Python, read from
shared/domain/ks4-measures.md and nothing else (deliberately not from keystage's engine).

It reads the catalogue itself (points, discount codes, EBacc pillars of the rules year), so the
engine's points table is checked too. Each step is the domain page's rule, in its words where
possible; it is slow and meant to be: clarity over speed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from keystage.core.reference.ks4_catalogue import Catalogue, Qualification, normalise_grade

MATHS = "maths"
LANGUAGE = "english"  # the catalogue's name for the English Language pillar
LITERATURE = "english_literature"
EBACC_POOL = ("science", "humanities", "languages")
# Single sciences for the EBacc science pillar: "three single sciences from biology, chemistry,
# physics, computer science".
SINGLE_SCIENCES = ("Biology", "Chemistry", "Physics", "Computer Science")

# Why a result does not count, in the plain implementation's words.
UNKNOWN = "unknown qualification number"
OFF_LIST = "not on the year's list of approved qualifications"
NOT_A_GRADE = "not a valid grade of its qualification"
LATER_SERIES = "a qualification of the same discount code was sat in an earlier series"
NOT_BEST = "a better grade of the same discount code in the same series"

FIGURES = (
    "a8",
    "a8_english",
    "a8_maths",
    "a8_ebacc",
    "a8_open",
    "ebacc_entered",
    "ebacc_aps",
    "em_4plus",
    "em_5plus",
)


@dataclass(frozen=True, order=True)
class Series:
    """An exam window: November (October to December), January, or summer (May and June)."""

    # Compared as (year, month): November 2025 < January 2026 < summer 2026.
    year: int  # calendar year of the window
    month: int  # 11 for November, 1 for January, 6 for summer

    @property
    def name(self) -> str:
        window = {11: "November", 1: "January", 6: "summer"}[self.month]
        return f"{window} {self.year}"


def series_of(exam_date: date | None) -> Series:
    """The window an exam date falls in; two dates of the same June are one series."""
    if exam_date is None:
        raise ValueError("a result without an exam date is in no known series")
    if exam_date.month in (10, 11, 12):
        return Series(exam_date.year, 11)
    if exam_date.month == 1:
        return Series(exam_date.year, 1)
    if exam_date.month in (5, 6):
        return Series(exam_date.year, 6)
    raise ValueError(f"{exam_date.isoformat()} is in no exam series")


@dataclass(frozen=True)
class Entry:
    """A result that counts: on the year's list, a valid grade, catalogued."""

    qan: str
    title: str
    grade: str
    points: float  # of each slot (a double award fills two)
    discount_code: str
    pillar: str | None
    double_award: bool
    series: Series

    def slots(self) -> list[float]:
        return [self.points, self.points] if self.double_award else [self.points]


@dataclass
class Pupil:
    upn: str
    figures: dict[str, float | bool]
    counted: list[Entry]
    not_counted: list[tuple[str, str, str]]  # (qan, grade, reason)


def on_the_list(qualification: Qualification, rules_year: int) -> bool:
    """On the year's DfE list: the year's discount code file lists it (with a code)."""
    return bool(qualification.all_discount_codes(rules_year))


def discount_code(qualification: Qualification, rules_year: int) -> str:
    code = qualification.discount_code(rules_year)
    if code is not None:
        return code
    # Listed per syllabus with different codes (e.g. Art and Design: JA2 and KJ1) and a result
    # names no syllabus: take the first code, as points_table does (the domain page is silent).
    return min(qualification.all_discount_codes(rules_year))


def slot_points(qualification: Qualification, grade: str) -> float | None:
    """Points of one slot for a grade, None if it is not a grade of the qualification.

    GCSE 9-1: the grade; U: 0; combined science "54": the mean of the two grades in each of its
    two slots; anything else: the points file.
    """
    found = qualification.grade(grade)
    if found is None:
        return None
    if found.grade == "U":
        return 0.0
    if qualification.is_double_award and len(found.grade) == 2 and found.grade.isdigit():
        return (int(found.grade[0]) + int(found.grade[1])) / 2
    return found.points


def first_series_best_grade(entries: list[Entry]) -> tuple[Entry, list[tuple[Entry, str]]]:
    """Of entries sharing a discount code: the first series in which the pupil sat any of them
    counts, and within it the best grade. Returns the one kept and the others with why not."""
    first = min(entry.series for entry in entries)
    in_first = [e for e in entries if e.series == first]
    kept = max(in_first, key=lambda e: e.points)
    others = []
    for entry in entries:
        if entry is kept:
            continue
        same_series = any(entry is other for other in in_first)
        others.append((entry, NOT_BEST if same_series else LATER_SERIES))
    return kept, others


def science_subject(entry: Entry) -> str | None:
    matches = [subject for subject in SINGLE_SCIENCES if subject.lower() in entry.title.lower()]
    if len(matches) != 1:
        return None
    return matches[0]


def pupil_figures(
    upn: str,
    results: Iterable[tuple[str, str, date]],
    catalogue: Catalogue,
    rules_year: int,
) -> Pupil:
    """A pupil's figures from their results (qan, grade, exam date)."""
    candidates: list[Entry] = []
    not_counted: list[tuple[str, str, str]] = []

    # Step 1: each result's points, and whether it counts at all.
    for qan, grade, exam_date in results:
        qualification = catalogue.by_qan(qan)
        if qualification is None:
            not_counted.append((qan, grade, UNKNOWN))
            continue
        if not on_the_list(qualification, rules_year):
            not_counted.append((qan, grade, OFF_LIST))
            continue
        points = slot_points(qualification, grade)
        if points is None:
            not_counted.append((qan, grade, NOT_A_GRADE))
            continue
        candidates.append(
            Entry(
                qan=qualification.qan,
                title=qualification.title,
                grade=normalise_grade(grade),
                points=points,
                discount_code=discount_code(qualification, rules_year),
                pillar=qualification.ebacc_pillar(rules_year),
                double_award=qualification.is_double_award,
                series=series_of(exam_date),
            )
        )

    # Step 2: discounting. Qualifications sharing a discount code count once.
    by_code: dict[str, list[Entry]] = defaultdict(list)
    for entry in candidates:
        by_code[entry.discount_code].append(entry)
    counted: list[Entry] = []
    for entries in by_code.values():
        kept, others = first_series_best_grade(entries)
        counted.append(kept)
        not_counted.extend((e.qan, e.grade, why) for e, why in others)

    maths = sorted((e.points for e in counted if e.pillar == MATHS), reverse=True)
    languages_en = [e.points for e in counted if e.pillar == LANGUAGE]
    literatures = [e.points for e in counted if e.pillar == LITERATURE]
    englishes = sorted(languages_en + literatures, reverse=True)
    took_both_englishes = bool(languages_en) and bool(literatures)

    # Step 3: Attainment 8.
    open_pool: list[float] = []
    # Maths: the EBacc maths qualification, double weighted; another maths can count in open.
    a8_maths = 2 * maths[0] if maths else 0.0
    open_pool.extend(maths[1:])
    # English: the higher of language and literature, double only if the pupil took both.
    if englishes:
        a8_english = 2 * englishes[0] if took_both_englishes else englishes[0]
        open_pool.extend(englishes[1:])  # the unused English can count in open
    else:
        a8_english = 0.0
    # EBacc: best three of sciences, humanities, languages; combined science counts as two.
    ebacc_slots = sorted((s for e in counted if e.pillar in EBACC_POOL for s in e.slots()), reverse=True)
    a8_ebacc = sum(ebacc_slots[:3])
    open_pool.extend(ebacc_slots[3:])
    # Open: best three of everything else that counts.
    open_pool.extend(
        s for e in counted if e.pillar not in (MATHS, LANGUAGE, LITERATURE, *EBACC_POOL) for s in e.slots()
    )
    a8_open = sum(sorted(open_pool, reverse=True)[:3])
    a8 = a8_maths + a8_english + a8_ebacc + a8_open

    # Step 4: EBacc entry.
    sciences = [e for e in counted if e.pillar == "science"]
    combined = any(e.double_award for e in sciences)
    singles = {science_subject(e) for e in sciences if not e.double_award} - {None}
    entered = (
        took_both_englishes
        and bool(maths)
        and (combined or len(singles) >= 3)
        and any(e.pillar == "humanities" for e in counted)
        and any(e.pillar == "languages" for e in counted)
    )

    # Step 5: EBacc average point score: English only with both; best two science slots.
    english_pillar = englishes[0] if took_both_englishes else 0.0
    science_slots = sorted((s for e in sciences for s in e.slots()), reverse=True)
    humanities = [e.points for e in counted if e.pillar == "humanities"]
    languages = [e.points for e in counted if e.pillar == "languages"]
    aps = (
        english_pillar
        + (maths[0] if maths else 0.0)
        + sum(science_slots[:2])
        + (max(humanities) if humanities else 0.0)
        + (max(languages) if languages else 0.0)
    ) / 6

    # Step 6: English and maths: maths 4+ (5+) and English language or literature 4+ (5+).
    best_maths = maths[0] if maths else 0.0
    best_english = englishes[0] if englishes else 0.0
    figures: dict[str, float | bool] = {
        "a8": a8,
        "a8_english": a8_english,
        "a8_maths": a8_maths,
        "a8_ebacc": a8_ebacc,
        "a8_open": a8_open,
        "ebacc_entered": entered,
        "ebacc_aps": aps,
        "em_4plus": best_maths >= 4 and best_english >= 4,
        "em_5plus": best_maths >= 5 and best_english >= 5,
    }
    return Pupil(upn, figures, counted, not_counted)


def plain_measures(
    results: Iterable[tuple[str, str, str, date]],
    upns: Iterable[str],
    catalogue: Catalogue,
    year: int,
) -> dict[str, Pupil]:
    """Every pupil's figures from results (upn, qan, grade, exam date), under the rules of ``year``
    (the catalogue's newest rules year on or before it)."""
    rules_year = catalogue.rules_year(year)
    if rules_year is None:
        raise ValueError(f"the catalogue has no rules for {year} or before")
    by_pupil: dict[str, list[tuple[str, str, date]]] = defaultdict(list)
    for upn, qan, grade, exam_date in results:
        by_pupil[upn].append((qan, grade, exam_date))
    return {upn: pupil_figures(upn, by_pupil.get(upn, []), catalogue, rules_year) for upn in upns}
