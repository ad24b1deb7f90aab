"""Filling a template with synthetic results: plausible, valid, reproducible, the workbook kept as keystage
wrote it; and the mistakes planted on request are the ones validation then reports."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date

import openpyxl
import pytest

from keystage.core.pupils.model import build_upn
from keystage.core.results.fill import FillError, fill_template
from keystage.core.results.kinds import KINDS
from keystage.core.results.validation import validate_upload
from keystage.core.results.workbooks import TemplatePupil
from tests.core.results.conftest import YEAR, template


def _pupils(kind_key: str, count: int) -> list[TemplatePupil]:
    """A year group (both years for phonics), born inside the cohort's span."""
    kind = KINDS[kind_key]
    pupils = []
    for n in range(1, count + 1):
        nc_year = kind.nc_years[n % len(kind.nc_years)]
        born = date(YEAR - nc_year - 5, 1 + n % 8, 1 + n % 28)
        pupils.append(
            TemplatePupil(build_upn("800", "2001", 15, n), f"Pupil{n}", "Smith", born, "FM"[n % 2], nc_year)
        )
    return pupils


def _results(data: bytes, layout) -> dict[tuple[int, str], object]:
    """Every filled subject cell: (row, heading) -> value as stored."""
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Results"]
    first = len(layout.pupil_fields)
    cells = {}
    for row in sheet.iter_rows(min_row=layout.heading_row + 1, min_col=first + 1, values_only=False):
        for cell in row:
            if cell.value is not None:
                cells[(cell.row, layout.subjects[cell.column - first - 1].header)] = cell.value
    return cells


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_filled_template_of_every_collection_is_valid_for_every_pupil(layouts, kind):
    layout = layouts[kind]
    filled = fill_template(template(layout, _pupils(kind, 60)), layout, seed=11)
    report = validate_upload(filled.data, layout)
    assert report.valid, [i.as_dict() for i in report.issues[:5]]
    assert report.issues == [] and len(report.pupils) == 60 == filled.pupils
    assert filled.results == sum(len(p.results) for p in report.pupils) > 0
    assert filled.mistakes == []


def test_the_same_seed_gives_the_same_results_and_another_seed_others(layouts):
    layout = layouts["ks1"]
    data = template(layout, _pupils("ks1", 30))
    first = _results(fill_template(data, layout, seed=5).data, layout)
    assert _results(fill_template(data, layout, seed=5).data, layout) == first
    assert _results(fill_template(data, layout, seed=6).data, layout) != first


def test_gcse_pupils_take_about_ten_subjects_from_one_board_each_with_realistic_grades(layouts):
    layout = layouts["ks4-gcse"]
    filled = fill_template(template(layout, _pupils("ks4-gcse", 200)), layout, seed=2026)
    cells = _results(filled.data, layout)
    per_pupil = Counter(row for row, _ in cells)
    assert len(per_pupil) == 200
    mean = sum(per_pupil.values()) / 200
    assert 8.5 <= mean <= 10.5 and min(per_pupil.values()) >= 5 and max(per_pupil.values()) <= 13
    columns = Counter(header for _, header in cells)
    # The school teaches one English language, one maths, one combined science specification.
    english = {h for h in columns if h.startswith("English Language")}
    maths = {h for h in columns if h.startswith("Mathematics")}
    combined = {h for h in columns if h.startswith("Combined Science")}
    assert len(english) == len(maths) == len(combined) == 1
    assert columns[english.pop()] == columns[maths.pop()] == 200  # everyone
    literature = sum(n for h, n in columns.items() if h.startswith("English Literature"))
    assert 170 <= literature <= 200
    sciences = {row for (row, h) in cells if h.startswith(("Combined Science", "Biology"))}
    assert len(sciences) >= 180  # most take combined science or the three sciences
    assert len(columns) <= 25  # of the template's 132 columns, the school's own offer
    maths_grades = [str(v) for (_, h), v in cells.items() if h.startswith("Mathematics")]
    passed = sum(1 for g in maths_grades if g != "U" and int(g) >= 4) / len(maths_grades)
    assert 0.55 <= passed <= 0.85  # nationally about seven in ten reach grade 4
    double = [str(v) for (_, h), v in cells.items() if h.startswith("Combined Science")]
    assert all(d == "U" or (len(d) == 2 and int(d[0]) - int(d[1]) in (0, 1)) for d in double)


def test_phonics_year_1_mostly_meets_the_standard_and_year_2_retakes_only_when_needed(layouts):
    layout = layouts["phonics"]
    pupils = _pupils("phonics", 200)
    year_of = {layout.heading_row + 1 + i: p.nc_year for i, p in enumerate(pupils)}
    data = template(layout, pupils)
    met = []
    for seed in range(6):  # six schools: intakes differ, as they do nationally
        cells = _results(fill_template(data, layout, seed=seed).data, layout)
        year1 = [v for (row, _), v in cells.items() if year_of[row] == 1]
        assert len(year1) == 100  # every Year 1 pupil takes the check
        met.append(sum(1 for v in year1 if isinstance(v, int) and v >= 32) / len(year1))
        retakes = [row for (row, _) in cells if year_of[row] == 2]
        assert len(retakes) < 50  # only those who did not meet it in Year 1
    assert 0.72 <= sum(met) / len(met) <= 0.88  # nationally about eight in ten
    assert len(set(met)) > 1


def test_the_workbook_keeps_its_dropdowns_protection_guidance_and_stamp(layouts):
    layout = layouts["ks4-gcse"]
    data = template(layout, _pupils("ks4-gcse", 10))
    before = openpyxl.load_workbook(io.BytesIO(data))
    after = openpyxl.load_workbook(io.BytesIO(fill_template(data, layout, seed=1).data))
    assert after.sheetnames == before.sheetnames == ["Results", "Guidance"]
    sheet = after["Results"]
    assert sheet["A1"].value == "KS4 GCSE 2025/26" and sheet["B1"].value.startswith("Template v1")
    assert len(sheet.data_validations.dataValidation) == len(layout.subjects)
    assert sheet.protection.sheet and sheet.freeze_panes == before["Results"].freeze_panes
    heading = sheet.cell(row=layout.heading_row, column=len(layout.pupil_fields) + 1)
    assert heading.value == layout.subjects[0].header and heading.protection.locked
    first = len(layout.pupil_fields)
    filled = [
        c
        for row in sheet.iter_rows(min_row=layout.heading_row + 1, min_col=first + 1)
        for c in row
        if c.value
    ]
    assert filled and not any(c.protection.locked for c in filled)  # still editable in Excel
    assert after["Guidance"]["A1"].value == before["Guidance"]["A1"].value


@pytest.mark.parametrize("kind", ["ks4-gcse", "ks4-non-gcse", "ks1", "ks2-ta", "phonics", "eyfsp"])
def test_planted_mistakes_are_exactly_what_validation_reports(layouts, kind):
    layout = layouts[kind]
    filled = fill_template(template(layout, _pupils(kind, 40)), layout, seed=8, errors=6)
    assert len(filled.mistakes) == 6
    assert filled.mistakes[0].severity.value == "error"  # so the file is never valid
    report = validate_upload(filled.data, layout)
    assert not report.valid
    assert Counter(i.code for i in report.issues) == Counter(m.code for m in filled.mistakes)
    where = {(i.row, i.column) for i in report.issues}
    assert {(m.row, m.column) for m in filled.mistakes} == where


def test_gcse_mistakes_are_the_ones_schools_make(layouts):
    layout = layouts["ks4-gcse"]
    filled = fill_template(template(layout, _pupils("ks4-gcse", 60)), layout, seed=4, errors=10)
    values = {m.code: m.value for m in filled.mistakes}
    assert set(values) == {
        "result.combined_science_format",
        "result.combined_science_order",
        "result.letter_grade",
        "result.decimal",
        "result.ungraded",
        "result.case",
        "result.spaces",
        "upn.check_letter",
        "pupil.duplicate",
        "gender.invalid",
    }
    assert str(values["result.combined_science_format"])[1] == "-"  # e.g. "5-4"
    assert values["result.letter_grade"] in {"A*", "A", "B", "C", "D", "E"}
    assert values["result.case"] == "u" or str(values["result.case"]).islower()
    assert str(values["result.spaces"]).endswith(" ")
    assert isinstance(values["result.decimal"], float)
    report = validate_upload(filled.data, layout)
    assert any(
        "write Combined Science" in i.message or "Combined Science" in i.message for i in report.issues
    )


def test_more_mistakes_than_a_small_file_can_hold_stops_without_breaking_it(layouts):
    layout = layouts["phonics"]
    filled = fill_template(template(layout, _pupils("phonics", 2)), layout, seed=1, errors=40)
    assert 0 < len(filled.mistakes) < 40
    report = validate_upload(filled.data, layout)
    assert Counter(i.code for i in report.issues) == Counter(m.code for m in filled.mistakes)


def test_what_cannot_be_filled_says_why(layouts):
    phonics = layouts["phonics"]
    with pytest.raises(FillError, match=r"not an \.xlsx workbook"):
        fill_template(b"UPN,Forename\n", phonics)
    with pytest.raises(
        FillError,
        match="not keystage's Phonics 2025/26 template: column A of row 3 is “8002001”, not “Organisation”",
    ):
        fill_template(template(layouts["ks1"], _pupils("ks1", 2)), phonics)
    with pytest.raises(FillError, match="this is the KS2 TA 2025/26 template, not Phonics 2025/26"):
        fill_template(template(layouts["ks2-ta"], _pupils("ks2-ta", 2)), phonics)
    with pytest.raises(FillError, match="has no pupils"):
        fill_template(template(phonics, []), phonics)
    with pytest.raises(FillError, match="cannot be negative"):
        fill_template(template(phonics, _pupils("phonics", 2)), phonics, errors=-1)
