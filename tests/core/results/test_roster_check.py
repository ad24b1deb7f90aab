"""Results checked against the roster: a UPN on the roster whose name, birth date, sex or year differ
in the file is warned about field by field (one mistyped UPN gives results to another child); a UPN
off the roster says so, and suggests the UPN of a roster pupil with the same name and birth date.
Warnings, listed first; the file can still be submitted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from keystage.core.pupils.model import build_upn
from keystage.core.results.roster import RosterPupil, UploadContext
from keystage.core.results.validation import validate_upload
from tests.core.results.conftest import DFE, cell_of, cohort, edited, template


def _roster(pupils) -> dict[str, RosterPupil]:
    return {
        p.upn: RosterPupil(p.upn, p.forename, p.surname, p.date_of_birth, p.sex, p.nc_year) for p in pupils
    }


def test_a_mistyped_upn_a_changed_birth_date_and_a_pupil_off_the_roster(layouts):
    layout = layouts["phonics"]  # Year 1
    pupils = cohort("phonics", 4)
    roster = _roster(pupils[:3])
    # The fourth is on the roster under another UPN: the file's UPN for them is mistyped.
    right_upn = build_upn("800", "2001", 15, 40)
    roster[right_upn] = RosterPupil(
        right_upn, pupils[3].forename, pupils[3].surname, pupils[3].date_of_birth, pupils[3].sex, 1
    )
    on_file = [
        replace(pupils[0], forename="Kid0", date_of_birth=date(pupils[0].date_of_birth.year, 3, 20)),
        pupils[1],
        pupils[2],
        pupils[3],
    ]

    def fill(sheet):
        mark = next(s.header for s in layout.subjects)
        for n in range(1, 5):
            sheet[cell_of(layout, mark, n)] = 35

    data = edited(template(layout, on_file), fill)
    report = validate_upload(data, layout, UploadContext(school_dfe=DFE, roster=roster))
    codes = [i.code for i in report.issues]
    first = pupils[0]
    differs = [i for i in report.issues if i.code == "pupil.roster_differs"]
    assert len(differs) == 2 and "this row's date of birth is “20 March" in differs[1].message
    assert differs[0].message.startswith(
        f"UPN {first.upn} is Pupil1 Smith, born 1 March {first.date_of_birth.year}, male, Year 1 on the "
        "school's roster; this row's forename is “Kid0”"
    )
    assert "a mistyped UPN gives the results to another child" in differs[0].message
    (meant,) = [i for i in report.issues if i.code == "pupil.roster_did_you_mean"]
    assert meant.value == pupils[3].upn and f"did you mean {right_upn}?" in meant.message
    assert "pupil.added" in codes  # off the roster: said so
    # Listed first, and only warnings: the file can be submitted.
    assert set(codes[:4]) == {"pupil.roster_differs", "pupil.roster_did_you_mean", "pupil.added"}
    assert report.valid


def test_each_difference_is_its_own_warning_on_its_cell(layouts):
    layout = layouts["phonics"]
    pupils = cohort("phonics", 2)
    roster = _roster(pupils)
    roster[pupils[0].upn] = replace(
        roster[pupils[0].upn], surname="Walker", date_of_birth=date(2019, 3, 2), sex="F", nc_year=2
    )

    def fill(sheet):
        mark = next(s.header for s in layout.subjects)
        for n in range(1, 3):
            sheet[cell_of(layout, mark, n)] = 35

    report = validate_upload(
        edited(template(layout, pupils), fill), layout, UploadContext(school_dfe=DFE, roster=roster)
    )
    differs = {i.column_header: i for i in report.issues if i.code == "pupil.roster_differs"}
    assert set(differs) >= {"Surname", "Gender"}
    assert "(the roster's: Walker)" in differs["Surname"].message
    assert any("date of birth" in i.message for i in differs.values())
    assert all(i.row == layout.heading_row + 1 for i in differs.values())
    assert report.valid
