"""A second opinion on the KS4 engine (issue 23, build point 9): a plain per-pupil implementation
written from shared/domain/ks4-measures.md (plain_ks4.py) must agree with ``pupil_measures`` on every
pupil and every figure: A8 and its four elements, EBacc entry and APS, English and maths 4+ and 5+.

Two sets of pupils: a seeded synthetic sample shaped like the national year, and hand-worked cases
from real exam-board data (early entries, two boards in one summer, AS beside GCSE, qualifications
off the year's list, lone English, single sciences, technical awards, U grades, unknown QANs), each
worked out by hand below under DfE's 2021 rules (the catalogue's newest rules year, used for 2026).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.core.measures.ks4 import scoring, slots
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.reference.ks4_catalogue import Catalogue, Qualification, import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import ks4_measures_pupils
from tests.core.measures.plain_ks4 import (
    FIGURES,
    LATER_SERIES,
    NOT_A_GRADE,
    NOT_BEST,
    OFF_LIST,
    UNKNOWN,
    Pupil,
    plain_measures,
    series_of,
)
from tests.core.reference.test_ks4_catalogue import DFE_2019

YEAR = 2026  # read with the 2021 rules, the newest in DfE's files

# Exam dates of the cohort leaving in summer 2026.
SUMMER_2025 = date(2025, 6, 10)  # Year 10
NOVEMBER_2025 = date(2025, 11, 6)
JUNE_5 = date(2026, 6, 5)
JUNE_20 = date(2026, 6, 20)
SUMMER = date(2026, 6, 12)

# Qualifications from DfE's 2019 files (QAN: title, 2021 discount code).
MATHS = "60146084"  # AQA GCSE (9-1) Mathematics, RB1
AS_MATHS = "60311654"  # AQA AS Mathematics, RB1: A 10.75, B 8.88, C 7, D 5.13, E 3.5
OLD_AS_MATHS = "10034055"  # AQA AS Mathematics (old spec): RB1 in 2014-2019, not on the 2021 list
LANGUAGE = "60142923"  # AQA GCSE English Language, FK2B
LITERATURE = "60144476"  # AQA GCSE English Literature, FC4
COMBINED = "6018758X"  # AQA GCSE Combined Science: Trilogy (double award), RA1E
BIOLOGY = "60187529"  # AQA GCSE Biology, RH3
AS_BIOLOGY = "60146242"  # AQA AS Biology, RH3
CHEMISTRY = "60187578"  # AQA GCSE Chemistry, RD1
PHYSICS = "60187517"  # AQA GCSE Physics, RC1
COMPUTING = "60183019"  # AQA GCSE Computer Science, CK1
HISTORY = "60182179"  # AQA GCSE History, DB
GEOGRAPHY = "60184103"  # AQA GCSE Geography, RF4
FRENCH_AQA = "60181576"  # AQA GCSE French, FKF
FRENCH_EDEXCEL = "60187086"  # Pearson Edexcel GCSE French, FKF
SPANISH = "60181606"  # AQA GCSE Spanish, FKS
ART = "60180882"  # AQA GCSE Art and Design: per syllabus JA2 or KJ1
RS = "60184000"  # AQA GCSE Religious Studies A, DD1
MUSIC = "60183615"  # AQA GCSE Music, LF1
DRAMA = "60185752"  # AQA GCSE Drama, LC11
PE = "60182799"  # AQA GCSE Physical Education, MA1
BTEC_HSC = "60303955"  # Pearson BTEC Tech Award Health and Social Care, PA1: *2 8.5 D2 7 M2 5.5 P1 1.25
CAMNAT_HSC = "6004780X"  # OCR Cambridge National Health and Social Care, PA1 (discounts the BTEC)
BTEC_ENTERPRISE = "60319161"  # Pearson BTEC Tech Award Enterprise, AE5
CAMNAT_IMEDIA = "60070432"  # OCR Cambridge National Creative iMedia, KA4
BTEC_ENGINEERING = "60308291"  # Pearson BTEC Tech Award Engineering, XA1: M1 2
NO_SUCH_QAN = "12345678"  # well formed, in no DfE file


@dataclass(frozen=True)
class Case:
    upn: str
    results: list[tuple[str, str, date]]  # (qan, grade, exam date)
    figures: dict[str, float | bool]
    not_counted: set[tuple[str, str]] = field(default_factory=set)  # (qan, reason)


def figures(
    a8_maths: float,
    a8_english: float,
    a8_ebacc: float,
    a8_open: float,
    *,
    entered: bool,
    aps_total: float,
    em4: bool,
    em5: bool,
) -> dict[str, float | bool]:
    return {
        "a8": a8_maths + a8_english + a8_ebacc + a8_open,
        "a8_english": a8_english,
        "a8_maths": a8_maths,
        "a8_ebacc": a8_ebacc,
        "a8_open": a8_open,
        "ebacc_entered": entered,
        "ebacc_aps": aps_total / 6,
        "em_4plus": em4,
        "em_5plus": em5,
    }


CASES = [
    # November early entry in maths (4), resat in summer (6): the first series counts, so 4.
    # Maths 2x4 = 8. English: both taken, lit 6 doubled = 12; language 5 goes to open.
    # EBacc pool: history 5, combined 4.5 + 4.5, Spanish 4 -> 5 + 4.5 + 4.5 = 14; Spanish 4 to open.
    # Open: language 5, Spanish 4, art 6, music 3 -> 6 + 5 + 4 = 15. A8 = 49.
    # Entered (both Englishes, maths, combined science, history, Spanish).
    # APS: English 6 + maths 4 + science 4.5 + 4.5 + history 5 + Spanish 4 = 28; /6.
    # E&M: maths 4, English 6: 4+ yes, 5+ no.
    Case(
        "NOVEMBER_THEN_SUMMER",
        [
            (MATHS, "4", NOVEMBER_2025),
            (MATHS, "6", SUMMER),
            (LANGUAGE, "5", SUMMER),
            (LITERATURE, "6", SUMMER),
            (COMBINED, "54", SUMMER),
            (HISTORY, "5", SUMMER),
            (SPANISH, "4", SUMMER),
            (ART, "6", SUMMER),
            (MUSIC, "3", SUMMER),
        ],
        figures(8, 12, 14, 15, entered=True, aps_total=28, em4=True, em5=False),
        {(MATHS, LATER_SERIES)},
    ),
    # Two boards' French on 5 June (5) and 20 June (7): one series, so the best grade, 7.
    # Maths 14. English: lit 7 doubled = 14, language 6 to open.
    # EBacc pool: French 7, geography 6, combined 5.5 + 5.5 -> 7 + 6 + 5.5 = 18.5; 5.5 to open.
    # Open: language 6, combined 5.5, RS 6 -> 17.5. A8 = 64.
    # APS: 7 + 7 + 5.5 + 5.5 + 6 + 7 = 38. E&M 4+ and 5+.
    Case(
        "TWO_BOARDS_ONE_SUMMER",
        [
            (MATHS, "7", SUMMER),
            (LANGUAGE, "6", SUMMER),
            (LITERATURE, "7", SUMMER),
            (COMBINED, "65", SUMMER),
            (GEOGRAPHY, "6", SUMMER),
            (FRENCH_AQA, "5", JUNE_5),
            (FRENCH_EDEXCEL, "7", JUNE_20),
            (RS, "6", SUMMER),
        ],
        figures(14, 14, 18.5, 17.5, entered=True, aps_total=38, em4=True, em5=True),
        {(FRENCH_AQA, NOT_BEST)},
    ),
    # AS beside GCSE. Maths: GCSE 6 and AS B (8.88) in the same summer share RB1: the best, 8.88.
    # Biology: AS C (7) in summer 2025 before GCSE biology 7 in 2026: the first series, AS C = 7.
    # Maths 2 x 8.88 = 17.76. English 5 and 5: 10, the other 5 to open.
    # EBacc pool: biology 7, chemistry 6, physics 5, history 4 -> 7 + 6 + 5 = 18; history 4 to open.
    # Open: English 5, history 4, PE 5 -> 14.
    # A8 = 17.76 + 10 + 18 + 14 = 59.76. Not entered (no language); the three single sciences are
    # biology (the AS), chemistry, physics.
    # APS: English 5 + maths 8.88 + science 7 + 6 + history 4 + language 0 = 30.88. E&M 4+, 5+.
    Case(
        "AS_BESIDE_GCSE",
        [
            (MATHS, "6", SUMMER),
            (AS_MATHS, "B", SUMMER),
            (LANGUAGE, "5", SUMMER),
            (LITERATURE, "5", SUMMER),
            (AS_BIOLOGY, "C", SUMMER_2025),
            (BIOLOGY, "7", SUMMER),
            (CHEMISTRY, "6", SUMMER),
            (PHYSICS, "5", SUMMER),
            (HISTORY, "4", SUMMER),
            (PE, "5", SUMMER),
        ],
        figures(17.76, 10, 18, 14, entered=False, aps_total=30.88, em4=True, em5=True),
        {(MATHS, NOT_BEST), (BIOLOGY, LATER_SERIES)},
    ),
    # An AS maths on the 2019 list but not the 2021 list: scores nothing, discounts nothing.
    # Maths: GCSE 5 -> 10. English 4 doubled = 8, literature 3 to open.
    # EBacc: combined 4 + 4, history 3 = 11. Open: literature 3, drama 4 -> 7. A8 = 36.
    # APS: 4 + 5 + 4 + 4 + 3 + 0 = 20. E&M: 4+ yes (English 4), 5+ no.
    Case(
        "OFF_THE_LIST",
        [
            (MATHS, "5", SUMMER),
            (OLD_AS_MATHS, "A", SUMMER),
            (LANGUAGE, "4", SUMMER),
            (LITERATURE, "3", SUMMER),
            (COMBINED, "44", SUMMER),
            (HISTORY, "3", SUMMER),
            (DRAMA, "4", SUMMER),
        ],
        figures(10, 8, 11, 7, entered=False, aps_total=20, em4=True, em5=False),
        {(OLD_AS_MATHS, OFF_LIST)},
    ),
    # Lone English language 7: counts once in A8 (7), but the EBacc English pillar scores 0.
    # Maths 12. EBacc: combined 6.5 + 6.5, geography 6 = 19; French 5 to open.
    # Open: French 5, music 5 -> 10. A8 = 48. Not entered (no literature).
    # APS: 0 + 6 + 6.5 + 6.5 + 6 + 5 = 30. E&M 4+ and 5+ (language 7, maths 6).
    Case(
        "LONE_LANGUAGE",
        [
            (MATHS, "6", SUMMER),
            (LANGUAGE, "7", SUMMER),
            (COMBINED, "76", SUMMER),
            (GEOGRAPHY, "6", SUMMER),
            (FRENCH_AQA, "5", SUMMER),
            (MUSIC, "5", SUMMER),
        ],
        figures(12, 7, 19, 10, entered=False, aps_total=30, em4=True, em5=True),
    ),
    # Lone English literature 5 and maths 4: A8 8 + 5 = 13; APS (0 + 4) / 6;
    # E&M: "English Language or Literature >= 4": 4+ yes, 5+ no (maths 4).
    Case(
        "LONE_LITERATURE",
        [(MATHS, "4", SUMMER), (LITERATURE, "5", SUMMER)],
        figures(8, 5, 0, 0, entered=False, aps_total=4, em4=True, em5=False),
    ),
    # Two single sciences (biology 7, chemistry 6): not entered for the EBacc (three are needed);
    # APS takes the best two science grades: 7 + 6.
    # Maths 12, English 12 (the other 6 to open). EBacc pool: 7, 6, 6, 6 -> 19; one 6 to open.
    # Open: English 6, a 6 from the pool, art 5 -> 17. A8 = 60.
    # APS: 6 + 6 + 7 + 6 + 6 + 6 = 37.
    Case(
        "TWO_SINGLE_SCIENCES",
        [
            (MATHS, "6", SUMMER),
            (LANGUAGE, "6", SUMMER),
            (LITERATURE, "6", SUMMER),
            (BIOLOGY, "7", SUMMER),
            (CHEMISTRY, "6", SUMMER),
            (HISTORY, "6", SUMMER),
            (SPANISH, "6", SUMMER),
            (ART, "5", SUMMER),
        ],
        figures(12, 12, 19, 17, entered=False, aps_total=37, em4=True, em5=True),
    ),
    # Three single sciences with computer science (biology 6, physics 5, computer science 4): entered.
    # Maths 10. English: language 5 doubled = 10, literature 4 to open.
    # EBacc pool: 6, 5, geography 5, 4, French 3 -> 16; 4 and 3 to open.
    # Open: literature 4, computer science 4, French 3 -> 11. A8 = 47.
    # APS: 5 + 5 + 6 + 5 + 5 + 3 = 29. E&M 4+ and 5+.
    Case(
        "THREE_SINGLE_SCIENCES",
        [
            (MATHS, "5", SUMMER),
            (LANGUAGE, "5", SUMMER),
            (LITERATURE, "4", SUMMER),
            (BIOLOGY, "6", SUMMER),
            (PHYSICS, "5", SUMMER),
            (COMPUTING, "4", SUMMER),
            (GEOGRAPHY, "5", SUMMER),
            (FRENCH_EDEXCEL, "3", SUMMER),
        ],
        figures(10, 10, 16, 11, entered=True, aps_total=29, em4=True, em5=True),
    ),
    # Technical awards in the open element. BTEC H&SC D2 (7) and Cambridge National H&SC M2 (5.5)
    # share PA1 in one summer: the best, D2. BTEC Enterprise *2 8.5, iMedia P1 1.25, Engineering M1 2.
    # Maths 3 -> 6. English: literature 5 doubled = 10, language 4 to open.
    # EBacc: combined 3 + 3 = 6 (the third slot empty).
    # Open: 8.5, 7, language 4 (then 2, 1.25) -> 19.5. A8 = 41.5.
    # APS: 5 + 3 + 3 + 3 + 0 + 0 = 14. E&M: maths 3, neither.
    Case(
        "TECHNICAL_AWARDS",
        [
            (MATHS, "3", SUMMER),
            (LANGUAGE, "4", SUMMER),
            (LITERATURE, "5", SUMMER),
            (COMBINED, "33", SUMMER),
            (BTEC_HSC, "D2", SUMMER),
            (CAMNAT_HSC, "M2", SUMMER),
            (BTEC_ENTERPRISE, "*2", SUMMER),
            (CAMNAT_IMEDIA, "P1", SUMMER),
            (BTEC_ENGINEERING, "M1", SUMMER),
        ],
        figures(6, 10, 6, 19.5, entered=False, aps_total=14, em4=False, em5=False),
        {(CAMNAT_HSC, NOT_BEST)},
    ),
    # U grades count as taken and score 0. Maths U -> 0. English: language U and literature 4, both
    # taken: 4 doubled = 8; the U to open. EBacc: combined U (0 + 0), history 2, French U -> 2.
    # Open: 0, 0, RS 3 -> 3. A8 = 13.
    # Entered: every pillar taken (U counts as an entry). APS: 4 + 0 + 0 + 0 + 2 + 0 = 6.
    # E&M: maths 0, neither.
    Case(
        "U_GRADES",
        [
            (MATHS, "U", SUMMER),
            (LANGUAGE, "U", SUMMER),
            (LITERATURE, "4", SUMMER),
            (COMBINED, "U", SUMMER),
            (HISTORY, "2", SUMMER),
            (FRENCH_AQA, "U", SUMMER),
            (RS, "3", SUMMER),
        ],
        figures(0, 8, 2, 3, entered=True, aps_total=6, em4=False, em5=False),
    ),
    # Results that do not count: an unknown QAN (grade 9), a BTEC graded 7 (as the synthetic
    # generator wrote them), a GCSE graded D2. Left: maths 5, language 5, literature 5.
    # Maths 10, English 10, open: the other English 5. A8 = 25. APS: 5 + 5 = 10. E&M 4+, 5+.
    Case(
        "NOT_COUNTED",
        [
            (MATHS, "5", SUMMER),
            (LANGUAGE, "5", SUMMER),
            (LITERATURE, "5", SUMMER),
            (NO_SUCH_QAN, "9", SUMMER),
            (BTEC_HSC, "7", SUMMER),
            (ART, "D2", SUMMER),
        ],
        figures(10, 10, 0, 5, entered=False, aps_total=10, em4=True, em5=True),
        {(NO_SUCH_QAN, UNKNOWN), (BTEC_HSC, NOT_A_GRADE), (ART, NOT_A_GRADE)},
    ),
    # Combined science 54 in the open element: history 7, geography 6, French 6 take the EBacc
    # element (19) and both combined slots (4.5 + 4.5) go to open.
    # Maths 12, English 6 doubled = 12 (literature 5 to open). Open: 5, 4.5, 4.5 (art 3 left) -> 14.
    # A8 = 57. Entered. APS: 6 + 6 + 4.5 + 4.5 + 7 + 6 = 34. E&M 4+, 5+.
    Case(
        "COMBINED_IN_OPEN",
        [
            (MATHS, "6", SUMMER),
            (LANGUAGE, "6", SUMMER),
            (LITERATURE, "5", SUMMER),
            (COMBINED, "54", SUMMER),
            (HISTORY, "7", SUMMER),
            (GEOGRAPHY, "6", SUMMER),
            (FRENCH_AQA, "6", SUMMER),
            (ART, "3", SUMMER),
        ],
        figures(12, 12, 19, 14, entered=True, aps_total=34, em4=True, em5=True),
    ),
    # No results at all: every figure 0, nothing entered.
    Case("NO_RESULTS", [], figures(0, 0, 0, 0, entered=False, aps_total=0, em4=False, em5=False)),
]


# --- comparing two sets of figures ---------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    """Equal figures: a missing figure equals nothing; yes/no as truth; points to 1e-9."""
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    assert isinstance(a, int | float) and isinstance(b, int | float), (a, b)
    return abs(a - b) < 1e-9


def disagreements(
    engine: pl.DataFrame, plain: dict[str, dict[str, float | bool]]
) -> list[tuple[str, str, object, object]]:
    """(pupil, figure, engine's, plain's) for every figure the two disagree on."""
    rows = {row["upn"]: row for row in engine.select("upn", *FIGURES).iter_rows(named=True)}
    found: list[tuple[str, str, object, object]] = []
    for upn, expected in plain.items():
        row = rows.get(upn)
        if row is None:
            found.append((upn, "(pupil)", "missing", "present"))
            continue
        for name in FIGURES:
            if not _same(row[name], expected[name]):
                found.append((upn, name, row[name], expected[name]))
    found.extend((upn, "(pupil)", "present", "missing") for upn in rows if upn not in plain)
    return found


def _shown(value: object) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def disagreement_report(found: list[tuple[str, str, object, object]], *, first: int = 12) -> str:
    pupils = len({upn for upn, *_ in found})
    by_figure: dict[str, int] = {}
    for _upn, name, *_ in found:
        by_figure[name] = by_figure.get(name, 0) + 1
    lines = [
        f"the engine and the plain implementation disagree on {pupils} pupil(s), {len(found)} figure(s) "
        f"({', '.join(f'{name} {n}' for name, n in by_figure.items())}); the first {min(first, len(found))}:"
    ]
    lines += [
        f"  {upn}: {name}: engine {_shown(engine)}, plain {_shown(plain)}"
        for upn, name, engine, plain in found[:first]
    ]
    return "\n".join(lines)


def assert_agree(engine: pl.DataFrame, plain: dict[str, Pupil]) -> None:
    found = disagreements(engine, {upn: pupil.figures for upn, pupil in plain.items()})
    assert not found, disagreement_report(found)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return import_dfe_2019_folder(DFE_2019)


@pytest.fixture(scope="module")
def points(catalogue: Catalogue) -> pl.DataFrame:
    return points_table(catalogue, YEAR)


def _results_frame(rows: list[tuple[str, str, str, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"upn": pl.String, "qan": pl.String, "grade": pl.String, "exam_date": pl.Date},
        orient="row",
    )


def _case_rows() -> list[tuple[str, str, str, date]]:
    return [(case.upn, qan, grade, day) for case in CASES for qan, grade, day in case.results]


@pytest.fixture(scope="module")
def synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    """About 3,400 Year 11 pupils in 20 schools, generated with the national parameters."""
    year = generate(SynthSpec(year=YEAR, seed=23, secondary_schools=20, primary_schools=0))
    return year.ks4_results, ks4_measures_pupils(year)


# Exam dates of a mixed sample: Year 10 summer, two November dates, January, and three days of the
# final summer (one series).
MIXED_DATES = [
    SUMMER_2025,
    NOVEMBER_2025,
    date(2025, 11, 14),
    date(2026, 1, 12),
    date(2026, 5, 20),
    JUNE_5,
    JUNE_20,
]


def _mixed_sample(catalogue: Catalogue, pupils: int, seed: int) -> list[tuple[str, str, str, date]]:
    """Results as real board files mix them, drawn at random (seeded). Most pupils take each EBacc
    pillar (any board, GCSE or AS; science as combined or one to three single sciences) and a few
    other qualifications of the catalogue, on the year's list or not; with unknown QANs, invalid
    grades, U, resits and other boards' entries sharing a discount code, on dates across series."""
    rng = random.Random(seed)
    rules_year = catalogue.rules_year(YEAR) or YEAR
    graded = [q for q in catalogue.qualifications.values() if q.grades]
    listed = [q for q in graded if q.all_discount_codes(rules_year)]
    off_list = [q for q in graded if not q.all_discount_codes(rules_year)]
    pillars: dict[str, list[Qualification]] = defaultdict(list)
    by_code: dict[str, list[Qualification]] = defaultdict(list)
    for q in listed:
        pillars[q.ebacc_pillar(rules_year) or "open"].append(q)
        by_code[min(q.all_discount_codes(rules_year))].append(q)
    combined = [q for q in pillars["science"] if q.is_double_award]
    singles = [q for q in pillars["science"] if not q.is_double_award]

    def grade_of(qualification: Qualification) -> tuple[str, str]:
        roll = rng.random()
        if roll < 0.02:
            return NO_SUCH_QAN, "5"
        if roll < 0.06:
            return qualification.qan, "U"
        if roll < 0.09:
            return qualification.qan, rng.choice(["7", "D2", "A*", "X", "54"])
        return qualification.qan, rng.choice(list(qualification.grades))

    rows: list[tuple[str, str, str, date]] = []
    for number in range(pupils):
        upn = f"MIXED{number:05d}"
        taken: list[Qualification] = []
        for pillar in ("english", "english_literature", "maths", "humanities", "languages"):
            if rng.random() < 0.85:
                taken.append(rng.choice(pillars[pillar]))
        if rng.random() < 0.5:
            taken.append(rng.choice(combined))
        else:
            taken.extend(rng.sample(singles, rng.randint(0, 3)))
        taken.extend(rng.choice(pillars["open"]) for _ in range(rng.randint(0, 5)))
        taken.extend(rng.choice(off_list) for _ in range(rng.choice([0, 0, 0, 1, 2])))
        for qualification in taken:
            rows.append((upn, *grade_of(qualification), rng.choice(MIXED_DATES)))
            if rng.random() < 0.15:  # a resit, or another board's entry sharing the discount code
                codes = qualification.all_discount_codes(rules_year)
                other = rng.choice(by_code[min(codes)]) if codes else qualification
                rows.append((upn, *grade_of(other), rng.choice(MIXED_DATES)))
    return rows


# --- the plain implementation against the hand-worked figures ------------------------------------


def test_the_plain_implementation_gives_the_hand_worked_figures(catalogue: Catalogue) -> None:
    plain = plain_measures(_case_rows(), [c.upn for c in CASES], catalogue, YEAR)
    wrong = [
        f"{case.upn}: {name}: plain {_shown(plain[case.upn].figures[name])}, by hand {_shown(value)}"
        for case in CASES
        for name, value in case.figures.items()
        if not _same(plain[case.upn].figures[name], value)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_plain_implementation_says_why_each_result_does_not_count(catalogue: Catalogue) -> None:
    plain = plain_measures(_case_rows(), [c.upn for c in CASES], catalogue, YEAR)
    for case in CASES:
        assert {(qan, why) for qan, _grade, why in plain[case.upn].not_counted} == case.not_counted, case.upn


def test_a_series_is_an_exam_window_not_a_date() -> None:
    assert series_of(JUNE_5) == series_of(JUNE_20) == series_of(date(2026, 5, 14))
    assert series_of(date(2025, 10, 30)) == series_of(NOVEMBER_2025) < series_of(date(2026, 1, 9))
    assert series_of(date(2026, 1, 9)) < series_of(SUMMER)
    assert series_of(SUMMER_2025) < series_of(NOVEMBER_2025)
    with pytest.raises(ValueError, match="2026-03-02 is in no exam series"):
        series_of(date(2026, 3, 2))


# --- the engine against the plain implementation -------------------------------------------------


def test_the_engine_agrees_on_every_hand_worked_case(points: pl.DataFrame, catalogue: Catalogue) -> None:
    upns = [case.upn for case in CASES]
    pupils = pl.DataFrame({"upn": upns, "ks2_reading": [None] * len(upns), "ks2_maths": [None] * len(upns)})
    engine = pupil_measures(_results_frame(_case_rows()), pupils, points)
    assert_agree(engine.pupils, plain_measures(_case_rows(), upns, catalogue, YEAR))


def test_the_engine_agrees_on_every_pupil_of_a_synthetic_national_sample(
    synthetic: tuple[pl.DataFrame, pl.DataFrame], points: pl.DataFrame, catalogue: Catalogue
) -> None:
    results, pupils = synthetic
    assert pupils.height > 2000
    engine = pupil_measures(results, pupils, points)
    rows = [(r["upn"], r["qan"], r["grade"], r["exam_date"]) for r in results.iter_rows(named=True)]
    plain = plain_measures(rows, pupils.get_column("upn").to_list(), catalogue, YEAR)
    # The sample is varied enough to mean something: some pupils entered for the EBacc, some not,
    # some with 4+ in English and maths and some without.
    entered = sum(bool(p.figures["ebacc_entered"]) for p in plain.values())
    em4 = sum(bool(p.figures["em_4plus"]) for p in plain.values())
    assert 0 < entered < len(plain) and 0 < em4 < len(plain)
    assert_agree(engine.pupils, plain)


def test_the_engine_agrees_on_every_pupil_of_a_mixed_exam_board_sample(
    points: pl.DataFrame, catalogue: Catalogue
) -> None:
    rows = _mixed_sample(catalogue, pupils=3000, seed=23)
    upns = [f"MIXED{number:05d}" for number in range(3000)]
    pupils = pl.DataFrame({"upn": upns})
    engine = pupil_measures(_results_frame(rows), pupils, points)
    plain = plain_measures(rows, upns, catalogue, YEAR)
    # Varied enough to mean something: results left out for every reason, and earlier series won.
    reasons = {why for pupil in plain.values() for _qan, _grade, why in pupil.not_counted}
    assert reasons == {UNKNOWN, OFF_LIST, NOT_A_GRADE, LATER_SERIES, NOT_BEST}
    entered = sum(bool(p.figures["ebacc_entered"]) for p in plain.values())
    assert 0 < entered < len(plain)
    assert_agree(engine.pupils, plain)


# Qualifications a property example draws from: every pillar, a double award, AS beside GCSE, two
# boards sharing a code, technical awards sharing a code, one off the year's list, an unknown number.
DRAWN = [
    MATHS,
    AS_MATHS,
    OLD_AS_MATHS,
    LANGUAGE,
    LITERATURE,
    COMBINED,
    BIOLOGY,
    AS_BIOLOGY,
    CHEMISTRY,
    PHYSICS,
    COMPUTING,
    HISTORY,
    GEOGRAPHY,
    FRENCH_AQA,
    FRENCH_EDEXCEL,
    SPANISH,
    ART,
    RS,
    MUSIC,
    DRAMA,
    PE,
    BTEC_HSC,
    CAMNAT_HSC,
    BTEC_ENTERPRISE,
    CAMNAT_IMEDIA,
    BTEC_ENGINEERING,
    NO_SUCH_QAN,
]
# The engine's reason a result does not count, in the plain implementation's words.
PLAIN_REASON = {
    scoring.NOT_CATALOGUED: UNKNOWN,
    scoring.OFF_LIST: OFF_LIST,
    scoring.NOT_A_GRADE: NOT_A_GRADE,
    scoring.DISCOUNTED: NOT_BEST,
    scoring.LATER_ENTRY: LATER_SERIES,
}
ELEMENTS = {"maths": "a8_maths", "english": "a8_english", "ebacc": "a8_ebacc", "open": "a8_open"}


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_the_engine_and_its_slots_agree_with_the_plain_implementation_on_any_results(
    points: pl.DataFrame, catalogue: Catalogue, data: st.DataObject
) -> None:
    """Any results of three pupils (any grade of each qualification, U, or one that is not its
    qualification's, on any exam date): every figure is the plain implementation's, the points the
    slots table gives each element add up to its figure, and the results left out are left out for
    the same reasons."""

    def grades_of(qan: str) -> list[str]:
        qualification = catalogue.by_qan(qan)
        return [*(qualification.grades if qualification else ["5"]), "U", "X"]

    row = st.sampled_from(DRAWN).flatmap(
        lambda qan: st.tuples(st.just(qan), st.sampled_from(grades_of(qan)), st.sampled_from(MIXED_DATES))
    )
    upns = ["A", "B", "C"]
    drawn = data.draw(st.lists(st.tuples(st.sampled_from(upns), row), max_size=30))
    rows = [(upn, qan, grade, day) for upn, (qan, grade, day) in drawn]
    engine = pupil_measures(_results_frame(rows), pl.DataFrame({"upn": upns}), points)
    plain = plain_measures(rows, upns, catalogue, YEAR)
    assert_agree(engine.pupils, plain)

    table = engine.slots()
    for upn, pupil in plain.items():
        mine = table.filter(pl.col("upn") == upn)
        filled = mine.filter(pl.col("slot").is_not_null())
        for slot, figure in ELEMENTS.items():
            slotted = filled.filter(pl.col("slot") == slot)
            points_in = (slotted.get_column("points") * slotted.get_column("weight")).sum()
            assert points_in == pytest.approx(pupil.figures[figure]), (upn, slot)
        left_out = Counter(
            PLAIN_REASON[reason]
            for reason in mine.get_column("reason").drop_nulls()
            if reason != slots.NOT_BEST
        )
        assert left_out == Counter(why for _qan, _grade, why in pupil.not_counted), upn


def test_a_disagreement_names_the_pupils_and_figures() -> None:
    engine = pl.DataFrame(
        {
            "upn": ["A", "B"],
            **{name: [1.0, 2.0] for name in FIGURES if not name.startswith(("ebacc_entered", "em_"))},
            "ebacc_entered": [True, False],
            "em_4plus": [True, True],
            "em_5plus": [False, False],
        }
    )
    plain = {
        upn: dict(engine.filter(pl.col("upn") == upn).select(FIGURES).row(0, named=True)) for upn in "AB"
    }
    plain["B"]["a8_ebacc"] = 2.5
    plain["B"]["em_4plus"] = False
    plain["C"] = dict(plain["A"])
    report = disagreement_report(disagreements(engine, plain))
    assert report.splitlines() == [
        "the engine and the plain implementation disagree on 2 pupil(s), 3 figure(s) "
        "(a8_ebacc 1, em_4plus 1, (pupil) 1); the first 3:",
        "  B: a8_ebacc: engine 2, plain 2.5",
        "  B: em_4plus: engine True, plain False",
        "  C: (pupil): engine missing, plain present",
    ]
