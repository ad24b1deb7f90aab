"""The one cell writer: text is text whatever it starts with, numbers are numbers, a number that is not
finite is no value at all, and a workbook edited with openpyxl keeps text as text too."""

from __future__ import annotations

import io
import math
import zipfile
from datetime import date

import openpyxl
from python_calamine import CalamineWorkbook

from keystage.core.workbook_cells import new_workbook, set_openpyxl_value, write_cell

TEXTS = ['=HYPERLINK("http://evil.example/","x")', "+1", "-1", "@A1", "\t=1", "\r=1", "http://evil.example/"]


def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return book.read("xl/worksheets/sheet1.xml").decode()


def test_each_value_is_written_as_its_own_type_and_text_never_as_a_formula():
    buffer = io.BytesIO()
    book = new_workbook(buffer)
    sheet = book.add_worksheet("Values")
    dates = book.add_format({"num_format": "dd/mm/yyyy"})
    row_values = [*TEXTS, 7, 2.5, True, date(2026, 9, 1), math.nan, math.inf, None, ""]
    for row, value in enumerate(row_values):
        write_cell(sheet, row, 0, value, date_format=dates)
    book.close()
    data = buffer.getvalue()
    assert "<f>" not in _sheet_xml(data) and "hyperlink" not in _sheet_xml(data).lower()
    read = [
        r[0] if r else ""
        for r in CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Values").to_python()
    ]
    assert read[: len(TEXTS)] == TEXTS
    assert read[len(TEXTS) : len(TEXTS) + 4] == [7, 2.5, True, date(2026, 9, 1)]
    assert all(value == "" for value in read[len(TEXTS) + 4 :])  # NaN and infinity have no value


def test_a_workbook_edited_with_openpyxl_keeps_text_as_text():
    book = openpyxl.Workbook()
    sheet = book.active
    for row, text in enumerate(TEXTS, start=1):
        set_openpyxl_value(sheet.cell(row=row, column=1), text)
    set_openpyxl_value(sheet.cell(row=1, column=2), 41)
    out = io.BytesIO()
    book.save(out)
    assert "<f>" not in _sheet_xml(out.getvalue())
    again = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert [again.cell(row=r, column=1).data_type for r in range(1, len(TEXTS) + 1)] == ["s"] * len(TEXTS)
    assert again.cell(row=1, column=1).value == TEXTS[0] and again.cell(row=1, column=2).value == 41
