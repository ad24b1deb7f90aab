"""The realistic mistakes ``keystage synth fill-template --errors N`` plants in a filled template
("5-4" in Combined Science, "A*" in a 9-1 column, a lower-case "u", a trailing space, 7.5, a pupil
twice, a bad UPN check letter ...), each named with the issue code validation gives it. They are
planted in the cells fill.py is about to write (``FilledSheet``), before the workbook is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from keystage.core.pupils.model import UPNCheckLetterError, check_upn
from keystage.core.results.cells import cell_text, column_letter
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.results.rules import RULES, Severity
from keystage.core.results.synthetic_results import Cell, PupilRow, Rng, Value, graded_9_1

_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the first character of a UPN: its check letter


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
class FilledSheet:
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
    sheet: FilledSheet, rng: Rng, change: Callable[[SubjectColumn, Value], tuple[Value, str, str] | None]
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
    if not graded_9_1(column) or text not in _LETTERS:
        return None
    return (
        _LETTERS[text],
        "result.letter_grade",
        f"grade {text} written as the letter grade “{_LETTERS[text]}”",
    )


def _decimal_grade(column: SubjectColumn, value: Value) -> tuple[Value, str, str] | None:
    text = cell_text(value)
    if graded_9_1(column) and text in {"1", "2", "3", "4", "5", "6", "7", "8"}:
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
    if column.score is not None or graded_9_1(column) or column.double_award:
        return None
    if len(text) >= 3 and text.isalpha() and text[:2] not in valid and text[:2] not in {"NG", "NA"}:
        return text[:2], "result.invalid", f"“{text}” shortened to “{text[:2]}”"
    if text.isascii() and text.isdigit() and str(int(text) + 1) not in valid and "U" not in valid:
        wrong = int(text) + 1
        return wrong, "result.invalid", f"“{text}” typed as {wrong}, a code the collection does not use"
    return None


def _untouched_pupil(sheet: FilledSheet, rng: Rng) -> PupilRow | None:
    free = [p for p in sheet.pupils if p.row not in sheet.touched_rows and p.row not in sheet.kept_rows]
    return _pick(rng, free)


def _bad_check_letter(sheet: FilledSheet, rng: Rng) -> Mistake | None:
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


def _duplicate_pupil(sheet: FilledSheet, rng: Rng) -> Mistake | None:
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


def _gender_initial(sheet: FilledSheet, rng: Rng) -> Mistake | None:
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
    plant: Callable[[FilledSheet, Rng], Mistake | None]
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


def plant_mistakes(sheet: FilledSheet, count: int, rng: Rng) -> list[Mistake]:
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
