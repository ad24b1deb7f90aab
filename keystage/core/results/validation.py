"""The validation engine: one set of rules (``rules.py``) for every format.

An upload is read into rows (``reading.py`` for spreadsheets and CSV, the CTF reader for CTFs),
its structure is checked against the collection's layout, then every pupil and every result is
checked, and every problem is reported, not just the first. What passes becomes ``PupilEntry``
rows with canonical results, ready to store.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any

from keystage.core.ctf.model import AssessmentMapping, CTFDocument
from keystage.core.ctf.reader import CTFError, read_ctf
from keystage.core.pupils.model import InvalidUPNError, UPNCheckLetterError, check_upn
from keystage.core.pupils.names import odd_name, visible
from keystage.core.results import rules
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.results.reading import (
    DEFAULT_MAX_BYTES,
    Format,
    Grid,
    UnreadableFileError,
    check_size,
    detect_format,
    read_grid,
    sheets_holding_upns,
)
from keystage.core.results.rules import Issue, Severity

HEADING_SEARCH_ROWS = 30


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_text(value: object) -> str:
    """A cell as the person typed it: 7.0 from a number cell is "7"; text keeps its spaces."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y") if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class RosterPupil:
    upn: str
    forename: str = ""
    surname: str = ""
    date_of_birth: date | None = None
    sex: str = ""  # F / M
    nc_year: int | None = None

    def in_words(self) -> str:
        """The pupil as a roster difference names them: "Amelia Walker, born 1 October 2014, female"."""
        parts = [" ".join(p for p in (self.forename, self.surname) if p) or "(no name)"]
        if self.date_of_birth:
            parts.append(f"born {_day(self.date_of_birth)}")
        if self.sex in ("F", "M"):
            parts.append({"F": "female", "M": "male"}[self.sex])
        if self.nc_year is not None:
            parts.append("Reception" if self.nc_year == 0 else f"Year {self.nc_year}")
        return ", ".join(parts)


def _folded(text: str) -> str:
    """A name as compared with the roster's: spacing and case aside."""
    return " ".join(text.split()).casefold()


def _person_key(surname: str, forename: str, born: date | None) -> tuple[str, str, date | None]:
    return (_folded(surname), _folded(forename), born)


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _same_text(a: str, b: str) -> bool:
    return _folded(a) == _folded(b)


@dataclass(frozen=True)
class UploadContext:
    """What is known of the uploader: their school (checked against the DfE numbers in the file),
    and its roster for the year (pupils not on it are refused or flagged, by collection)."""

    school_dfe: str | None = None
    school_name: str = ""
    roster: Mapping[str, RosterPupil] | None = None


@dataclass
class PupilEntry:
    row: int
    upn: str
    forename: str = ""
    surname: str = ""
    date_of_birth: date | None = None
    sex: str = ""  # F / M
    nc_year: int | None = None
    dfe: str = ""
    results: dict[str, str] = field(default_factory=dict)  # subject key -> canonical result


@dataclass
class ValidationReport:
    layout: TemplateLayout
    format: Format | None
    issues: list[Issue] = field(default_factory=list)
    pupils: list[PupilEntry] = field(default_factory=list)
    dfe_numbers: dict[str, int] = field(default_factory=dict)  # DfE number -> pupil rows with it
    readable: bool = True
    rows: list[list[object]] | None = None  # a spreadsheet's cells as read, for the error workbook

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return self.readable and not self.errors

    @property
    def school_dfe(self) -> str | None:
        """The one DfE number the file is for, when it names exactly one."""
        return next(iter(self.dfe_numbers)) if len(self.dfe_numbers) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "pupils": len(self.pupils),
            "issues": [i.as_dict() for i in self.issues],
        }


def validate_upload(
    data: bytes,
    layout: TemplateLayout,
    context: UploadContext | None = None,
    *,
    mapping: AssessmentMapping | None = None,
    alternatives: Sequence[TemplateLayout] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ValidationReport:
    """Check an uploaded file of any supported format against a collection's layout.

    ``alternatives`` are the other collections' layouts for the year, so that a file for another
    collection is named as such; ``mapping`` is the CTF assessment mapping in force."""
    context = context or UploadContext()
    report = ValidationReport(layout, None)
    try:
        check_size(data, max_bytes)
        report.format = detect_format(data)
        if report.format == "ctf":
            _check_ctf(data, layout, context, mapping, report, max_bytes)
        else:
            grid = read_grid(data, max_bytes=max_bytes)
            report.rows = grid.rows
            report.issues.extend(grid.notes)
            _check_grid(grid, layout, context, alternatives, report)
            _name_the_sheet_holding_the_pupils(data, grid, report)
            _only_the_formula_said(report)
    except UnreadableFileError as error:
        report.readable = False
        report.issues.append(error.issue)
    # Who the results go to comes first: a pupil off the roster, or not the roster's pupil.
    report.issues.sort(key=lambda issue: issue.code not in ROSTER_CODES)
    return report


ROSTER_CODES = frozenset({rules.ROSTER_DIFFERS.code, rules.ROSTER_DID_YOU_MEAN.code, rules.ADDED_PUPIL.code})


def _only_the_formula_said(report: ValidationReport) -> None:
    """A formula without a saved value reads as blank; its cell's "missing" issue would mislead."""
    code = rules.FORMULA_WITHOUT_VALUE.code
    cells = {(i.row, i.column) for i in report.issues if i.code == code}
    if cells:
        report.issues[:] = [i for i in report.issues if i.code == code or (i.row, i.column) not in cells]


def _name_the_sheet_holding_the_pupils(data: bytes, grid: Grid, report: ValidationReport) -> None:
    """A results sheet without pupils, in a workbook where another sheet holds UPNs: say which."""
    empty = {rules.NO_PUPILS.code, rules.NOT_A_TEMPLATE.code}
    where = next((n for n, issue in enumerate(report.issues) if issue.code in empty), None)
    if where is None or not grid.sheet:
        return
    found = sheets_holding_upns(data, besides=grid.sheet)
    if found:
        other, count = found[0]
        report.issues[where] = rules.PUPILS_ON_ANOTHER_SHEET.issue(
            row=report.issues[where].row, sheet=grid.sheet, other=other, count=count
        )


# Structure -------------------------------------------------------------------------------------


def _find_heading_row(rows: list[list[object]]) -> int | None:
    for index, row in enumerate(rows[:HEADING_SEARCH_ROWS]):
        if any(isinstance(cell, str) and cell.strip().casefold() == "upn" for cell in row):
            return index
    return None


_STAMP = re.compile(r"^(?P<title>.+?)\s+(?P<start>\d{4})/(?P<end>\d{2})$")


def _stamp_issue(rows: list[list[object]], layout: TemplateLayout) -> Issue | None:
    """A template names its collection and year in A1; an upload to the wrong one is refused."""
    first = cell_text(rows[0][0]).strip() if rows and rows[0] else ""
    match = _STAMP.match(first)
    if not match:
        return None
    found_title = match["title"]
    other = next((k for k in KINDS.values() if _norm(k.title) == _norm(found_title)), None)
    if other is None:
        return None
    if other.key != layout.kind.key:
        return rules.WRONG_TEMPLATE.issue(
            row=1, column="A", value=first, found=other.title, expected=layout.kind.title
        )
    found_year = f"{match['start']}/{match['end']}"
    if found_year != academic_year_name(layout.year):
        return rules.WRONG_YEAR.issue(
            row=1, column="A", value=first, found=found_year, expected=academic_year_name(layout.year)
        )
    return None


def _overlap(headers: Sequence[str], layout: TemplateLayout) -> int:
    wanted = {_norm(h) for h in layout.subject_headers}
    return sum(1 for h in headers if _norm(h) in wanted)


@dataclass
class _Columns:
    pupil: dict[str, int]  # pupil field key -> column index
    subjects: list[tuple[SubjectColumn, int]]


def _check_structure(
    grid: Grid,
    heading: int,
    layout: TemplateLayout,
    alternatives: Sequence[TemplateLayout],
    report: ValidationReport,
) -> _Columns | None:
    rows = grid.rows
    headings = [cell_text(c).strip() for c in rows[heading]]
    issues: list[Issue] = []
    pupil_headers = {_norm(f.header): f for f in layout.pupil_fields}
    pupil: dict[str, int] = {}
    found_subjects: list[tuple[str, int]] = []
    for index, text in enumerate(headings):
        if not text:
            continue
        known = pupil_headers.get(_norm(text))
        if known is not None and known.key not in pupil:
            pupil[known.key] = index
        else:
            found_subjects.append((text, index))
    found_names = [name for name, _ in found_subjects]
    # Another collection's file: most of its subject headings are that collection's.
    if found_names and _overlap(found_names, layout) * 2 < len(found_names):
        better = max(alternatives, key=lambda alt: _overlap(found_names, alt), default=None)
        if better is not None and _overlap(found_names, better) * 2 >= len(found_names):
            report.issues.append(
                rules.WRONG_TEMPLATE.issue(
                    row=heading + 1, found=better.kind.title, expected=layout.kind.title
                )
            )
            return None
    missing_pupil = [f.header for f in layout.pupil_fields if f.key not in pupil]
    if missing_pupil:
        issues.append(
            rules.PUPIL_COLUMN_MISSING.issue(
                row=heading + 1,
                missing=", ".join(f"“{h}”" for h in missing_pupil),
                plural="s" if len(missing_pupil) > 1 else "",
                verb="are" if len(missing_pupil) > 1 else "is",
            )
        )
    expected = list(layout.subjects)
    by_name = {_norm(s.header): s for s in expected}
    found_keys = {_norm(name) for name in found_names}
    missing = [s for s in expected if _norm(s.header) not in found_keys]
    added = [(name, index) for name, index in found_subjects if _norm(name) not in by_name]
    # A heading that stands where a missing one should is a renamed column, not one added and one lost.
    for position, (name, index) in enumerate(found_subjects):
        if _norm(name) in by_name or position >= len(expected):
            continue
        should_be = expected[position]
        if should_be in missing:
            missing.remove(should_be)
            added.remove((name, index))
            issues.append(
                rules.COLUMN_RENAMED.issue(
                    row=heading + 1,
                    column=column_letter(index),
                    header=name,
                    value=name,
                    expected=should_be.header,
                )
            )
    for name, index in added:
        issues.append(
            rules.COLUMN_ADDED.issue(row=heading + 1, column=column_letter(index), header=name, value=name)
        )
    if missing:
        names = ", ".join(f"“{s.header}”" for s in missing[:10]) + (" …" if len(missing) > 10 else "")
        issues.append(
            rules.COLUMN_REMOVED.issue(
                row=heading + 1,
                count=len(missing),
                plural="s were" if len(missing) > 1 else " was",
                names=names,
            )
        )
    if not issues:
        order = [by_name[_norm(name)] for name, _ in found_subjects]
        for position, (column, (name, index)) in enumerate(zip(order, found_subjects, strict=True)):
            if column is not expected[position]:
                issues.append(
                    rules.COLUMNS_REORDERED.issue(
                        row=heading + 1,
                        column=column_letter(index),
                        header=name,
                        value=name,
                        expected=expected[position].header,
                    )
                )
                break
    subjects = [(by_name[_norm(name)], index) for name, index in found_subjects if _norm(name) in by_name]
    if not issues:
        issues.extend(_header_row_issues(rows, heading, layout, subjects))
    report.issues.extend(issues)
    return None if issues else _Columns(pupil, subjects)


def _header_row_issues(
    rows: list[list[object]], heading: int, layout: TemplateLayout, subjects: list[tuple[SubjectColumn, int]]
) -> list[Issue]:
    """The rows above the headings (discount code, QAN, ...) must say what the template said."""
    issues: list[Issue] = []
    for header_row in layout.header_rows:
        label = _norm(header_row.label)
        found = next(
            (r for r in range(heading) if any(_norm(cell_text(c)) == label for c in rows[r])),
            None,
        )
        if found is None:
            continue  # a CSV of just the headings and pupils is fine
        row = rows[found]
        for column, index in subjects:
            written = cell_text(row[index]).strip() if index < len(row) else ""
            expected = header_row.value(column)
            if _norm(written) != _norm(expected):
                issues.append(
                    rules.HEADER_EDITED.issue(
                        row=found + 1,
                        column=column_letter(index),
                        header=column.header,
                        value=written,
                        label=header_row.label.lower(),
                        expected=expected,
                    )
                )
    return issues


# Rows --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a value sits, as the user sees it."""

    column: str
    header: str


class _PupilChecks:
    """The checks of one pupil row, shared by spreadsheets and CTFs."""

    def __init__(self, layout: TemplateLayout, context: UploadContext, report: ValidationReport) -> None:
        self.layout = layout
        self.kind = layout.kind
        self.context = context
        self.report = report
        self.issues = report.issues
        self.seen: dict[str, int] = {}
        self.birth_years = sorted(self.kind.birth_years(layout.year))
        self.year_name = academic_year_name(layout.year)
        # How a CSV's dd/mm or mm/dd dates of birth are read: "dmy", "mdy" (settled by the file), or
        # "unsettled" (every date could be either; an ambiguous one is then an error).
        self.date_order = "dmy"
        self.checkers = {column.key: _ResultChecker(column) for column in layout.subjects}

    def dfe(self, entry: PupilEntry, row: int | None, value: object, place: _Place) -> None:
        text = cell_text(value).strip()
        if not text:
            self.issues.append(rules.DFE_MISSING.issue(row=row, column=place.column, header=place.header))
            return
        if not re.fullmatch(r"[0-9]{7}", text):
            self.issues.append(
                rules.DFE_FORMAT.issue(row=row, column=place.column, header=place.header, value=text)
            )
            return
        entry.dfe = text
        self.report.dfe_numbers[text] = self.report.dfe_numbers.get(text, 0) + 1
        school = self.context.school_dfe
        if school is not None and text != school:
            self.issues.append(
                rules.DFE_OTHER_SCHOOL.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    school=self.context.school_name or "the uploading school",
                    expected=school,
                )
            )

    def key_stage(self, row: int, value: object, place: _Place) -> None:
        text = cell_text(value).strip()
        if text.upper() != self.kind.key_stage:
            self.issues.append(
                rules.KEY_STAGE.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    expected=self.kind.key_stage,
                    title=self.kind.title,
                )
            )

    def nc_year(self, entry: PupilEntry, row: int, value: object, place: _Place) -> None:
        text = cell_text(value).strip().upper()
        number = 0 if text in ("R", "0") else (int(text) if text.isascii() and text.isdigit() else None)
        if number not in self.kind.nc_years:
            expected = " or ".join("R" if y == 0 else str(y) for y in self.kind.nc_years)
            self.issues.append(
                rules.NC_YEAR.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    expected=expected,
                    title=self.kind.title,
                )
            )
            return
        entry.nc_year = number

    def upn(self, entry: PupilEntry, row: int, value: object, place: _Place) -> None:
        text = cell_text(value).strip()
        where: dict[str, Any] = {"row": row, "column": place.column, "header": place.header, "value": text}
        if not text:
            self.issues.append(rules.UPN_MISSING.issue(**where))
            return
        try:
            upn = check_upn(text)
        except UPNCheckLetterError as error:
            self.issues.append(rules.UPN_CHECK_LETTER.issue(reason=error, **where))
            return
        except InvalidUPNError as error:
            self.issues.append(rules.UPN_INVALID.issue(reason=error, **where))
            return
        entry.upn = upn
        first = self.seen.setdefault(upn, row)
        if first != row:
            self.issues.append(rules.DUPLICATE.issue(first=first, **where))
            return
        roster = self.context.roster
        if roster is not None and upn not in roster:
            rule = rules.NOT_ON_ROSTER if self.kind.roster_only else rules.ADDED_PUPIL
            self.issues.append(rule.issue(year=self.year_name, title=self.kind.title, **where))

    def against_roster(self, entry: PupilEntry, places: Mapping[str, _Place]) -> None:
        """A pupil whose UPN is on the roster but whose name, birth date, sex or year differ there:
        a warning for each (a mistyped UPN gives results to another child). A UPN not on the roster,
        whose name and birth date are another UPN's there: "did you mean"."""
        roster = self.context.roster
        if not roster or not entry.upn:
            return
        known = roster.get(entry.upn)
        if known is None:
            match = self._roster_by_person.get(
                _person_key(entry.surname, entry.forename, entry.date_of_birth)
            )
            if match is not None and entry.date_of_birth is not None:
                place = places["upn"]
                self.issues.append(
                    rules.ROSTER_DID_YOU_MEAN.issue(
                        row=entry.row,
                        column=place.column,
                        header=place.header,
                        value=entry.upn,
                        other=match.upn,
                        pupil=match.in_words(),
                    )
                )
            return
        said = {
            "surname": (
                "surname",
                entry.surname,
                known.surname,
                not _same_text(entry.surname, known.surname),
            ),
            "forename": (
                "forename",
                entry.forename,
                known.forename,
                not _same_text(entry.forename, known.forename),
            ),
            "dob": (
                "date of birth",
                _day(entry.date_of_birth) if entry.date_of_birth else "",
                _day(known.date_of_birth) if known.date_of_birth else "",
                entry.date_of_birth is not None
                and known.date_of_birth is not None
                and entry.date_of_birth != known.date_of_birth,
            ),
            "gender": (
                "sex",
                entry.sex,
                known.sex,
                entry.sex in ("F", "M") and known.sex in ("F", "M") and entry.sex != known.sex,
            ),
            "nc_year": (
                "year group",
                str(entry.nc_year),
                str(known.nc_year),
                entry.nc_year is not None and known.nc_year is not None and entry.nc_year != known.nc_year,
            ),
        }
        for key, (what, given, on_roster, differs) in said.items():
            if not differs or not given:
                continue
            place = places.get(key) or places.get("dob_day") or places["upn"]
            self.issues.append(
                rules.ROSTER_DIFFERS.issue(
                    row=entry.row,
                    column=place.column,
                    header=place.header,
                    value=given,
                    upn=entry.upn,
                    pupil=known.in_words(),
                    what=what,
                    roster=on_roster or "blank",
                )
            )

    @cached_property
    def _roster_by_person(self) -> dict[tuple[str, str, date | None], RosterPupil]:
        roster = (self.context.roster or {}).values()
        return {_person_key(p.surname, p.forename, p.date_of_birth): p for p in roster}

    def name(self, entry: PupilEntry, key: str, row: int, value: object, place: _Place) -> None:
        given = cell_text(value)
        text = " ".join(given.split())
        if not text:
            rule = rules.FORENAME_MISSING if key == "forename" else rules.SURNAME_MISSING
            self.issues.append(rule.issue(row=row, column=place.column, header=place.header))
        elif (reason := odd_name(given.lstrip(" ")) or odd_name(text)) is not None:
            rule = rules.FORENAME_ODD if key == "forename" else rules.SURNAME_ODD
            self.issues.append(
                rule.issue(
                    row=row, column=place.column, header=place.header, value=visible(given), reason=reason
                )
            )
        setattr(entry, key, text)

    def gender(self, entry: PupilEntry, row: int, value: object, place: _Place) -> None:
        text = cell_text(value).strip()
        sex = {"female": "F", "male": "M"}.get(text.casefold())
        if sex is None:
            self.issues.append(
                rules.GENDER.issue(row=row, column=place.column, header=place.header, value=text)
            )
            return
        entry.sex = sex

    def _whole(self, value: object) -> int | None:
        text = cell_text(value).strip()
        return int(text) if text.isascii() and text.isdigit() else None

    def birth_parts(self, entry: PupilEntry, row: int, parts: Sequence[tuple[object, _Place]]) -> None:
        """Seed 000's Day, Month and Year columns."""
        (day_value, day_at), (month_value, month_at), (year_value, year_at) = parts
        day, month, year = (self._whole(day_value), self._whole(month_value), self._whole(year_value))
        problems = False
        for value, place, number, rule, top in (
            (day_value, day_at, day, rules.DOB_DAY, 31),
            (month_value, month_at, month, rules.DOB_MONTH, 12),
        ):
            if not cell_text(value).strip():
                self.issues.append(rules.DOB_MISSING.issue(row=row, column=place.column, header=place.header))
                problems = True
            elif number is None or not 1 <= number <= top:
                text = cell_text(value)
                self.issues.append(rule.issue(row=row, column=place.column, header=place.header, value=text))
                problems = True
        if not cell_text(year_value).strip():
            self.issues.append(rules.DOB_MISSING.issue(row=row, column=year_at.column, header=year_at.header))
            return
        if year is None or year not in self.birth_years:
            self._year_issue(row, year_at, cell_text(year_value))
            return
        if problems or day is None or month is None:
            return
        try:
            born = date(year, month, day)
        except ValueError:
            self.issues.append(
                rules.DOB_NOT_A_DATE.issue(
                    row=row,
                    column=day_at.column,
                    header=day_at.header,
                    value=cell_text(day_value),
                    day=day,
                    month=month,
                    year=year,
                )
            )
            return
        self._cohort(entry, row, born, year_at, cell_text(year_value))

    def birth_date(self, entry: PupilEntry, row: int, value: object, place: _Place) -> None:
        """Seed 001's single Date of birth column (dd/mm/yyyy), or a CTF's DOB."""
        if isinstance(value, datetime):
            born: date | None = value.date()
        elif isinstance(value, date):
            born = value
        else:
            text = cell_text(value).strip()
            if not text:
                self.issues.append(rules.DOB_MISSING.issue(row=row, column=place.column, header=place.header))
                return
            ambiguous = _ambiguous_date(text)
            if ambiguous is not None and self.date_order == "unsettled":
                day_first, month_first = ambiguous
                self.issues.append(
                    rules.DOB_AMBIGUOUS.issue(
                        row=row,
                        column=place.column,
                        header=place.header,
                        value=text,
                        one=_day(day_first),
                        other=_day(month_first),
                        iso=day_first.isoformat(),
                    )
                )
                return
            born = _parse_us_date(text) if self.date_order == "mdy" else _parse_uk_date(text)
            if born is None:
                self.issues.append(
                    rules.DOB_FORMAT.issue(row=row, column=place.column, header=place.header, value=text)
                )
                return
        assert born is not None
        if born.year not in self.birth_years:
            self._year_issue(row, place, cell_text(value))
            return
        self._cohort(entry, row, born, place, cell_text(value))

    def _year_issue(self, row: int, place: _Place, text: str) -> None:
        years = self.birth_years
        expected = " or ".join(str(y) for y in years) if len(years) <= 2 else f"{years[0]} to {years[-1]}"
        self.issues.append(
            rules.DOB_YEAR.issue(
                row=row,
                column=place.column,
                header=place.header,
                value=text,
                expected=expected,
                cohort=self._cohort_name(),
            )
        )

    def _cohort_name(self) -> str:
        years = " or ".join("Reception" if y == 0 else f"Year {y}" for y in self.kind.nc_years)
        return f"{years} in {self.year_name}"

    def _cohort(self, entry: PupilEntry, row: int, born: date, place: _Place, text: str) -> None:
        entry.date_of_birth = born
        spans = [self.kind.birth_span(self.layout.year, y) for y in self.kind.nc_years]
        if not any(first <= born <= last for first, last in spans):
            first, last = min(s[0] for s in spans), max(s[1] for s in spans)
            self.issues.append(
                rules.DOB_OUT_OF_COHORT.issue(
                    row=row,
                    column=place.column,
                    header=place.header,
                    value=text,
                    born=born.strftime("%d/%m/%Y"),
                    cohort=self._cohort_name(),
                    first=first.strftime("%d/%m/%Y"),
                    last=last.strftime("%d/%m/%Y"),
                )
            )


_SLASHED_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _ambiguous_date(text: str) -> tuple[date, date] | None:
    """A date that reads as two different days, day first and month first (05/10/2019), or None."""
    match = _SLASHED_DATE.fullmatch(text)
    if not match or match[1] == match[2] or int(match[1]) > 12 or int(match[2]) > 12:
        return None
    try:
        return date(int(match[3]), int(match[2]), int(match[1])), date(
            int(match[3]), int(match[1]), int(match[2])
        )
    except ValueError:
        return None


def date_order(texts: Iterable[str]) -> str:
    """Which order a file's slashed dates use: "dmy" if any has a day above 12 first (or none is
    slashed), "mdy" if any has one second and none first, else "unsettled"."""
    day_first = month_first = slashed = False
    for text in texts:
        match = _SLASHED_DATE.fullmatch(text.strip())
        if not match:
            continue
        slashed = True
        day_first = day_first or int(match[1]) > 12
        month_first = month_first or int(match[2]) > 12
    if not slashed or day_first:
        return "dmy"
    return "mdy" if month_first else "unsettled"


def _parse_us_date(text: str) -> date | None:
    match = _SLASHED_DATE.fullmatch(text)
    if match:
        try:
            return date(int(match[3]), int(match[1]), int(match[2]))
        except ValueError:
            return None
    return _parse_uk_date(text)


def _parse_uk_date(text: str) -> date | None:
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            return None
    try:  # an ISO date, as a CSV from a database might have it
        return date.fromisoformat(text)
    except ValueError:
        return None


_LETTER_GRADES = frozenset({"A*", "A", "B", "C", "D", "E", "F", "G", "*"})
_FAIL_WORDS = frozenset({"F", "X", "FAIL", "FAILED", "UNGRADED", "UNCLASSIFIED", "N", "NG", "0", "-"})
_PAIR = re.compile(r"([1-9])\s*[-/,.&+\s]\s*([1-9])")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")


class _ResultChecker:
    """One subject column's check: a set lookup for every valid value, and on a miss the most
    helpful message keystage can give, with the value it was read as when it is unambiguous."""

    def __init__(self, column: SubjectColumn) -> None:
        self.column = column
        self.valid = frozenset(column.dropdown())
        self.valid_text = column.valid_results.replace(",", ", ")
        self.graded_9_1 = "9" in column.outcomes and "U" in column.outcomes and not column.double_award

    def check(self, row: int, text: str, place: _Place, issues: list[Issue]) -> str | None:
        """The canonical result, or None when the value is not valid (an issue is then added)."""
        if text in self.valid:
            return text
        where: dict[str, Any] = {"row": row, "column": place.column, "header": place.header, "value": text}
        stripped = text.strip()
        if not stripped:
            return None
        if stripped in self.valid:
            issues.append(rules.RESULT_SPACES.issue(read=stripped, **where))
            return stripped
        upper = stripped.upper()
        if upper in self.valid:
            issues.append(rules.RESULT_CASE.issue(read=upper, **where))
            return upper
        column = self.column
        if _DECIMAL.fullmatch(stripped):
            number = float(stripped)
            if number.is_integer() and str(int(number)) in self.valid:
                issues.append(rules.RESULT_DECIMAL_WHOLE.issue(read=str(int(number)), **where))
                return str(int(number))
        if column.score is not None:
            issues.append(self._score_issue(where))
            return None
        if column.double_award:
            issues.append(self._double_award_issue(stripped, where))
            return None
        if _DECIMAL.fullmatch(stripped):
            issues.append(rules.RESULT_DECIMAL.issue(valid=self.valid_text, **where))
        elif "U" in self.valid and upper in _FAIL_WORDS:
            issues.append(rules.UNGRADED.issue(**where))
        elif self.graded_9_1 and upper in _LETTER_GRADES:
            issues.append(rules.LETTER_GRADE.issue(**where))
        else:
            issues.append(rules.RESULT_INVALID.issue(valid=self.valid_text, **where))
        return None

    def _score_issue(self, where: dict[str, Any]) -> Issue:
        score = self.column.score
        assert score is not None
        codes = f", or {', '.join(self.column.outcomes)}" if self.column.outcomes else ""
        return rules.SCORE_RANGE.issue(minimum=score.minimum, maximum=score.maximum, codes=codes, **where)

    def _double_award_issue(self, text: str, where: dict[str, Any]) -> Issue:
        pair = _PAIR.fullmatch(text)
        if pair:
            high, low = sorted((pair[1], pair[2]), reverse=True)
            if high + low in self.valid:
                return rules.COMBINED_SCIENCE_FORMAT.issue(read=high + low, **where)
        if re.fullmatch(r"[1-9]{2}", text) and text[::-1] in self.valid:
            return rules.COMBINED_SCIENCE_ORDER.issue(read=text[::-1], **where)
        if re.fullmatch(r"[1-9]", text):
            return rules.COMBINED_SCIENCE_SINGLE.issue(example=text * 2, **where)
        if text.upper() in _FAIL_WORDS:
            return rules.UNGRADED.issue(**where)
        return rules.RESULT_INVALID.issue(valid=self.valid_text, **where)


def _check_grid(
    grid: Grid,
    layout: TemplateLayout,
    context: UploadContext,
    alternatives: Sequence[TemplateLayout],
    report: ValidationReport,
) -> None:
    rows = grid.rows
    heading = _find_heading_row(rows)
    if heading is None:
        report.issues.append(rules.NOT_A_TEMPLATE.issue(rows=HEADING_SEARCH_ROWS, title=layout.title))
        return
    stamp = _stamp_issue(rows, layout) if heading > 0 else None
    if stamp is not None:
        report.issues.append(stamp)
        return
    columns = _check_structure(grid, heading, layout, alternatives, report)
    if columns is None:
        return
    checks = _PupilChecks(layout, context, report)
    issues = report.issues
    if grid.format == "csv" and "dob" in columns.pupil:
        index = columns.pupil["dob"]
        checks.date_order = date_order(
            cell_text(cells[index]) for cells in rows[heading + 1 :] if index < len(cells)
        )
        if checks.date_order == "mdy":
            issues.append(rules.DOB_MONTH_FIRST.issue(header=cell_text(rows[heading][index]).strip()))
    places = {
        key: _Place(column_letter(index), cell_text(rows[heading][index]).strip())
        for key, index in columns.pupil.items()
    }
    pupil_columns = columns.pupil
    subject_specs = [
        (column.key, index, checks.checkers[column.key], _Place(column_letter(index), column.header))
        for column, index in columns.subjects
    ]
    any_result = False
    pupil_rows = 0
    for offset, cells in enumerate(rows[heading + 1 :], start=heading + 2):
        width = len(cells)
        if not any(cell != "" and cell is not None for cell in cells):
            continue
        pupil_rows += 1

        def value(key: str, cells: list[object] = cells, width: int = width) -> object:
            index = pupil_columns[key]
            return cells[index] if index < width else ""

        entry = PupilEntry(row=offset, upn="")
        if "dfe" in pupil_columns:
            checks.dfe(entry, offset, value("dfe"), places["dfe"])
        if "key_stage" in pupil_columns:
            checks.key_stage(offset, value("key_stage"), places["key_stage"])
        if "nc_year" in pupil_columns:
            checks.nc_year(entry, offset, value("nc_year"), places["nc_year"])
        checks.upn(entry, offset, value("upn"), places["upn"])
        checks.name(entry, "forename", offset, value("forename"), places["forename"])
        checks.name(entry, "surname", offset, value("surname"), places["surname"])
        if "dob" in pupil_columns:
            checks.birth_date(entry, offset, value("dob"), places["dob"])
        else:
            checks.birth_parts(
                entry, offset, [(value(k), places[k]) for k in ("dob_day", "dob_month", "dob_year")]
            )
        checks.gender(entry, offset, value("gender"), places["gender"])
        results = entry.results
        for key, index, checker, place in subject_specs:
            if index >= width:
                continue
            cell = cells[index]
            if cell == "" or cell is None:
                continue
            text = cell if type(cell) is str else cell_text(cell)
            if text in checker.valid:
                results[key] = text
                any_result = True
                continue
            read = checker.check(offset, text, place, issues)
            if text.strip():
                any_result = True
            if read is not None:
                results[key] = read
        checks.against_roster(entry, places)
        report.pupils.append(entry)
    if pupil_rows == 0:
        issues.append(rules.NO_PUPILS.issue(row=heading + 2))
    elif not any_result:
        issues.append(rules.BLANK_TEMPLATE.issue(row=heading + 2))


# CTF ---------------------------------------------------------------------------------------------


# Where a CTF pupil's roster differences are said to be: its elements.
CTF_PLACES = {
    "upn": _Place("UPN", "UPN"),
    "forename": _Place("Forename", "Forename"),
    "surname": _Place("Surname", "Surname"),
    "dob": _Place("DOB", "Date of birth"),
    "gender": _Place("Sex", "Sex"),
    "nc_year": _Place("NCyearActual", "NC year"),
}


def ctf_pupil_words(upn: str, surname: str, forename: str, number: int) -> str:
    """A CTF's pupil as people know them: UPN and name as the file gives them, or its place in the
    file when it gives neither."""
    name = ", ".join(part.strip() for part in (surname, forename) if part and part.strip())
    upn = (upn or "").strip()
    if upn and name:
        return f"UPN {upn}, {name}"
    if upn or name:
        return f"UPN {upn}" if upn else name
    return f"Pupil {number} in the file (no UPN or name)"


def _check_ctf(
    data: bytes,
    layout: TemplateLayout,
    context: UploadContext,
    mapping: AssessmentMapping | None,
    report: ValidationReport,
    max_bytes: int,
) -> None:
    """A CTF's pupils and StageAssessments through the same checks; a pupil's "row" is its place in
    the file (Pupil 1, 2, ...) and its "column" the CTF element."""
    if not layout.kind.takes_ctf:
        raise UnreadableFileError(rules.CTF_NOT_ACCEPTED.issue(title=layout.kind.title))
    try:
        read = read_ctf(data, max_bytes=max_bytes)
    except CTFError as error:
        raise UnreadableFileError(rules.CTF_UNREADABLE.issue(reason=str(error))) from None
    document: CTFDocument = read.document
    checks = _PupilChecks(layout, context, report)
    source = document.header.source
    school_dfe = f"{source.la}{source.estab}"
    dfe_place = _Place("SourceSchool", "LEA and Estab")
    wanted = {column.key for column in layout.subjects}
    labels = {column.key: column.header for column in layout.subjects}
    any_result = False
    unmapped: set[tuple[str, ...]] = set()
    elsewhere: Counter[tuple[str, ...]] = Counter()  # results for another collection, by what they are
    # The DfE number is the file's, not each pupil's: checked once.
    header_entry = PupilEntry(row=0, upn="")
    checks.dfe(header_entry, None, school_dfe, dfe_place)
    if header_entry.dfe:
        report.dfe_numbers[header_entry.dfe] = len(document.pupils)
    named: dict[int, str] = {}
    for number, pupil in enumerate(document.pupils, start=1):
        named[number] = ctf_pupil_words(pupil.upn, pupil.surname, pupil.forename, number)
        entry = PupilEntry(row=number, upn="", dfe=header_entry.dfe)
        if pupil.nc_year:
            checks.nc_year(entry, number, pupil.nc_year, _Place("NCyearActual", "NC year"))
        checks.upn(entry, number, pupil.upn, _Place("UPN", "UPN"))
        checks.name(entry, "forename", number, pupil.forename, _Place("Forename", "Forename"))
        checks.name(entry, "surname", number, pupil.surname, _Place("Surname", "Surname"))
        checks.birth_date(entry, number, pupil.date_of_birth or "", _Place("DOB", "Date of birth"))
        sex = {"F": "Female", "M": "Male"}.get(pupil.sex, pupil.sex)
        checks.gender(entry, number, sex, _Place("Sex", "Sex"))
        for result in pupil.results:
            mapped = mapping.assessment_for(result) if mapping else None
            if mapped is None:
                unmapped.add(result.key)
                continue
            if mapped.assessment not in wanted:
                # another collection's assessment, e.g. KS1 results in a KS2 pupil's file: counted
                elsewhere[result.key[:4]] += 1
                continue
            place = _Place(f"StageAssessment {'/'.join(result.key)}", labels[mapped.assessment])
            read_as = checks.checkers[mapped.assessment].check(number, result.result, place, report.issues)
            any_result = any_result or bool(result.result.strip())
            if read_as is not None:
                entry.results[mapped.assessment] = read_as
        checks.against_roster(entry, CTF_PLACES)
        report.pupils.append(entry)
    # A CTF has no rows a person can see: each pupil's problem names the pupil, as the file does.
    report.issues[:] = [replace(i, pupil=named[i.row]) if i.row in named else i for i in report.issues]
    for key in sorted(unmapped):
        stage, subject, method, component, qualifier = key
        report.issues.append(
            rules.CTF_UNMAPPED.issue(
                stage=stage,
                subject=subject,
                method=method,
                component=component,
                qualifier=qualifier,
                year=academic_year_name(layout.year),
            )
        )
    for (stage, subject, method, component), count in sorted(elsewhere.items()):
        one = count == 1
        report.issues.append(
            rules.CTF_OTHER_COLLECTION.issue(
                count=count,
                stage=stage,
                subject=subject,
                method=method,
                component=component,
                plural="" if one else "s",
                verb="s" if one else "",
                title=layout.kind.title,
                pronoun="it" if one else "they",
                was="was" if one else "were",
            )
        )
    if read.not_read:
        parts = ", ".join(f"{name} ({count})" for name, count in sorted(read.not_read.items()))
        report.issues.append(rules.CTF_NOT_READ.issue(parts=parts))
    if not document.pupils:
        report.issues.append(rules.NO_PUPILS.issue())
    elif not any_result:
        report.issues.append(rules.BLANK_TEMPLATE.issue())
