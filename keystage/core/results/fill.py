"""A template keystage wrote, filled with plausible synthetic results: `keystage synth fill-template`.

Every pupil already in the template gets results drawn the way the synthetic year draws them
(``keystage.core.synth``: calibration.toml's GCSE grade distribution and subject take-up, and the
primary thresholds): a KS4 pupil takes English language, literature (most), maths, combined or the
three sciences (most), a humanity, perhaps a language and three or four other subjects, so about
nine or ten of the template's columns, each from the board the school chose; the other columns are
left blank as not entered. Columns the generator does not know get a seeded weighted draw over
their valid results. With ``errors`` the filled file also carries realistic mistakes ("5-4" in
Combined Science, "A*" in a 9-1 column, a lower-case "u", a trailing space, 7.5, a pupil twice, a
bad UPN check letter ...), each named with the issue code validation gives it.

The workbook is edited in place with openpyxl (needed only here, and imported only when a template
is filled), so the template's dropdowns, protection, guidance sheet and stamp survive.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

import numpy as np
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from keystage.core.pupils.model import UPNCheckLetterError, check_upn
from keystage.core.refusals import Refused
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.results.rules import RULES, Severity
from keystage.core.results.validation import cell_text, column_letter
from keystage.core.results.workbooks import RESULTS_SHEET
from keystage.core.synth.generator import load_parameters
from keystage.core.workbook_cells import set_openpyxl_value

Value = int | float | str
Cell = Value | date | datetime | None
Rng = np.random.Generator

_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the first character of a UPN: its check letter


class FillError(Refused, ValueError):
    """The file cannot be filled; str() says why, for the person running the command."""


@dataclass(frozen=True)
class PupilRow:
    """A pupil as the template lists them."""

    row: int  # spreadsheet row, 1-based
    cells: tuple[Cell, ...]  # the pupil columns, as read
    upn: str
    nc_year: int | None
    female: bool


@dataclass(frozen=True)
class Mistake:
    """A mistake planted in the filled file, and the issue code validation reports for it."""

    row: int
    column: str  # letter
    header: str
    value: Value
    code: str
    what: str

    @property
    def severity(self) -> Severity:
        return RULES[self.code].severity

    def describe(self) -> str:
        return f"row {self.row}, column {self.column} ({self.header}): {self.what} [{self.code}]"


@dataclass
class FilledTemplate:
    data: bytes
    pupils: int
    results: int  # cells filled with a valid result
    results_per_pupil: list[int]
    mistakes: list[Mistake]
    errors_asked: int


# Results -----------------------------------------------------------------------------------------


def _as_cell(value: str | int) -> Value:
    """A result as a person types it: a number is a number (Excel stores 7, not "7")."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _subject_name(column: SubjectColumn) -> str:
    """A heading without its board or QAN, folded: “Biology A (Gateway Science) (OCR)” is one subject."""
    name = re.sub(r"\s*\[[^\]]*\]$", "", column.header)
    name = re.sub(r"\s*\([^()]*\)$", "", name)
    return " ".join(name.split()).casefold()


def _graded_9_1(column: SubjectColumn) -> bool:
    return "9" in column.outcomes and "U" in column.outcomes and not column.double_award


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


class _Draw:
    """The school and its pupils as the synthetic year draws them: the school's intake and value
    added, each pupil's disadvantage and SEN, and a latent ability they shift."""

    def __init__(self, rng: Rng, pupils: Sequence[PupilRow], params: dict[str, Any]) -> None:
        self.rng = rng
        self.params = params
        shares, effects = params["pupils"], params["effects"]
        n = len(pupils)
        self.intake = float(rng.normal(0.0, effects["school_intake_sd"]))
        self.value_added = float(rng.normal(0.0, effects["school_value_added_sd"]))
        self.female = np.array([p.female for p in pupils], dtype=float)
        self.disadvantaged = (rng.random(n) < shares["disadvantaged_mean"]).astype(float)
        sen = rng.random(n)
        self.ehcp = sen < shares["ehcp"]
        support = ~self.ehcp & (sen < shares["ehcp"] + shares["sen_support"])
        self.ability = (
            rng.normal(0.0, 1.0, n)
            + self.intake
            + effects["disadvantaged"] * self.disadvantaged
            + effects["sen_support"] * support
            + effects["ehcp"] * self.ehcp
            + effects["female"] * self.female
        )

    def noise(self, sd: float) -> float:
        return float(self.rng.normal(0.0, sd))

    def weighted(self, column: SubjectColumn, latent: float) -> Value:
        """A seeded draw over a column's valid results, better results for higher ``latent``."""
        if column.score is not None:
            low, high = column.score.minimum, column.score.maximum
            middle, spread = (low + high) / 2, (high - low) / 6
            return int(np.clip(np.rint(middle + spread * (latent + self.noise(0.35))), low, high))
        outcomes = list(column.outcomes)
        graded = [o for o in outcomes if o != "U"] or outcomes
        if "U" in outcomes and self.rng.random() < 0.03:
            return "U"
        place = 1.0 - _phi(latent + self.noise(0.6))  # 0 best … 1 worst
        return _as_cell(graded[min(len(graded) - 1, int(place * len(graded)))])


class _Chooser:
    """The school's choice of one column (board) per subject, preferring the generator's QANs."""

    def __init__(self, layout: TemplateLayout, rng: Rng) -> None:
        self.columns = {c.key: c for c in layout.subjects}
        self.subjects = layout.subjects
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, preferred: str | None, wanted: Callable[[SubjectColumn], bool]) -> str | None:
        if preferred in self.columns and preferred not in self.used and wanted(self.columns[preferred]):
            self.used.add(preferred)
            return preferred
        options = [c.key for c in self.subjects if c.key not in self.used and wanted(c)]
        if not options:
            return None
        chosen = options[int(self.rng.integers(len(options)))]
        self.used.add(chosen)
        return chosen


def _starts(prefix: str) -> Callable[[SubjectColumn], bool]:
    return lambda column: _subject_name(column).startswith(prefix) and _graded_9_1(column)


def _language(name: str) -> Callable[[SubjectColumn], bool]:
    """The language, or any other modern or ancient language when the template has not got it."""
    named = _starts(name)
    return lambda column: named(column) or (column.ebacc_pillar == "languages" and _graded_9_1(column))


def _is(key: str) -> Callable[[SubjectColumn], bool]:
    return lambda column: column.key == key


def _gcse(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    """As ``keystage.core.synth.generator`` draws KS4 entries and grades, pupil by pupil."""
    params, rng = draw.params, draw.rng
    ks4 = params["ks4"]
    quals: dict[str, Any] = ks4["qualifications"]
    n = len(pupils)
    effects = params["effects"]
    progress = (
        0.8 * draw.ability
        + 0.6 * rng.normal(0.0, 1.0, n)
        + draw.value_added
        + effects["female_ks4_progress"] * draw.female
        + effects["disadvantaged_ks4_progress"] * draw.disadvantaged
    )
    rank = progress.argsort().argsort() / max(n - 1, 1)  # 0 lowest … 1 highest
    choose = _Chooser(layout, rng)
    language = choose.pick(quals["english_language"], _starts("english language"))
    literature = choose.pick(quals["english_literature"], _starts("english literature"))
    maths = choose.pick(quals["maths"], _starts("mathematics"))
    combined = choose.pick(quals["combined_science"], lambda c: c.double_award)
    sciences = [choose.pick(quals[s], _starts(s)) for s in ("biology", "chemistry", "physics")]
    history = choose.pick(quals["history"], _starts("history"))
    geography = choose.pick(quals["geography"], _starts("geography"))
    languages = [choose.pick(quals[s], _language(s)) for s in ("french", "spanish")]
    menu: list[str] = []
    for qan in [*quals["open"], quals["computer_science"]]:
        chosen = choose.pick(qan, _is(qan))
        if chosen is not None:
            menu.append(chosen)
    names = {_subject_name(choose.columns[k]) for k in menu}
    while len(menu) < len(quals["open"]) + 1:
        other = choose.pick(
            None, lambda c: not c.ebacc_pillar and _graded_9_1(c) and _subject_name(c) not in names
        )
        if other is None:
            break
        menu.append(other)
        names.add(_subject_name(choose.columns[other]))
    low_count, high_count = ks4["open_subjects"]
    language_base = math.log(ks4["language_base"] / (1 - ks4["language_base"]))

    def grade(i: int) -> float:
        return float(ks4["grade_mean"] + ks4["grade_sd"] * progress[i] + draw.noise(ks4["grade_noise_sd"]))

    results: list[dict[str, Value]] = []
    for i in range(n):
        taken: dict[str, Value] = {}

        def single(key: str | None, i: int = i, taken: dict[str, Value] = taken) -> None:
            if key is not None:
                value = int(np.clip(np.rint(grade(i)), 0, 9))
                taken[key] = "U" if value == 0 else value

        single(language)
        if rng.random() < ks4["english_literature"]:
            single(literature)
        single(maths)
        triple = rank[i] >= 1 - ks4["triple_science_top"] and all(sciences)
        if triple:
            for science in sciences:
                single(science)
        elif rank[i] >= ks4["no_science_bottom"] and combined is not None:
            level = float(np.clip(grade(i), 0, 9))
            high = int(np.clip(np.rint(level + 0.25), 0, 9))
            low = max(int(np.clip(np.rint(level - 0.25), 0, 9)), high - 1)
            taken[combined] = "U" if high == 0 or low == 0 else high * 10 + low
        if rng.random() < ks4["humanity"]:
            first, second = (history, geography) if rng.random() < 0.5 else (geography, history)
            single(first or second)
        chance = 1 / (1 + math.exp(-(language_base + ks4["language_slope"] * progress[i])))
        if rng.random() < chance:
            first, second = languages if rng.random() < 0.5 else languages[::-1]
            single(first or second)
        count = min(int(rng.integers(low_count, high_count + 1)), len(menu))
        for index in rng.choice(len(menu), size=count, replace=False) if count else []:
            single(menu[int(index)])
        results.append(taken)
    return results


def _other_ks4(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    """Non-GCSE qualifications: the school offers a few; most pupils take one or two."""
    rng = draw.rng
    subjects = layout.subjects
    offered = [subjects[int(i)] for i in rng.choice(len(subjects), size=min(6, len(subjects)), replace=False)]
    results: list[dict[str, Value]] = []
    for i in range(len(pupils)):
        count = min(int(rng.choice(3, p=[0.3, 0.45, 0.25])), len(offered))
        taken: dict[str, Value] = {}
        for index in rng.choice(len(offered), size=count, replace=False) if count else []:
            column = offered[int(index)]
            taken[column.key] = draw.weighted(column, float(draw.ability[i]))
        results.append(taken)
    return results


def _primary_value(
    key: str, column: SubjectColumn, pupil: PupilRow, ability: float, ehcp: bool, draw: _Draw
) -> Value | None:
    """One primary assessment as the generator draws it; None is not entered (blank)."""
    params = draw.params
    if key == "phonics_mark":
        phonics = params["phonics"]
        threshold = column.score.expected_from if column.score and column.score.expected_from else 32
        if pupil.nc_year == 2:  # a retake: only pupils who did not meet the standard in Year 1
            first_try = phonics["mark_mean"] + phonics["mark_sd"] * (ability + draw.noise(0.3))
            if first_try >= threshold:
                return None
            shift = 4.0
        else:
            shift = 0.0
        if ehcp and draw.rng.random() < phonics["disapplied_ehcp"]:
            return "D"
        if draw.rng.random() < phonics["absent"]:
            return "A"
        return int(np.clip(np.rint(phonics["mark_mean"] + shift + phonics["mark_sd"] * ability), 0, 40))
    if key in ("ks1_reading_ta", "ks1_writing_ta", "ks1_maths_ta"):
        latent = ability + draw.noise(0.35)
        return "GDS" if latent > 1.0 else "EXS" if latent > -0.6 else "WTS" if latent > -2.2 else "PK4"
    if key in ("ks1_science_ta", "ks2_science_ta"):
        return "EXS" if ability + draw.noise(0.5) > -1.1 else "HNM"
    if key.startswith("ks1_") and key.endswith("_test"):
        return int(np.clip(np.rint(102 + 7 * (ability + draw.noise(0.35))), 85, 115))
    ks2 = params["ks2"]
    below = ability < -3.0  # working below the standard of the tests
    if key in ("ks2_reading_test", "ks2_maths_test", "ks2_gps_test"):
        if below:
            return "B"
        mean = ks2["score_mean"] + (1 if key == "ks2_gps_test" else 0)
        noise = 0.4 if key == "ks2_gps_test" else ks2["rwm_noise_sd"]
        return int(np.clip(np.rint(mean + ks2["score_sd"] * (ability + draw.noise(noise))), 80, 120))
    if key == "ks2_writing_ta":
        writing = ability + draw.noise(ks2["rwm_noise_sd"])
        if below:
            return "PK6"
        if writing > ks2["writing_greater_depth_cut"]:
            return "GDS"
        return "EXS" if writing > ks2["writing_expected_cut"] else "WTS"
    if key in ("ks2_reading_ta", "ks2_maths_ta"):
        return "PK6" if below else None  # only pupils working below the tests are teacher-assessed
    if key == "ks2_mtc":
        return int(np.clip(np.rint(20 + 4 * ability), 0, 25))
    if key.startswith("elg_"):
        eyfsp = params["eyfsp"]
        return 2 if ability + draw.noise(eyfsp["elg_noise_sd"]) > eyfsp["elg_cut"] else 1
    return draw.weighted(column, ability)


def _primary(layout: TemplateLayout, pupils: Sequence[PupilRow], draw: _Draw) -> list[dict[str, Value]]:
    params = draw.params
    absent_rate = params["eyfsp"]["exemption"] if layout.kind.key == "eyfsp" else 0.005
    results: list[dict[str, Value]] = []
    for i, pupil in enumerate(pupils):
        ability = float(draw.ability[i])
        absent = draw.rng.random() < absent_rate  # absent or exempt: "A" wherever it is a valid result
        taken: dict[str, Value] = {}
        for column in layout.subjects:
            if absent and column.key != "phonics_mark":
                if "A" in column.outcomes and column.score is None:
                    taken[column.key] = "A"
                continue
            value = _primary_value(column.key, column, pupil, ability, bool(draw.ehcp[i]), draw)
            if value is None:
                continue
            if cell_text(value) not in column.dropdown():  # a framework the generator does not know
                value = draw.weighted(column, ability)
            taken[column.key] = value
        results.append(taken)
    return results


def synthetic_results(
    layout: TemplateLayout,
    pupils: Sequence[PupilRow],
    rng: Rng,
    params: dict[str, Any] | None = None,
) -> list[dict[str, Value]]:
    """Each pupil's results, subject key -> value as typed in the cell (absent keys stay blank)."""
    params = params or load_parameters()
    if not pupils:
        return []
    draw = _Draw(rng, pupils, params)
    if layout.kind.key == "ks4-gcse":
        return _gcse(layout, pupils, draw)
    if layout.kind.key.startswith("ks4"):
        return _other_ks4(layout, pupils, draw)
    return _primary(layout, pupils, draw)


# Mistakes ----------------------------------------------------------------------------------------


@dataclass
class _Sheet:
    """The filled cells, before they are written: (row, column index) -> value."""

    layout: TemplateLayout
    pupils: list[PupilRow]
    writes: dict[tuple[int, int], Cell] = field(default_factory=dict)
    touched_rows: set[int] = field(default_factory=set)
    touched_cells: set[tuple[int, int]] = field(default_factory=set)
    kept_rows: set[int] = field(default_factory=set)  # rows a mistake depends on: not touched again
    next_row: int = 0

    @property
    def first_subject(self) -> int:
        return len(self.layout.pupil_fields)

    def pupil_index(self, key: str) -> int | None:
        return next((i for i, f in enumerate(self.layout.pupil_fields) if f.key == key), None)

    def header(self, index: int) -> str:
        fields = self.layout.pupil_fields
        return (
            fields[index].header if index < len(fields) else self.layout.subjects[index - len(fields)].header
        )

    def mark(
        self, row: int, index: int, value: Value, code: str, what: str, *, keep: bool = False
    ) -> Mistake:
        self.writes[(row, index)] = value
        self.touched_rows.add(row)
        self.touched_cells.add((row, index))
        if keep:
            self.kept_rows.add(row)
        return Mistake(row, column_letter(index), self.header(index), value, code, what)


T = TypeVar("T")


def _pick(rng: Rng, options: Sequence[T]) -> T | None:
    return options[int(rng.integers(len(options)))] if options else None


def _result_mistake(
    sheet: _Sheet, rng: Rng, change: Callable[[SubjectColumn, Value], tuple[Value, str, str] | None]
) -> Mistake | None:
    """A filled result cell changed the way people get it wrong; a pupil not yet touched if any."""
    first = sheet.first_subject
    subjects = sheet.layout.subjects
    fresh: list[tuple[int, int, Value, str, str]] = []
    others: list[tuple[int, int, Value, str, str]] = []
    for (row, index), value in sheet.writes.items():
        if index < first or row in sheet.kept_rows or (row, index) in sheet.touched_cells:
            continue
        if not isinstance(value, int | float | str):
            continue
        changed = change(subjects[index - first], value)
        if changed is not None:
            (others if row in sheet.touched_rows else fresh).append((row, index, *changed))
    chosen = _pick(rng, fresh or others)
    if chosen is None:
        return None
    row, index, value, code, what = chosen
    return sheet.mark(row, index, value, code, what)


def _combined_dash(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    if not column.double_award or len(text) != 2 or not text.isdigit():
        return None
    return (
        f"{text[0]}-{text[1]}",
        "result.combined_science_format",
        f"Combined Science {text} written “{text[0]}-{text[1]}”",
    )


def _combined_reversed(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    if not column.double_award or len(text) != 2 or text[0] == text[1] or not text.isdigit():
        return None
    return int(text[::-1]), "result.combined_science_order", f"Combined Science {text} written lowest first"


_LETTERS = {"9": "A*", "8": "A*", "7": "A", "6": "B", "5": "B", "4": "C", "3": "D", "2": "E"}


def _letter_grade(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    if not _graded_9_1(column) or text not in _LETTERS:
        return None
    return (
        _LETTERS[text],
        "result.letter_grade",
        f"grade {text} written as the letter grade “{_LETTERS[text]}”",
    )


def _decimal_grade(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    if _graded_9_1(column) and text in {"1", "2", "3", "4", "5", "6", "7", "8"}:
        return int(text) + 0.5, "result.decimal", f"grade {text} typed as {int(text) + 0.5}"
    return None


def _decimal_score(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    score = column.score
    if score is None or not score.whole_numbers or not isinstance(value, int) or value >= score.maximum:
        return None
    return value + 0.5, "result.score_range", f"score {value} typed as {value + 0.5}"


def _score_out_of_range(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    score = column.score
    if score is None or not isinstance(value, int):
        return None
    wrong = score.maximum + 1
    return wrong, "result.score_range", f"score {value} typed as {wrong}, above the maximum {score.maximum}"


def _fail_word(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    if "U" not in column.outcomes or column.score is not None:
        return None
    return "X", "result.ungraded", "“X” written for a fail instead of U"


def _lower_case(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    """A result in lower case; in a column of numbers, its letter code (U, or A for absent) typed so."""
    text = cell_text(value)
    if not any(ch.isalpha() for ch in text):
        letters = [o for o in column.outcomes if o.isalpha() and o.upper() == o]
        if not letters:
            return None
        text = "U" if "U" in letters else letters[0]
    if text.lower() == text:
        return None
    return text.lower(), "result.case", f"“{text}” typed in lower case"


def _trailing_space(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    return f"{text} ", "result.spaces", f"“{text}” typed with a trailing space"


def _abbreviated_code(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    """A teacher-assessment code shortened ("EXS" -> "EX"), or an old-scale number ("3" in the EYFSP)."""
    text = cell_text(value)
    valid = set(column.dropdown())
    if column.score is not None or _graded_9_1(column) or column.double_award:
        return None
    if len(text) >= 3 and text.isalpha() and text[:2] not in valid and text[:2] not in {"NG", "NA"}:
        return text[:2], "result.invalid", f"“{text}” shortened to “{text[:2]}”"
    if text.isascii() and text.isdigit() and str(int(text) + 1) not in valid and "U" not in valid:
        wrong = int(text) + 1
        return wrong, "result.invalid", f"“{text}” typed as {wrong}, a code the collection does not use"
    return None


def _untouched_pupil(sheet: _Sheet, rng: Rng) -> PupilRow | None:
    free = [p for p in sheet.pupils if p.row not in sheet.touched_rows and p.row not in sheet.kept_rows]
    return _pick(rng, free)


def _bad_check_letter(sheet: _Sheet, rng: Rng) -> Mistake | None:
    index = sheet.pupil_index("upn")
    pupil = _untouched_pupil(sheet, rng)
    if index is None or pupil is None:
        return None
    upn = pupil.upn
    start = _UPN_LETTERS.find(upn[0]) if upn else -1
    for step in range(1, len(_UPN_LETTERS)):
        wrong = _UPN_LETTERS[(start + step) % len(_UPN_LETTERS)] + upn[1:]
        try:
            check_upn(wrong)
        except UPNCheckLetterError:
            return sheet.mark(
                pupil.row, index, wrong, "upn.check_letter", f"UPN {upn} copied as {wrong}", keep=True
            )
        except ValueError:
            return None
    return None


def _duplicate_pupil(sheet: _Sheet, rng: Rng) -> Mistake | None:
    index = sheet.pupil_index("upn")
    pupil = _untouched_pupil(sheet, rng)
    if index is None or pupil is None:
        return None
    target = sheet.next_row
    sheet.next_row += 1
    for column, cell in enumerate(pupil.cells):
        sheet.writes[(target, column)] = cell
    first = sheet.first_subject
    for offset in range(len(sheet.layout.subjects)):
        value = sheet.writes.get((pupil.row, first + offset))
        if value is not None:
            sheet.writes[(target, first + offset)] = value
    sheet.kept_rows.add(pupil.row)
    sheet.touched_rows.add(pupil.row)
    return sheet.mark(
        target, index, pupil.upn, "pupil.duplicate", f"{pupil.upn} (row {pupil.row}) entered twice", keep=True
    )


def _gender_initial(sheet: _Sheet, rng: Rng) -> Mistake | None:
    index = sheet.pupil_index("gender")
    if index is None:
        return None
    free = [
        p
        for p in sheet.pupils
        if p.row not in sheet.kept_rows
        and (p.row, index) not in sheet.touched_cells
        and cell_text(p.cells[index]).strip() in {"Female", "Male"}
    ]
    fresh = [p for p in free if p.row not in sheet.touched_rows]
    pupil = _pick(rng, fresh or free)
    if pupil is None:
        return None
    written = cell_text(pupil.cells[index]).strip()
    return sheet.mark(pupil.row, index, written[0], "gender.invalid", f"{written} written as “{written[0]}”")


@dataclass(frozen=True)
class _Kind:
    name: str
    plant: Callable[[_Sheet, Rng], Mistake | None]
    error: bool


def _results_kind(
    name: str, change: Callable[[SubjectColumn, Value], tuple[Value, str, str] | None], error: bool = True
) -> _Kind:
    return _Kind(name, lambda sheet, rng: _result_mistake(sheet, rng, change), error)


MISTAKES: tuple[_Kind, ...] = (
    _results_kind("combined science with a dash", _combined_dash),
    _results_kind("combined science lowest first", _combined_reversed),
    _results_kind("letter grade", _letter_grade),
    _results_kind("grade with decimals", _decimal_grade),
    _results_kind("score with decimals", _decimal_score),
    _results_kind("score out of range", _score_out_of_range),
    _results_kind("fail word", _fail_word),
    _results_kind("shortened code", _abbreviated_code),
    _results_kind("lower case", _lower_case, error=False),
    _results_kind("trailing space", _trailing_space, error=False),
    _Kind("bad UPN check letter", _bad_check_letter, True),
    _Kind("pupil twice", _duplicate_pupil, True),
    _Kind("gender initial", _gender_initial, True),
)


def plant_mistakes(sheet: _Sheet, count: int, rng: Rng) -> list[Mistake]:
    """Up to ``count`` mistakes, each in its own cell (and pupil, while there are pupils left),
    of kinds taken in a seeded order; the first is always an error, so the file is not valid."""
    kinds = [MISTAKES[int(i)] for i in rng.permutation(len(MISTAKES))]
    planted: list[Mistake] = []
    turn = 0
    while len(planted) < count and kinds:
        if not planted:  # start the round at the first error that this template allows
            errors = [k for k in kinds if k.error]
            if not errors:
                break
            turn = kinds.index(errors[0])
        kind = kinds[turn % len(kinds)]
        mistake = kind.plant(sheet, rng)
        if mistake is None:
            kinds.remove(kind)  # not possible in this template (or not any more)
            continue
        planted.append(mistake)
        turn += 1
    return planted


# The workbook ------------------------------------------------------------------------------------


def _read_pupils(sheet: Any, layout: TemplateLayout) -> tuple[list[PupilRow], int]:
    """The pupil rows below the headings, and the last row with anything in it."""
    width = len(layout.pupil_fields)
    keys = [f.key for f in layout.pupil_fields]
    upn_at, year_at, gender_at = keys.index("upn"), keys.index("nc_year"), keys.index("gender")
    pupils: list[PupilRow] = []
    last = layout.heading_row
    for offset, cells in enumerate(
        sheet.iter_rows(min_row=layout.heading_row + 1, max_col=width, values_only=True),
        start=layout.heading_row + 1,
    ):
        values: tuple[Cell, ...] = tuple(cells) + (None,) * (width - len(cells))
        if any(cell_text(v).strip() for v in values):
            last = offset
        upn = cell_text(values[upn_at]).strip()
        if not upn:
            continue
        year_text = cell_text(values[year_at]).strip().upper()
        nc_year = (
            0 if year_text == "R" else int(year_text) if year_text.isascii() and year_text.isdigit() else None
        )
        female = cell_text(values[gender_at]).strip().casefold() == "female"
        pupils.append(PupilRow(offset, values, upn, nc_year, female))
    return pupils, last


def _check_headings(sheet: Any, layout: TemplateLayout) -> None:
    stamp = cell_text(sheet.cell(row=1, column=1).value).strip()
    if re.fullmatch(r".+ \d{4}/\d{2}", stamp) and stamp != layout.title:
        raise FillError(f"this is the {stamp} template, not {layout.title}")
    expected = [f.header for f in layout.pupil_fields] + layout.subject_headers
    found = [
        cell_text(c).strip()
        for c in next(
            sheet.iter_rows(
                min_row=layout.heading_row,
                max_row=layout.heading_row,
                max_col=len(expected),
                values_only=True,
            ),
            (),
        )
    ]
    found += [""] * (len(expected) - len(found))
    for index, (heading, wanted) in enumerate(zip(found, expected, strict=True)):
        if heading != wanted:
            raise FillError(
                f"this is not keystage's {layout.title} template: column {column_letter(index)} of row "
                f"{layout.heading_row} is “{heading}”, not “{wanted}”"
            )


def _column_styles(sheet: Any) -> dict[int, Any]:
    """The style of each column (0-based) as the template set it: unlocked, so typed cells stay editable."""
    styles: dict[int, Any] = {}
    for dimension in sheet.column_dimensions.values():
        if dimension.min is None or not dimension.has_style:
            continue
        for index in range(dimension.min - 1, (dimension.max or dimension.min)):
            styles[index] = dimension._style
    return styles


def fill_template(
    data: bytes,
    layout: TemplateLayout,
    *,
    seed: int = 2026,
    errors: int = 0,
    params: dict[str, Any] | None = None,
) -> FilledTemplate:
    """The template with every pupil's synthetic results typed in, and ``errors`` mistakes planted."""
    if errors < 0:
        raise FillError("the number of mistakes to plant cannot be negative")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data))
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise FillError(f"this is not an .xlsx workbook that can be read ({error})") from None
    if RESULTS_SHEET not in book.sheetnames:
        raise FillError(f"the workbook has no “{RESULTS_SHEET}” sheet, so it is not a keystage template")
    worksheet = book[RESULTS_SHEET]
    _check_headings(worksheet, layout)
    pupils, last = _read_pupils(worksheet, layout)
    if not pupils:
        raise FillError(
            "the template has no pupils: load the school's roster, then download the template again"
        )
    rng = np.random.default_rng(seed)
    results = synthetic_results(layout, pupils, rng, params)
    sheet = _Sheet(layout, pupils, next_row=last + 1)
    first = sheet.first_subject
    positions = {column.key: first + offset for offset, column in enumerate(layout.subjects)}
    for pupil, taken in zip(pupils, results, strict=True):
        for key, value in taken.items():
            sheet.writes[(pupil.row, positions[key])] = value
    mistakes = plant_mistakes(sheet, errors, rng)
    # Results already in the file are replaced: every subject cell of a pupil is as drawn.
    for pupil in pupils:
        for index in range(first, first + len(layout.subjects)):
            existing = worksheet._cells.get((pupil.row, index + 1))
            if existing is not None and existing.value is not None and (pupil.row, index) not in sheet.writes:
                existing.value = None
    styles = _column_styles(worksheet)
    for (row, index), written in sheet.writes.items():
        cell = worksheet.cell(row=row, column=index + 1)
        if not cell.has_style and index in styles:
            cell._style = copy(styles[index])
        set_openpyxl_value(cell, written)
    out = io.BytesIO()
    book.save(out)
    per_pupil = [len(taken) for taken in results]
    return FilledTemplate(out.getvalue(), len(pupils), sum(per_pupil), per_pupil, mistakes, errors)
