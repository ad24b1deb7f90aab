"""A template keystage wrote, filled with plausible synthetic results: `keystage synth fill-template`.

Every pupil already in the template gets results drawn the way the synthetic year draws them
(synthetic_results.py); the columns a pupil does not take are left blank as not entered. With
``errors`` the filled file also carries realistic mistakes (planted_mistakes.py), each named with
the issue code validation gives it.

The workbook is edited in place with openpyxl (needed only here, and imported only when a template
is filled), so the template's dropdowns, protection, guidance sheet and stamp survive.
"""

from __future__ import annotations

import io
import re
import zipfile
from copy import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from keystage.core.refusals import Refused
from keystage.core.results.cells import cell_text, column_letter
from keystage.core.results.layout import TemplateLayout
from keystage.core.results.planted_mistakes import FilledSheet, Mistake, plant_mistakes
from keystage.core.results.synthetic_results import Cell, PupilRow, synthetic_results
from keystage.core.results.workbooks import RESULTS_SHEET
from keystage.core.workbook_cells import set_openpyxl_value


class FillError(Refused, ValueError):
    """The file cannot be filled; str() says why, for the person running the command."""


@dataclass
class FilledTemplate:
    data: bytes
    pupils: int
    results: int  # cells filled with a valid result
    results_per_pupil: list[int]
    mistakes: list[Mistake]
    errors_asked: int


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
    sheet = FilledSheet(layout, pupils, next_row=last + 1)
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
