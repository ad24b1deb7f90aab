"""Names that may not be what they look like are warned about where they come in (an upload's check,
a CTF's check) and kept exactly as written: one beginning as a spreadsheet formula does (=, +, -, @,
a tab or a carriage return), or one holding a hidden character."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef
from keystage.core.ctf.reader import check_ctf
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.pupils.names import odd_name
from keystage.core.results.validation import validate_upload
from keystage.core.workbook_cells import set_openpyxl_value
from tests.core.results.conftest import cell_of, cohort, edited, template


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ('=HYPERLINK("http://evil.example/","x")', "begins with “=”"),
        ("+cmd|' /C calc'!A0", "begins with “+”"),
        ("-2+3", "begins with “-”"),
        ("@SUM(1+1)", "begins with “@”"),
        ("\t=1+1", "begins with a tab"),
        ("Ann\u202eeJ", "holds a hidden character (U+202E)"),
        ("Jo\x07e", "holds a hidden character (U+0007)"),
    ],
)
def test_formula_starts_and_hidden_characters_are_named(name, reason):
    assert reason in (odd_name(name) or "")


@pytest.mark.parametrize("name", ["O'Brien", "Smith-Jones", "Zoë", "Nguyễn", "Mary Ann", "D'Souza-Ali"])
def test_ordinary_names_are_not(name):
    assert odd_name(name) is None


def test_an_upload_warns_on_each_and_keeps_the_name_as_written(layouts):
    layout = layouts["phonics"]

    def fill(sheet):  # typed as text, as a school's spreadsheet keeps it
        set_openpyxl_value(sheet[cell_of(layout, "Surname", 1)], '=HYPERLINK("http://evil.example/","x")')
        set_openpyxl_value(sheet[cell_of(layout, "Forename", 2)], "@SUM(1+1)")
        set_openpyxl_value(sheet[cell_of(layout, "Forename", 3)], "Ann\u202eeJ")

    report = validate_upload(edited(template(layout), fill), layout)
    odd = [i for i in report.issues if i.code in {"surname.odd", "forename.odd"}]
    assert [(i.code, i.severity) for i in odd] == [
        ("surname.odd", "warning"),
        ("forename.odd", "warning"),
        ("forename.odd", "warning"),
    ]
    assert odd[0].message.startswith('Surname “=HYPERLINK("http://evil.example/","x")” begins with “=”')
    assert "keeps it exactly as written, as text (never a formula)" in odd[0].message
    assert "Ann⟨U+202E⟩eJ" in odd[2].message
    # Warnings only: the file's errors are those of the same template with ordinary names.
    plain = validate_upload(template(layout), layout)
    assert [i.code for i in report.issues if i.severity == "error"] == [
        i.code for i in plain.issues if i.severity == "error"
    ]
    assert report.pupils[0].surname == '=HYPERLINK("http://evil.example/","x")'


def test_a_ctf_check_warns_on_each_name_and_still_passes():
    header = CTFHeader(
        25,
        datetime(2025, 6, 20),
        "partial",
        "Other MIS",
        SchoolRef(la="801", estab="2001", name="School One", academic_year=2024),
        SchoolRef(la="801", estab="LLLL"),
    )
    pupil = CTFPupil(
        upn=build_upn("801", "2001", 18, 1),
        surname="+cmd|' /C calc'!A0",
        forename="Ann",
        date_of_birth=date(2014, 10, 8),
        sex="F",
    )
    read = check_ctf(write_ctf(CTFDocument(header, [pupil])))
    assert read.errors == []
    (warning,) = read.warnings
    assert warning.path.endswith("Pupil[1]/Surname") and "begins with “+”" in warning.message
    assert read.document.pupils[0].surname == "+cmd|' /C calc'!A0"


def test_pupils_moved_to_another_sheet_are_found_and_the_sheet_named(layouts):
    """Nothing read silently wrong: not just "no pupil rows", but where the pupils are."""
    import io

    from openpyxl import load_workbook

    layout = layouts["phonics"]
    book = load_workbook(io.BytesIO(template(layout)))
    results = book["Results"]
    heading = layout.heading_row
    moved = book.create_sheet("My pupils")
    for row in results.iter_rows(min_row=heading + 1):
        moved.append([cell.value for cell in row])
        for cell in row:
            cell.value = None
    out = io.BytesIO()
    book.save(out)
    report = validate_upload(out.getvalue(), layout)
    (issue,) = [i for i in report.issues if i.code == "structure.pupils_on_another_sheet"]
    assert "The sheet “Results”, which keystage reads, has no pupils" in issue.message
    assert "the sheet “My pupils” holds 4 UPNs" in issue.message
    assert "structure.no_pupils" not in [i.code for i in report.issues]


def test_a_formula_with_no_saved_value_is_an_error_naming_its_cell(layouts):
    """openpyxl (and other tools) write formulas without working them out: read as blank, a score
    was dropped and a forename 'missing'. Now each is an error on its cell."""
    layout = layouts["phonics"]
    mark = next(s.header for s in layout.subjects)

    def fill(sheet):
        sheet[cell_of(layout, mark, 1)] = "=SUM(20,15)"
        sheet[cell_of(layout, "Forename", 2)] = '=CONCAT("A","nn")'

    report = validate_upload(edited(template(layout), fill), layout)
    formulas = [i for i in report.issues if i.code == "cell.formula_without_value"]
    assert [(i.row, i.column, i.value) for i in formulas] == [
        (layout.heading_row + 1, cell_of(layout, mark, 1).rstrip("0123456789"), "=SUM(20,15)"),
        (layout.heading_row + 2, cell_of(layout, "Forename", 2).rstrip("0123456789"), '=CONCAT("A","nn")'),
    ]
    assert "type the value, not a formula" in formulas[0].message
    assert "forename.missing" not in [i.code for i in report.issues]
    assert not report.valid


def _ks1_csv_with_dates(layouts, dates: list[str]) -> tuple[bytes, object]:
    import csv
    import io

    from keystage.core.results.reading import read_grid

    layout = layouts["ks1"]
    rows = read_grid(template(layout, cohort("ks1", len(dates)))).rows
    heading = layout.heading_row - 1
    dob = [str(c).strip() for c in rows[heading]].index("Date of birth")
    out = io.StringIO()
    writer = csv.writer(out)
    for n, row in enumerate(rows):
        row = ["" if v is None else v for v in row]
        if heading < n <= heading + len(dates):
            row[dob] = dates[n - heading - 1]
        writer.writerow(row)
    return out.getvalue().encode(), layout


def test_csv_dates_that_could_be_read_either_way_are_errors_unless_the_file_settles_it(layouts):
    import datetime as dt

    born = cohort("ks1", 1)[0].date_of_birth.year
    # Only ambiguous dates: each is an error saying both readings.
    data, layout = _ks1_csv_with_dates(layouts, [f"05/03/{born}", f"03/04/{born}"])
    report = validate_upload(data, layout)
    ambiguous = [i for i in report.issues if i.code == "dob.ambiguous"]
    assert len(ambiguous) == 2
    assert f"could be 5 March {born} or 3 May {born}" in ambiguous[0].message
    assert f"Write it as {born}-03-05" in ambiguous[0].message
    # A day above 12 first settles day-first: the ambiguous date is read so, with no issue.
    data, layout = _ks1_csv_with_dates(layouts, [f"05/03/{born}", f"25/04/{born}"])
    report = validate_upload(data, layout)
    assert not [i for i in report.issues if i.code.startswith("dob.")]
    assert report.pupils[0].date_of_birth == dt.date(born, 3, 5)
    # A day above 12 second (and none first) settles month-first, as US settings save: said once.
    data, layout = _ks1_csv_with_dates(layouts, [f"05/03/{born}", f"04/25/{born}"])
    report = validate_upload(data, layout)
    (said,) = [i for i in report.issues if i.code.startswith("dob.")]
    assert said.code == "dob.month_first" and said.severity == "warning"
    assert [p.date_of_birth for p in report.pupils] == [dt.date(born, 5, 3), dt.date(born, 4, 25)]
