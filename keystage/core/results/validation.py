"""The validation engine: one set of rules (``rules.py``) for every format.

An upload is read into rows (``reading.py`` for spreadsheets and CSV, the CTF reader for CTFs), its
structure is checked against the collection's layout, then every pupil and every result is checked,
and every problem is reported, not just the first. What passes becomes ``PupilEntry`` rows with
canonical results, ready to store.

``validate_upload`` here runs a check and puts its issues in order. The checks are beside it:
spreadsheet_check.py (headings, columns and rows of a spreadsheet or CSV), ctf_check.py (a CTF),
pupil_checks.py (a pupil's fields and the roster), result_checks.py (a result against its column);
roster.py holds what is known of the uploader, validation_report.py what a check gives back, and
cells.py how a cell reads as the person sees it.
"""

from __future__ import annotations

from collections.abc import Sequence

from keystage.core.ctf.model import AssessmentMapping
from keystage.core.results import rules
from keystage.core.results.ctf_check import check_ctf
from keystage.core.results.layout import TemplateLayout
from keystage.core.results.reading import (
    DEFAULT_MAX_BYTES,
    Grid,
    UnreadableFileError,
    check_size,
    detect_format,
    read_grid,
    sheets_holding_upns,
)
from keystage.core.results.roster import UploadContext
from keystage.core.results.spreadsheet_check import check_spreadsheet
from keystage.core.results.validation_report import ValidationReport


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
            check_ctf(data, layout, context, mapping, report, max_bytes)
        else:
            grid = read_grid(data, max_bytes=max_bytes)
            report.rows = grid.rows
            report.issues.extend(grid.notes)
            check_spreadsheet(grid, layout, context, alternatives, report)
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
