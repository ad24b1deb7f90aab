"""The KS4 qualification catalogue: every qualification that counts, its grades and points, its
discount code each year and its EBacc pillar each year, imported from DfE's published files.

``import_dfe_catalogue`` reads the three files DfE published in October 2019 (and later files of
the same shape, as documented in ``data/ks4/README.md``):

- performance points ("Underlying Data" sheet): qualification number, title, type, grade, points,
  GCSE size;
- discount codes (a sheet per year, "2014" … "2021"): the discount code of each qualification that
  counted that year, and from 2018 its category and size in guided learning hours;
- EBacc qualifications (a sheet per pillar): the years each qualification counts in that pillar.

Rows it cannot read become issues (``rules.CATALOGUE_*``: file, sheet, row as Excel shows it, what
is wrong); nothing is guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.rules import Issue

PILLARS = {
    "English": "english",
    "English Literature": "english_literature",
    "Maths": "maths",
    "Science": "science",
    "Humanities": "humanities",
    "Languages": "languages",
}

_QAN = re.compile(r"[0-9]{7}[0-9X]")


class CatalogueFileError(Refused, ValueError):
    """A whole file that cannot be used (missing, not a workbook, sheets or columns not found)."""


@dataclass(frozen=True)
class Grade:
    grade: str  # as results are written: "9", "54", "D2", "*2", "A"
    text: str  # as DfE describes it: "Grade 5-4 (Double Award)", "L2 Distinction"
    points: float


@dataclass
class Qualification:
    qan: str
    title: str
    qualification_type: str = ""  # DfE's points table type, e.g. "GCSE (9-1) Full Course (Double Award)"
    category: str = ""  # "Academic" or "Technical" (discount files from 2018)
    gcse_size: float | None = None
    guided_learning_hours: float | None = None
    grades: dict[str, Grade] = field(default_factory=dict)
    discount_codes: dict[int, str] = field(default_factory=dict)  # year -> code, where syllabuses agree
    # year -> syllabus reference -> (syllabus title, discount code), for qualifications listed per syllabus
    syllabuses: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)
    ebacc_pillars: dict[int, str] = field(default_factory=dict)  # year -> pillar
    science_indicator: str = ""  # EBacc science sheet: "Single", "Double", "Combined" ...

    @property
    def is_double_award(self) -> bool:
        return "double award" in self.qualification_type.lower()

    def grade(self, written: str) -> Grade | None:
        """The grade as a school writes it; DfE lists a legacy GCSE's A* as "*". U (ungraded) is
        entered and scores 0 in every qualification."""
        grade = normalise_grade(written)
        if grade == "U" and "U" not in self.grades:
            return Grade("U", "Ungraded", 0.0)
        found = self.grades.get(grade)
        if found is None and grade == "A*" and self.grades.get("*", Grade("", "", 0)).text.endswith("A*"):
            found = self.grades["*"]
        return found

    def points(self, grade: str) -> float | None:
        found = self.grade(grade)
        return found.points if found else None

    def discount_code(self, year: int, syllabus: str | None = None) -> str | None:
        """The discount code in a year; for a qualification whose syllabuses discount differently,
        that of the syllabus (None without one)."""
        if syllabus is not None and syllabus in self.syllabuses.get(year, {}):
            return self.syllabuses[year][syllabus][1]
        return self.discount_codes.get(year)

    def all_discount_codes(self, year: int) -> set[str]:
        codes = {code for _title, code in self.syllabuses.get(year, {}).values()}
        if year in self.discount_codes:
            codes.add(self.discount_codes[year])
        return codes

    def ebacc_pillar(self, year: int) -> str | None:
        return self.ebacc_pillars.get(year)


@dataclass
class Catalogue:
    qualifications: dict[str, Qualification] = field(default_factory=dict)
    discount_descriptions: dict[str, str] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)  # rows not read: file, sheet, row as Excel has it

    def by_qan(self, qan: str) -> Qualification | None:
        normalised = normalise_qan(qan)
        return self.qualifications.get(normalised) if normalised else None

    def by_discount_code(self, code: str, year: int) -> list[Qualification]:
        return sorted(
            (q for q in self.qualifications.values() if code in q.all_discount_codes(year)),
            key=lambda q: q.qan,
        )

    def rules_year(self, year: int) -> int | None:
        """The latest performance-table year the catalogue lists on or before ``year``: the rules a
        result of ``year`` is read with when DfE has published nothing newer."""
        years = {y for q in self.qualifications.values() for y in (*q.discount_codes, *q.syllabuses)}
        eligible = [y for y in years if y <= year]
        return max(eligible) if eligible else None

    def in_pillar(self, pillar: str, year: int) -> list[Qualification]:
        return sorted(
            (q for q in self.qualifications.values() if q.ebacc_pillars.get(year) == pillar),
            key=lambda q: q.qan,
        )

    def _get(self, qan: str, title: str) -> Qualification:
        qualification = self.qualifications.get(qan)
        if qualification is None:
            qualification = self.qualifications[qan] = Qualification(qan=qan, title=title)
        elif not qualification.title:
            qualification.title = title
        return qualification


def _text(cell: object) -> str:
    """A cell as text; whole numbers that Excel stored as floats lose their ".0"."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip() if cell is not None else ""


def normalise_qan(value: object) -> str | None:
    """A qualification number as DfE prints it without slashes: 7 digits and a check digit or X."""
    text = _text(value).replace("/", "").replace(" ", "").upper()
    return text if _QAN.fullmatch(text) else None


def normalise_grade(value: object) -> str:
    """A grade as results write it: "9.0" (a number Excel stored) is 9; letters in capitals."""
    text = _text(value).upper()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _number(value: object) -> float | None:
    """A finite number, else None: "nan" or "inf" typed in a cell is not a number of points."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(_text(value))
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _workbook(path: Path) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as error:
        raise CatalogueFileError(f"{path.name}: cannot be read as a spreadsheet ({error})") from None


def _rows(workbook: CalamineWorkbook, sheet: str, path: Path) -> list[list[object]]:
    if sheet not in workbook.sheet_names:
        raise CatalogueFileError(
            f"{path.name}: no sheet named “{sheet}” (found: {', '.join(workbook.sheet_names)})"
        )
    return [list(row) for row in workbook.get_sheet_by_name(sheet).to_python()]


def _header(
    rows: Sequence[Sequence[object]], first: str, path: Path, sheet: str
) -> tuple[int, dict[str, int]]:
    """The index of the header row (the first whose cells include ``first``) and its columns by name."""
    for index, row in enumerate(rows[:30]):
        names = [_text(c) for c in row]
        if first in names:
            return index, {name: col for col, name in enumerate(names) if name}
    raise CatalogueFileError(f"{path.name}, sheet {sheet}: no header row with “{first}” in the first 30 rows")


def _column(columns: dict[str, int], name: str, path: Path, sheet: str) -> int:
    if name not in columns:
        raise CatalogueFileError(
            f"{path.name}, sheet {sheet}: no column “{name}” (found: {', '.join(columns)})"
        )
    return columns[name]


def _data_rows(rows: list[list[object]], start: int) -> Iterator[tuple[int, list[object]]]:
    """Data rows with their Excel row numbers, skipping blank rows."""
    for index in range(start, len(rows)):
        row = rows[index]
        if any(_text(c) for c in row):
            yield index + 1, row


def _cell(row: Sequence[object], col: int) -> object:
    return row[col] if col < len(row) else ""


def _is_note(row: Sequence[object], data_columns: Sequence[int]) -> bool:
    """A footnote or remark under a table: nothing in any of the columns that carry data."""
    return not any(_text(_cell(row, col)) for col in data_columns)


def import_points(catalogue: Catalogue, path: Path, sheet: str = "Underlying Data") -> None:
    rows = _rows(_workbook(path), sheet, path)
    head, columns = _header(rows, "Qualification Number", path, sheet)
    qan_col = _column(columns, "Qualification Number", path, sheet)
    title_col = _column(columns, "Qualification Title", path, sheet)
    type_col = _column(columns, "Qualification Type", path, sheet)
    grade_col = _column(columns, "Pass Grades", path, sheet)
    text_col = columns.get("Grade Text")
    points_col = _column(columns, "Pass Points", path, sheet)
    size_col = next((c for name, c in columns.items() if name.startswith("GCSE Size Equivalence")), None)
    for excel_row, row in _data_rows(rows, head + 1):
        if _is_note(row, [grade_col, points_col]):
            continue  # footnotes under the table
        at = _At(path, sheet, excel_row)
        qan = normalise_qan(_cell(row, qan_col))
        if qan is None:
            catalogue.problems.append(at.issue(rules.CATALOGUE_QAN_INVALID, value=_text(_cell(row, qan_col))))
            continue
        grade = normalise_grade(_cell(row, grade_col))
        points = _number(_cell(row, points_col))
        if not grade or points is None:
            catalogue.problems.append(
                at.issue(
                    rules.CATALOGUE_POINTS_UNREADABLE,
                    value=_text(_cell(row, points_col)),
                    qan=qan,
                    grade=grade,
                )
            )
            continue
        qualification = catalogue._get(qan, _text(_cell(row, title_col)))
        qualification.qualification_type = qualification.qualification_type or _text(_cell(row, type_col))
        if size_col is not None and qualification.gcse_size is None:
            qualification.gcse_size = _number(_cell(row, size_col))
        existing = qualification.grades.get(grade)
        if existing is not None and existing.points != points:
            catalogue.problems.append(
                at.issue(
                    rules.CATALOGUE_POINTS_TWICE, qan=qan, grade=grade, kept=existing.points, other=points
                )
            )
            continue
        text = _text(_cell(row, text_col)) if text_col is not None else grade
        qualification.grades[grade] = Grade(grade, text, points)


@dataclass(frozen=True)
class _At:
    """A row of a sheet of one of the files, where its problems are."""

    path: Path
    sheet: str
    row: int  # as Excel numbers it

    def issue(self, rule: rules.Rule, value: object = "", **details: Any) -> Issue:
        return rule.issue(file=self.path.name, on_sheet=self.sheet, row=self.row, value=value, **details)


def import_discount_codes(catalogue: Catalogue, path: Path) -> None:
    workbook = _workbook(path)
    years = [name for name in workbook.sheet_names if re.fullmatch(r"20\d\d", name)]
    if not years:
        raise CatalogueFileError(f"{path.name}: no sheets named by year (2014, 2015, …)")
    for sheet in years:
        year = int(sheet)
        rows = _rows(workbook, sheet, path)
        head, columns = _header(rows, "Qualification Number", path, sheet)
        qan_col = _column(columns, "Qualification Number", path, sheet)
        title_col = _column(columns, "Qualification Title", path, sheet)
        code_col = _column(columns, f"{year} KS4 Discount Code", path, sheet)
        category_col = columns.get("Type")
        glh_col = columns.get("Size (GLH)")
        syllabus_col = columns.get("Syllabus Reference")
        syllabus_title_col = columns.get("Syllabus Title")
        for excel_row, row in _data_rows(rows, head + 1):
            raw_qan = _text(_cell(row, qan_col))
            if _is_note(row, [code_col]):
                continue  # footnotes under the table
            qan = normalise_qan(raw_qan)
            code = _text(_cell(row, code_col)).upper()
            if qan is None or not code:
                at = _At(path, sheet, excel_row)
                catalogue.problems.append(
                    at.issue(rules.CATALOGUE_DISCOUNT_CODE_UNREADABLE, raw_qan, code=code)
                )
                continue
            qualification = catalogue._get(qan, _text(_cell(row, title_col)))
            syllabus = _text(_cell(row, syllabus_col)) if syllabus_col is not None else ""
            if syllabus:
                syllabus_title = (
                    _text(_cell(row, syllabus_title_col)) if syllabus_title_col is not None else ""
                )
                qualification.syllabuses.setdefault(year, {})[syllabus] = (syllabus_title, code)
            else:
                earlier = qualification.discount_codes.get(year)
                if earlier is not None and earlier != code:
                    at = _At(path, sheet, excel_row)
                    twice = rules.CATALOGUE_DISCOUNT_CODE_TWICE
                    catalogue.problems.append(at.issue(twice, qan=qan, code=code, kept=earlier))
                    continue
                qualification.discount_codes[year] = code
            if category_col is not None and _text(_cell(row, category_col)):
                qualification.category = _text(_cell(row, category_col))
            if glh_col is not None and _number(_cell(row, glh_col)) is not None:
                qualification.guided_learning_hours = _number(_cell(row, glh_col))
        for qualification in catalogue.qualifications.values():
            codes = {code for _title, code in qualification.syllabuses.get(year, {}).values()}
            if len(codes) == 1 and year not in qualification.discount_codes:
                qualification.discount_codes[year] = codes.pop()  # every syllabus discounts alike
    if "Discount Codes" in workbook.sheet_names:
        rows = _rows(workbook, "Discount Codes", path)
        head, columns = _header(rows, "Discount Code", path, "Discount Codes")
        for _excel_row, row in _data_rows(rows, head + 1):
            code = _text(_cell(row, columns["Discount Code"])).upper()
            if code:
                catalogue.discount_descriptions[code] = _text(_cell(row, columns.get("Description", 1)))


def import_ebacc(catalogue: Catalogue, path: Path) -> None:
    workbook = _workbook(path)
    found = [sheet for sheet in PILLARS if sheet in workbook.sheet_names]
    if not found:
        raise CatalogueFileError(f"{path.name}: no EBacc pillar sheets ({', '.join(PILLARS)})")
    for sheet in workbook.sheet_names:
        if sheet == "Archived":
            catalogue.problems.append(_At(path, sheet, 1).issue(rules.CATALOGUE_ARCHIVED_SHEET))
    for sheet in found:
        pillar = PILLARS[sheet]
        rows = _rows(workbook, sheet, path)
        head, columns = _header(rows, "QN", path, sheet)
        qan_col = columns["QN"]
        title_col = columns.get("Qualification Title", 1)
        indicator_col = columns.get("Indicator Type")
        year_cols = {int(name): col for name, col in columns.items() if re.fullmatch(r"20\d\d", name)}
        if not year_cols:
            raise CatalogueFileError(f"{path.name}, sheet {sheet}: no year columns in the header row")
        for excel_row, row in _data_rows(rows, head + 1):
            raw_qan = _text(_cell(row, qan_col))
            marks = [_text(_cell(row, col)).upper() for col in year_cols.values()]
            if _is_note(row, list(year_cols.values())) or (not raw_qan and "Y" not in marks):
                continue  # "Last updated …", "(a) …" and other notes
            qan = normalise_qan(raw_qan)
            at = _At(path, sheet, excel_row)
            if qan is None:
                catalogue.problems.append(at.issue(rules.CATALOGUE_QAN_INVALID, raw_qan))
                continue
            qualification = catalogue._get(qan, _text(_cell(row, title_col)))
            for year, col in year_cols.items():
                mark = _text(_cell(row, col)).upper()
                if mark == "Y" and qualification.ebacc_pillars.get(year, pillar) != pillar:
                    kept = qualification.ebacc_pillars[year]
                    catalogue.problems.append(
                        at.issue(rules.CATALOGUE_PILLAR_TWICE, qan=qan, kept=kept, year=year)
                    )
                elif mark == "Y":
                    qualification.ebacc_pillars[year] = pillar
                elif mark:
                    catalogue.problems.append(at.issue(rules.CATALOGUE_PILLAR_MARK, mark, qan=qan, year=year))
            if indicator_col is not None and _text(_cell(row, indicator_col)):
                qualification.science_indicator = _text(_cell(row, indicator_col))


def import_dfe_catalogue(
    *, points: Path, discount_codes: Path | None = None, ebacc: Path | None = None
) -> Catalogue:
    """The catalogue from DfE's files. Points are required; the other two add to it."""
    catalogue = Catalogue()
    import_points(catalogue, points)
    if discount_codes is not None:
        import_discount_codes(catalogue, discount_codes)
    if ebacc is not None:
        import_ebacc(catalogue, ebacc)
    return catalogue


def import_dfe_2019_folder(folder: Path) -> Catalogue:
    """The three files of a folder laid out as keystage ships them (data/dfe/ks4/dfe-2019/)."""
    return import_dfe_catalogue(
        points=folder / "performance-points.xlsx",
        discount_codes=folder / "discount-codes.xlsx",
        ebacc=folder / "ebacc-quals.xlsx",
    )


def discount_code_years(path: Path) -> list[int]:
    """The years a discount codes workbook has a sheet for, read from its sheet names alone (quick:
    no cell is read)."""
    return sorted(int(name) for name in _workbook(path).sheet_names if re.fullmatch(r"20\d\d", name))


def summarise(catalogue: Catalogue) -> Iterable[str]:
    yield f"{len(catalogue.qualifications)} qualifications"
    with_points = sum(1 for q in catalogue.qualifications.values() if q.grades)
    yield f"{with_points} with grades and points"
    years = sorted({y for q in catalogue.qualifications.values() for y in q.discount_codes})
    if years:
        yield f"discount codes for {years[0]}-{years[-1]}"
    yield f"{len(catalogue.problems)} rows could not be read"
