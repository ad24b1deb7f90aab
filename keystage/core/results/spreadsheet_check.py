"""A spreadsheet or CSV, read as a Grid, checked against the collection's layout: the heading row, the
template's stamp (its collection and year in A1), the columns (missing, added, renamed, reordered,
and the rows above the headings), then every pupil row through the pupil and result checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from keystage.core.results import rules
from keystage.core.results.cells import Place, cell_text, column_letter
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.results.pupil_checks import PupilChecks, date_order
from keystage.core.results.reading import Grid
from keystage.core.results.roster import UploadContext
from keystage.core.results.rules import Issue
from keystage.core.results.validation_report import PupilEntry, ValidationReport

HEADING_SEARCH_ROWS = 30


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


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


def check_spreadsheet(
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
    checks = PupilChecks(layout, context, report)
    issues = report.issues
    if grid.format == "csv" and "dob" in columns.pupil:
        index = columns.pupil["dob"]
        checks.date_order = date_order(
            cell_text(cells[index]) for cells in rows[heading + 1 :] if index < len(cells)
        )
        if checks.date_order == "mdy":
            issues.append(rules.DOB_MONTH_FIRST.issue(header=cell_text(rows[heading][index]).strip()))
    places = {
        key: Place(column_letter(index), cell_text(rows[heading][index]).strip())
        for key, index in columns.pupil.items()
    }
    pupil_columns = columns.pupil
    subject_specs = [
        (column.key, index, checks.checkers[column.key], Place(column_letter(index), column.header))
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
