"""The one place that decides how keystage puts a value in a spreadsheet cell, for every workbook it
writes (reports, pupil lists, scatter, estimates, templates, error workbooks, synthetic fills).

Text is always written as text. A pupil called ``=HYPERLINK("http://evil.example/","x")``, ``+44 …``,
``-1``, ``@SUM(A1)`` or a value starting with a tab or carriage return opens in Excel and LibreOffice as
exactly those characters: never a formula, a link or a number. XlsxWriter's ``write()`` would turn such
strings into formulas (and ``http://`` text into links), and openpyxl stores a string starting with
``=`` as a formula, so neither is ever handed text to guess about.
"""

from __future__ import annotations

import math
from datetime import date
from typing import IO, Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

# Workbook options that stop XlsxWriter guessing from text, should any call reach ``write()``.
_NO_GUESSING = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def new_workbook(target: IO[bytes]) -> Workbook:
    """An in-memory XlsxWriter workbook that never reads text as a formula, a link or a number."""
    return xlsxwriter.Workbook(target, {"in_memory": True, **_NO_GUESSING})


def write_cell(
    sheet: Worksheet,
    row: int,
    col: int,
    value: object,
    cell_format: Any = None,
    *,
    date_format: Any = None,
) -> None:
    """``value`` into the cell as its own type: None or "" blank, a bool a boolean, a finite number a
    number, a date a date (in ``date_format`` unless ``cell_format`` is given), anything else text.
    A number that is not finite (NaN, infinity) has no cell value: it is written blank."""
    if value is None or value == "":
        if cell_format is not None:
            sheet.write_blank(row, col, None, cell_format)
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, cell_format)
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            sheet.write_blank(row, col, None, cell_format)
        else:
            sheet.write_number(row, col, value, cell_format)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, cell_format or date_format)
    else:
        sheet.write_string(row, col, str(value), cell_format)


def set_openpyxl_value(cell: Any, value: object) -> None:
    """The same rule for a cell of a workbook edited with openpyxl: text stays text (openpyxl would
    store a string starting with "=" as a formula)."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
