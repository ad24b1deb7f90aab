"""The workbooks keystage writes: the pre-filled template, and the error workbook (the school's own
file with every bad cell highlighted and commented, and an Errors sheet listing every issue).

Both are laid out from the collection's ``TemplateLayout``, so the error workbook is again a
template: fix the highlighted cells and upload it as it is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from keystage.core.results.cells import column_letter
from keystage.core.results.kinds import academic_year_name
from keystage.core.results.layout import SubjectColumn, TemplateLayout
from keystage.core.results.rules import Issue, Severity
from keystage.core.workbook_cells import new_workbook, write_cell

RESULTS_SHEET = "Results"
GUIDANCE_SHEET = "Guidance"
ERRORS_SHEET = "Errors"
SPARE_ROWS = 500  # rows below the roster with dropdowns, for pupils a school adds
MAX_COMMENTS = 3000  # Excel slows to a crawl past a few thousand comments; the Errors sheet has all


@dataclass(frozen=True)
class TemplatePupil:
    upn: str
    forename: str
    surname: str
    date_of_birth: date
    sex: str  # F / M
    nc_year: int


class _Formats:
    def __init__(self, book: Workbook) -> None:
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.label = book.add_format({"bold": True, "bg_color": "#DEE0E2", "border": 1, "locked": True})
        self.header = book.add_format(
            {
                "bold": True,
                "bg_color": "#DEE0E2",
                "border": 1,
                "text_wrap": True,
                "valign": "top",
                "locked": True,
            }
        )
        self.code = book.add_format({"bg_color": "#F3F2F1", "border": 1, "text_wrap": True, "locked": True})
        self.stamp = book.add_format({"bold": True, "locked": True})
        self.unlocked = book.add_format({"locked": False})
        self.text = book.add_format({"locked": False, "num_format": "@"})
        self.date = book.add_format({"locked": False, "num_format": "dd/mm/yyyy"})
        self.bad = book.add_format(
            {"locked": False, "bg_color": "#F4B6B0", "border": 2, "border_color": "#D4351C"}
        )
        self.warn = book.add_format({"locked": False, "bg_color": "#FFF2B3"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.bold = book.add_format({"bold": True})


def _first_subject_column(layout: TemplateLayout) -> int:
    return len(layout.pupil_fields)


def _write_headings(sheet: Worksheet, layout: TemplateLayout, formats: _Formats, made_on: date) -> None:
    label_column = _first_subject_column(layout) - 1
    if layout.header_rows:
        write_cell(sheet, 0, 0, layout.title, formats.stamp)
        write_cell(sheet, 0, 1, f"Template v{layout.version}, {made_on:%d/%m/%Y}", formats.stamp)
        for row, header_row in enumerate(layout.header_rows):
            write_cell(sheet, row, label_column, header_row.label, formats.label)
            for offset, column in enumerate(layout.subjects):
                write_cell(sheet, row, label_column + 1 + offset, header_row.value(column), formats.code)
    heading = layout.heading_row - 1
    for index, pupil_field in enumerate(layout.pupil_fields):
        write_cell(sheet, heading, index, pupil_field.header, formats.header)
        sheet.set_column(index, index, pupil_field.width, formats.unlocked)
    first = _first_subject_column(layout)
    for offset, column in enumerate(layout.subjects):
        write_cell(sheet, heading, first + offset, column.header, formats.header)
    if layout.subjects:
        sheet.set_column(first, first + len(layout.subjects) - 1, 14, formats.unlocked)
    sheet.set_row(heading, 60 if layout.header_rows else 45)


def _dropdowns(
    book: Workbook, sheet: Worksheet, layout: TemplateLayout, last_row: int, lists: list[Worksheet]
) -> None:
    """A dropdown of valid results in every subject cell; lists too long for Excel's 255-character
    limit are kept on a hidden sheet and referenced."""
    first_row = layout.heading_row
    first = _first_subject_column(layout)
    for offset, column in enumerate(layout.subjects):
        choices = column.dropdown()
        options: dict[str, Any] = {
            "validate": "list",
            "error_title": "Not a valid result",
            "error_message": f"{column.header[:120]}: {column.valid_results[:100]}",
            "error_type": "warning",  # Excel warns; keystage's validation has the last word
        }
        if len(",".join(choices)) <= 255:
            options["source"] = choices
        else:
            if not lists:
                hidden = book.add_worksheet("Lists")
                hidden.hide()
                lists.append(hidden)
            hidden = lists[0]
            list_column = offset
            for row, choice in enumerate(choices):
                write_cell(hidden, row, list_column, choice)
            letter = column_letter(list_column)
            options["source"] = f"=Lists!${letter}$1:${letter}${len(choices)}"
        sheet.data_validation(first_row, first + offset, last_row, first + offset, options)


def _protect(sheet: Worksheet) -> None:
    """The heading cells are locked; everything else stays editable. Rows can be added and
    deleted (seed 000: schools may add and remove pupils), columns cannot."""
    sheet.protect(
        "",
        {
            "insert_rows": True,
            "delete_rows": True,
            "sort": True,
            "autofilter": True,
            "format_cells": True,
            "select_locked_cells": True,
            "select_unlocked_cells": True,
        },
    )


def _guidance(book: Workbook, layout: TemplateLayout, formats: _Formats, made_on: date) -> None:
    sheet = book.add_worksheet(GUIDANCE_SHEET)
    kind = layout.kind
    write_cell(sheet, 0, 0, f"{layout.title} template: guidance", formats.title)
    lines = [
        f"Template version {layout.version}, made {made_on:%d/%m/%Y} by keystage.",
        f"Enter each pupil's results for {academic_year_name(layout.year)} in the {RESULTS_SHEET} sheet. "
        "Use only the valid results listed for each column; the dropdown in every cell offers them.",
        "Blank = not entered (the pupil did not take it, or the school does not offer it).",
        "Do not add, delete, rename, move or edit the subject columns or the rows above the headings.",
        (
            "Pupils come from the school's roster only: update the roster from your MIS to add a pupil."
            if kind.roster_only
            else "You can add, delete and edit pupils; give every pupil a valid UPN, names, date of birth "
            "and gender (Female or Male)."
        ),
    ]
    if any(c.double_award for c in layout.subjects):
        lines.append(
            "Combined Science: two digits, highest first, nothing between them (e.g. 98, 54, 44). "
            "Ungraded is U."
        )
    if any("U" in c.outcomes for c in layout.subjects):
        lines.append("Ungraded or fail: use U only (not F, X or a blank).")
    if layout.reference_note:
        lines.append(f"Source: {layout.reference_note}")
    for row, line in enumerate(lines, start=1):
        write_cell(sheet, row, 0, line)
    table_row = len(lines) + 2
    columns = [
        "Column",
        "Heading",
        "Code",
        "Discount code",
        "Qualification",
        "Type",
        "EBacc pillar",
        "Valid results",
    ]
    widths = [8, 40, 12, 12, 60, 30, 16, 40]
    for index, (title, width) in enumerate(zip(columns, widths, strict=True)):
        write_cell(sheet, table_row, index, title, formats.header)
        sheet.set_column(index, index, width)
    first = _first_subject_column(layout)
    for offset, column in enumerate(layout.subjects):
        values = [
            column_letter(first + offset),
            column.header,
            column.code,
            column.discount_code,
            column.qualification,
            column.qualification_type,
            column.ebacc_pillar.replace("_", " "),
            _describe_valid(column),
        ]
        for index, text in enumerate(values):
            write_cell(sheet, table_row + 1 + offset, index, text)


def _describe_valid(column: SubjectColumn) -> str:
    parts = []
    if column.score is not None:
        parts.append(f"whole numbers {column.score.minimum} to {column.score.maximum}")
    if column.outcomes:
        parts.append(", ".join(column.outcomes))
    return "; or ".join(parts)


def write_template(
    layout: TemplateLayout,
    pupils: Sequence[TemplatePupil],
    *,
    school_name: str,
    dfe: str,
    made_on: date,
) -> bytes:
    """The .xlsx a school downloads from Get template, pre-filled with its pupils."""
    buffer = io.BytesIO()
    book = new_workbook(buffer)
    formats = _Formats(book)
    sheet = book.add_worksheet(RESULTS_SHEET)
    _write_headings(sheet, layout, formats, made_on)
    row = layout.heading_row
    for pupil in pupils:
        _write_pupil(sheet, layout, row, pupil, school_name, dfe, formats)
        row += 1
    lists: list[Worksheet] = []
    _dropdowns(book, sheet, layout, row + SPARE_ROWS, lists)
    sheet.freeze_panes(layout.heading_row, _first_subject_column(layout))
    _protect(sheet)
    _guidance(book, layout, formats, made_on)
    sheet.activate()
    book.close()
    return buffer.getvalue()


def _write_pupil(
    sheet: Worksheet,
    layout: TemplateLayout,
    row: int,
    pupil: TemplatePupil,
    school_name: str,
    dfe: str,
    formats: _Formats,
) -> None:
    values: dict[str, object] = {
        "organisation": school_name,
        "dfe": dfe,
        "key_stage": layout.kind.key_stage,
        "nc_year": "R" if pupil.nc_year == 0 else pupil.nc_year,
        "upn": pupil.upn,
        "forename": pupil.forename,
        "surname": pupil.surname,
        "dob_day": pupil.date_of_birth.day,
        "dob_month": pupil.date_of_birth.month,
        "dob_year": pupil.date_of_birth.year,
        "gender": {"F": "Female", "M": "Male"}.get(pupil.sex, ""),
    }
    for index, pupil_field in enumerate(layout.pupil_fields):
        if pupil_field.key == "dob":
            sheet.write_datetime(row, index, pupil.date_of_birth, formats.date)
            continue
        value = values[pupil_field.key]
        text_format = formats.text if pupil_field.key == "dfe" else formats.unlocked
        write_cell(sheet, row, index, value if isinstance(value, int) else str(value), text_format)


def write_error_workbook(layout: TemplateLayout, rows: list[list[object]], issues: Sequence[Issue]) -> bytes:
    """The school's file back, with each bad cell highlighted and commented and an Errors sheet
    listing every issue. Values are written back exactly as they were read."""
    buffer = io.BytesIO()
    book = new_workbook(buffer)
    formats = _Formats(book)
    errors = book.add_worksheet(ERRORS_SHEET)
    sheet = book.add_worksheet(RESULTS_SHEET)
    by_cell: dict[tuple[int, int], list[Issue]] = {}
    letters: dict[str, int] = {}
    for issue in issues:
        if issue.row is None or not issue.column:
            continue
        if issue.column not in letters:
            index = _column_index(issue.column)
            if index is None:
                continue
            letters[issue.column] = index
        by_cell.setdefault((issue.row - 1, letters[issue.column]), []).append(issue)
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            marked = by_cell.get((r, c))
            cell_format = None
            if marked:
                has_error = any(i.severity is Severity.ERROR for i in marked)
                cell_format = formats.bad if has_error else formats.warn
            write_cell(sheet, r, c, value, cell_format, date_format=formats.date)
    comments = 0
    for (r, c), marked in by_cell.items():
        if r >= len(rows) or c >= len(rows[r]):
            sheet.write_blank(r, c, None, formats.bad)
        if comments < MAX_COMMENTS:
            sheet.write_comment(r, c, "\n".join(i.message for i in marked), {"x_scale": 2, "y_scale": 1.5})
            comments += 1
    for index, pupil_field in enumerate(layout.pupil_fields):
        sheet.set_column(index, index, pupil_field.width)
    if not any(i.code.startswith(("structure.", "file.")) for i in issues):
        _dropdowns(book, sheet, layout, len(rows) + SPARE_ROWS, [])
    sheet.freeze_panes(layout.heading_row, _first_subject_column(layout))
    titles = ["Row", "Column", "Heading", "Value", "Code", "Severity", "Message"]
    widths = [6, 8, 30, 16, 30, 9, 90]
    write_cell(
        errors,
        0,
        0,
        f"{len(issues)} issue{'s' if len(issues) != 1 else ''} in this {layout.title} upload. "
        f"Fix the highlighted cells in the {RESULTS_SHEET} sheet, save, and upload again.",
        formats.bold,
    )
    for index, (title, width) in enumerate(zip(titles, widths, strict=True)):
        write_cell(errors, 2, index, title, formats.header)
        errors.set_column(index, index, width, formats.wrap if title == "Message" else None)
    for offset, issue in enumerate(issues, start=3):
        values = [
            issue.row,
            issue.column or "",
            issue.column_header or "",
            issue.value,
            issue.code,
            issue.severity.value,
            issue.message,
        ]
        for index, value in enumerate(values):
            write_cell(errors, offset, index, value if isinstance(value, int) else str(value or ""))
    errors.autofilter(2, 0, 2 + len(issues), len(titles) - 1)
    errors.freeze_panes(3, 0)
    errors.activate()
    book.close()
    return buffer.getvalue()


def _column_index(letters: str) -> int | None:
    if not letters.isalpha() or not letters.isupper() or len(letters) > 3:
        return None
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - 64)
    return index - 1
