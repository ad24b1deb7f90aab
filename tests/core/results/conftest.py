"""Layouts built from the shipped frameworks and DfE's 2019 catalogue, and helpers that make the
files schools upload: a template from keystage, edited the way a person edits it (openpyxl)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import openpyxl
import pytest

from keystage.core.pupils.model import build_upn
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.results.kinds import KINDS
from keystage.core.results.layout import TemplateLayout, framework_layout, ks4_layout
from keystage.core.results.workbooks import TemplatePupil, write_template
from tests.core.reference.test_ks4_catalogue import DFE_2019

YEAR = 2026
DFE = "8002001"
MADE_ON = date(2026, 6, 1)


@pytest.fixture(scope="session")
def frameworks() -> FrameworkLibrary:
    return FrameworkLibrary.from_directory()


@pytest.fixture(scope="session")
def catalogue():
    return import_dfe_2019_folder(DFE_2019)


@pytest.fixture(scope="session")
def layouts(frameworks, catalogue) -> dict[str, TemplateLayout]:
    gcse = frameworks.for_year("ks4-gcse", YEAR)
    built = {}
    for key, kind in KINDS.items():
        if key.startswith("ks4"):
            built[key] = ks4_layout(kind, YEAR, catalogue, gcse)
        else:
            built[key] = framework_layout(kind, YEAR, frameworks.for_year(kind.framework, YEAR))
    return built


def cohort(kind_key: str, count: int = 4) -> list[TemplatePupil]:
    nc_year = KINDS[kind_key].nc_years[0]
    born_year = YEAR - nc_year - 5
    return [
        TemplatePupil(
            build_upn("800", "2001", 15, n), f"Pupil{n}", "Smith", date(born_year, 3, n), "FM"[n % 2], nc_year
        )
        for n in range(1, count + 1)
    ]


def template(layout: TemplateLayout, pupils: list[TemplatePupil] | None = None) -> bytes:
    return write_template(
        layout,
        cohort(layout.kind.key) if pupils is None else pupils,
        school_name="School One",
        dfe=DFE,
        made_on=MADE_ON,
    )


def edited(data: bytes, change: Callable[[openpyxl.worksheet.worksheet.Worksheet], None]) -> bytes:
    """The workbook after a person's edit of its Results sheet, saved by a spreadsheet program."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    change(book["Results"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell_of(layout: TemplateLayout, header: str, pupil: int = 1) -> str:
    """The A1-style reference of a column's cell for the n-th pupil."""
    from keystage.core.results.cells import column_letter

    headers = [f.header for f in layout.pupil_fields] + layout.subject_headers
    return f"{column_letter(headers.index(header))}{layout.heading_row + pupil}"
