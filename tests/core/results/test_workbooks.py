"""The template a school downloads and the error workbook it gets back, read as Excel would."""

from __future__ import annotations

import io
from dataclasses import replace

import openpyxl

from keystage.core.reference.frameworks import ScoreRange
from keystage.core.results.reading import read_grid
from keystage.core.results.roster import UploadContext
from keystage.core.results.validation import validate_upload
from keystage.core.results.workbooks import write_error_workbook
from tests.core.results.conftest import DFE, cell_of, cohort, edited, template


def _book(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_gcse_template_is_laid_out_as_seed_000_shows(layouts):
    layout = layouts["ks4-gcse"]
    book = _book(template(layout))
    assert book.sheetnames[:2] == ["Results", "Guidance"]
    sheet = book["Results"]
    assert sheet["A1"].value == "KS4 GCSE 2025/26" and sheet["B1"].value.startswith("Template v1")
    assert [sheet.cell(r, 11).value for r in range(1, 4)] == [
        "Discount code",
        "Subject code (QAN)",
        "Valid results",
    ]
    headings = [c.value for c in sheet[layout.heading_row]]
    assert headings[:11] == [
        "Organisation",
        "DfE Number",
        "Key Stage",
        "NC Year",
        "UPN",
        "Forename",
        "Surname",
        "Day",
        "Month",
        "Year",
        "Gender",
    ]
    assert len(headings) - 11 == len(layout.subjects) > 120
    maths = next(s for s in layout.subjects if s.header == "Mathematics (AQA)")
    column = headings.index("Mathematics (AQA)") + 1
    assert [sheet.cell(r, column).value for r in range(1, 4)] == ["RB1", maths.key, "9,8,7,6,5,4,3,2,1,U"]
    pupil = [c.value for c in sheet[layout.heading_row + 1]][:11]
    first = cohort("ks4-gcse")[0]
    assert pupil == ["School One", DFE, "4", 11, first.upn, first.forename, "Smith", 1, 3, 2010, "Male"]
    # Header cells locked under sheet protection; pupil and result cells open for editing.
    assert sheet.protection.sheet and sheet.protection.insertRows is False  # openpyxl: False = allowed
    assert (
        sheet.cell(1, column).protection.locked and sheet.cell(layout.heading_row, column).protection.locked
    )
    assert sheet.cell(layout.heading_row + 1, 5).protection.locked is False  # the pupil's UPN
    # A dropdown of valid results over every subject cell.
    lists = {
        str(dv.sqref).split(":")[0].rstrip("0123456789"): dv for dv in sheet.data_validations.dataValidation
    }
    letter = cell_of(layout, "Mathematics (AQA)").rstrip("0123456789")
    assert lists[letter].formula1 == '"9,8,7,6,5,4,3,2,1,U"'
    science = next(s for s in layout.subjects if s.double_award)
    science_letter = cell_of(layout, science.header).rstrip("0123456789")
    assert lists[science_letter].formula1.startswith('"99,98,88,87')
    assert len(sheet.data_validations.dataValidation) == len(layout.subjects)


def test_guidance_sheet_lists_every_subject_with_codes_and_valid_results(layouts):
    layout = layouts["ks4-non-gcse"]
    guidance = _book(template(layout))["Guidance"]
    rows = [[c.value for c in row] for row in guidance.iter_rows()]
    table = next(i for i, r in enumerate(rows) if r[0] == "Column")
    listed = rows[table + 1 :]
    assert len(listed) == len(layout.subjects)
    by_code = {r[2]: r for r in listed}
    for subject in layout.subjects:
        assert by_code[subject.key][1] == subject.header
        assert by_code[subject.key][3] == subject.discount_code
        assert by_code[subject.key][7].split(", ")[-1] == "U"
    assert any("2021 KS4 performance tables" in (r[0] or "") for r in rows[:table])


def test_long_dropdowns_live_on_a_hidden_list_sheet(layouts):
    phonics = layouts["phonics"]
    wide = replace(phonics.subjects[0], score=ScoreRange(0, 150))  # more than Excel's 255 characters
    layout = replace(phonics, subjects=(wide,))
    book = _book(template(layout))
    assert "Lists" in book.sheetnames and book["Lists"].sheet_state == "hidden"
    formulas = [dv.formula1 for dv in book["Results"].data_validations.dataValidation]
    assert any(f.startswith("Lists!") for f in formulas)


def test_error_workbook_is_the_schools_file_with_bad_cells_marked(layouts):
    layout = layouts["ks1"]

    def fill(sheet):
        sheet[cell_of(layout, "Teacher Assessment: KS1 Reading", 1)] = "EXS"
        sheet[cell_of(layout, "Teacher Assessment: KS1 Reading", 2)] = "exs"
        sheet[cell_of(layout, "Scaled Score: KS1 GPS", 3)] = 130

    data = edited(template(layout), fill)
    report = validate_upload(data, layout, UploadContext(school_dfe=DFE))
    book = _book(write_error_workbook(layout, read_grid(data).rows, report.issues))
    assert book.sheetnames[0] == "Errors"
    errors = [[c.value for c in row] for row in book["Errors"].iter_rows(min_row=4)]
    assert [(r[0], r[1], r[4]) for r in errors] == [(3, "H", "result.case"), (4, "N", "result.score_range")]
    sheet = book["Results"]
    bad, warned, fine = sheet["N4"], sheet["H3"], sheet["H2"]
    assert bad.value == 130 and "Range must be between 85 to 115" in bad.comment.text
    assert bad.fill.fgColor.rgb.endswith("F4B6B0") and warned.fill.fgColor.rgb.endswith("FFF2B3")
    assert fine.comment is None and fine.value == "EXS"
    # It is again a template: fixed and uploaded as it is, it validates.
    sheet["N4"] = 110
    sheet["H3"] = "EXS"
    out = io.BytesIO()
    book.save(out)
    fixed = validate_upload(out.getvalue(), layout, UploadContext(school_dfe=DFE))
    assert fixed.valid and fixed.issues == [], fixed.issues
