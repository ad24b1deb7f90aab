"""A report as an Excel workbook: a cover sheet saying what it is (organisation, key stage, year, the
filters applied, where the national figures come from), then one formatted sheet per table, as shown
on the page."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from keystage.core.workbook_cells import new_workbook, write_cell


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]


def report_workbook(title: str, about: Sequence[tuple[str, str]], tables: Sequence[Table]) -> bytes:
    """``about``: (label, text) lines for the cover sheet, e.g. ("Filters applied", "Gender: Male.")."""
    buffer = io.BytesIO()
    book = new_workbook(buffer)
    heading = book.add_format({"bold": True, "font_size": 14})
    label = book.add_format({"bold": True, "valign": "top"})
    wrapped = book.add_format({"text_wrap": True, "valign": "top"})
    header = book.add_format({"bold": True, "bg_color": "#F3F2F1", "border": 1, "text_wrap": True})
    cell = book.add_format({"border": 1})
    cover = book.add_worksheet("About")
    cover.set_column(0, 0, 24)
    cover.set_column(1, 1, 100)
    write_cell(cover, 0, 0, title, heading)
    for row, (name, text) in enumerate(about, start=2):
        write_cell(cover, row, 0, name, label)
        write_cell(cover, row, 1, text, wrapped)
    used: set[str] = {"About"}
    for table in tables:
        sheet = book.add_worksheet(_sheet_name(table.title, used))
        write_cell(sheet, 0, 0, table.title, heading)
        for col, name in enumerate(table.columns):
            write_cell(sheet, 2, col, name, header)
            width = max([len(str(name))] + [len(str(r[col])) for r in table.rows if col < len(r)] + [8])
            sheet.set_column(col, col, min(width + 2, 60))
        for row, values in enumerate(table.rows, start=3):
            for col, value in enumerate(values):
                write_cell(sheet, row, col, value, cell)
        sheet.freeze_panes(3, 1)
    book.close()
    return buffer.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    """Excel's sheet names: at most 31 characters, none of []:*?/\\, and each different."""
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:28] or "Sheet"
    name, number = base, 2
    while name.lower() in {u.lower() for u in used}:
        name = f"{base[:26]} {number}"
        number += 1
    used.add(name)
    return name
