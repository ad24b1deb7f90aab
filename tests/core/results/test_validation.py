"""The validation engine, through the files schools really upload: keystage's own template, filled
in and saved by a spreadsheet program, as CSV, as a CTF, and broken in the ways files get broken."""

from __future__ import annotations

import ast
import csv
import io
import re
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from keystage.core.ctf.model import CTFDocument, CTFHeader, CTFPupil, SchoolRef, StageResult, mapping_for
from keystage.core.ctf.writer import write_ctf
from keystage.core.pupils.model import build_upn
from keystage.core.results import rules
from keystage.core.results.reading import read_grid
from keystage.core.results.roster import RosterPupil, UploadContext
from keystage.core.results.rules import RULES
from keystage.core.results.validation import validate_upload
from tests.core.results.conftest import DFE, YEAR, cell_of, cohort, edited, template

SCHOOL = UploadContext(school_dfe=DFE, school_name="School One")


def codes(report) -> list[str]:
    return [issue.code for issue in report.issues]


def only(report, code):
    found = [issue for issue in report.issues if issue.code == code]
    assert len(found) == 1, report.issues
    return found[0]


def gcse_headers(layout):
    maths = next(s.header for s in layout.subjects if s.header.startswith("Mathematics"))
    science = next(s.header for s in layout.subjects if s.double_award)
    return maths, science


def test_a_filled_template_is_valid_and_its_results_are_read(layouts):
    layout = layouts["ks4-gcse"]
    maths, science = gcse_headers(layout)

    def fill(sheet):
        sheet[cell_of(layout, maths, 1)] = "7"
        sheet[cell_of(layout, science, 1)] = "54"
        sheet[cell_of(layout, maths, 2)] = 4  # typed as a number
        sheet[cell_of(layout, science, 2)] = "U"

    report = validate_upload(edited(template(layout), fill), layout, SCHOOL)
    assert report.valid, report.issues
    assert report.issues == []
    assert len(report.pupils) == 4
    first, second = report.pupils[0], report.pupils[1]
    maths_qan = next(s.key for s in layout.subjects if s.header == maths)
    science_qan = next(s.key for s in layout.subjects if s.header == science)
    assert first.results == {maths_qan: "7", science_qan: "54"}
    assert second.results == {maths_qan: "4", science_qan: "U"}
    assert first.upn == cohort("ks4-gcse")[0].upn and first.date_of_birth == date(2010, 3, 1)
    assert (first.sex, second.sex, first.nc_year, first.dfe) == ("M", "F", 11, DFE)


def test_the_blank_template_is_refused_with_one_message(layouts):
    report = validate_upload(template(layouts["ks4-gcse"]), layouts["ks4-gcse"], SCHOOL)
    assert codes(report) == ["structure.blank_template"]
    assert "blank template" in report.issues[0].message


def test_seed_001_scaled_score_out_of_range_is_reported_with_row_and_column(layouts):
    layout = layouts["ks1"]

    def fill(sheet):
        sheet[cell_of(layout, "Teacher Assessment: KS1 Reading", 1)] = "EXS"
        sheet[cell_of(layout, "Scaled Score: KS1 GPS", 3)] = 116  # row 4: heading row 1, third pupil
        sheet[cell_of(layout, "Scaled Score: KS1 Maths", 2)] = 100.5
        sheet[cell_of(layout, "Scaled Score: KS1 Reading", 2)] = "105"

    report = validate_upload(edited(template(layout), fill), layout, SCHOOL)
    gps = [i for i in report.issues if i.column_header == "Scaled Score: KS1 GPS"]
    assert len(gps) == 1
    assert gps[0].row == 4 and gps[0].code == "result.score_range"
    assert gps[0].message == "Range must be between 85 to 115 and be whole numbers. Allows empty field."
    assert gps[0].column == "N" and gps[0].value == "116"
    assert {i.column_header for i in report.errors} == {"Scaled Score: KS1 GPS", "Scaled Score: KS1 Maths"}
    assert report.pupils[1].results["ks1_reading_test"] == "105"


def test_seed_001_ks1_layout_matches_the_guidance(layouts):
    layout = layouts["ks1"]
    assert [f.header for f in layout.pupil_fields] == [
        "School DFE",
        "UPN",
        "Forename",
        "Surname",
        "Gender",
        "Date of birth",
        "NC Year",
    ]
    assert layout.subject_headers[:4] == [
        "Teacher Assessment: KS1 Reading",
        "Teacher Assessment: KS1 Writing",
        "Teacher Assessment: KS1 Maths",
        "Teacher Assessment: KS1 Science",
    ]
    rows = read_grid(template(layout)).rows
    assert rows[0][:7] == ["School DFE", "UPN", "Forename", "Surname", "Gender", "Date of birth", "NC Year"]
    assert rows[1][0] == DFE and rows[1][6] == 2.0 and rows[1][5] == date(2019, 3, 1)


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("5-4", "result.combined_science_format", "“54”"),
        ("4/3", "result.combined_science_format", "“43”"),
        ("5 4", "result.combined_science_format", "“54”"),
        ("45", "result.combined_science_order", "“54”"),
        ("5", "result.combined_science_single", "“55”"),
        ("F", "result.ungraded", "Use “U”"),
        ("X", "result.ungraded", "Use “U”"),
        ("94", "result.invalid", "Valid results: 99, 98"),
    ],
)
def test_seed_000_combined_science_rules(layouts, value, code, words):
    layout = layouts["ks4-gcse"]
    _, science = gcse_headers(layout)
    report = validate_upload(
        edited(template(layout), lambda s: s.__setitem__(cell_of(layout, science), value)), layout
    )
    issue = only(report, code)
    assert words in issue.message
    assert issue.severity == "error" and issue.column_header == science and issue.value == value
    assert not report.valid


@pytest.mark.parametrize(
    ("value", "code", "severity", "read"),
    [
        ("A*", "result.letter_grade", "error", None),
        ("C", "result.letter_grade", "error", None),
        ("F", "result.ungraded", "error", None),
        ("7.5", "result.decimal", "error", None),
        ("u", "result.case", "warning", "U"),
        ("7 ", "result.spaces", "warning", "7"),
        ("7.0", "result.decimal_point", "warning", "7"),
        ("10", "result.invalid", "error", None),
    ],
)
def test_seed_000_near_misses_in_a_9_to_1_column(layouts, value, code, severity, read):
    layout = layouts["ks4-gcse"]
    maths, _ = gcse_headers(layout)
    report = validate_upload(
        edited(template(layout), lambda s: s.__setitem__(cell_of(layout, maths), value)), layout
    )
    issue = only(report, code)
    assert issue.severity == severity
    assert report.valid == (severity == "warning")
    qan = next(s.key for s in layout.subjects if s.header == maths)
    assert report.pupils[0].results.get(qan) == read


def test_pupil_rules_each_report_their_own_cell(layouts):
    layout = layouts["ks4-gcse"]
    maths, _ = gcse_headers(layout)
    good = cohort("ks4-gcse")[0].upn

    def fill(sheet):
        sheet[cell_of(layout, maths, 1)] = "6"
        sheet[cell_of(layout, "UPN", 1)] = good[:-1] + ("A" if good[-1] != "A" else "B")
        sheet[cell_of(layout, "UPN", 2)] = good[0] + ("Z" if good[0] != "Z" else "Y") + good[2:]
        sheet[cell_of(layout, "DfE Number", 3)] = "8009999"
        sheet[cell_of(layout, "Key Stage", 3)] = 2
        sheet[cell_of(layout, "NC Year", 3)] = 10
        sheet[cell_of(layout, "Day", 4)] = 31
        sheet[cell_of(layout, "Month", 4)] = 2
        sheet[cell_of(layout, "Gender", 4)] = "F"
        sheet[cell_of(layout, "Forename", 2)] = None
        sheet[cell_of(layout, "Year", 2)] = 2012

    report = validate_upload(edited(template(layout), fill), layout, SCHOOL)
    found = {(i.code, i.row, i.column) for i in report.issues}
    heading = layout.heading_row
    assert (("dfe.other_school", heading + 3, "B")) in found
    assert ("key_stage.wrong", heading + 3, "C") in found
    assert ("nc_year.wrong", heading + 3, "D") in found
    assert ("dob.not_a_date", heading + 4, "H") in found
    assert ("gender.invalid", heading + 4, "K") in found
    assert ("forename.missing", heading + 2, "F") in found
    assert ("dob.year", heading + 2, "J") in found
    upn_codes = {i.code for i in report.issues if i.column == "E"}
    assert upn_codes <= {"upn.check_letter", "upn.invalid"} and len(upn_codes) >= 1
    assert "Year of birth must be 2009 or 2010 for Year 11 in 2025/26" in only(report, "dob.year").message
    assert "8009999 is not School One's (8002001)" in only(report, "dfe.other_school").message


def test_a_pupil_twice_and_pupils_off_the_roster(layouts):
    for key, expected in (
        ("ks1", ("pupil.not_on_roster", "error")),
        ("ks4-gcse", ("pupil.added", "warning")),
    ):
        layout = layouts[key]
        pupils = cohort(key, 3)
        roster = {p.upn: RosterPupil(p.upn) for p in pupils[:2]}
        first_result = layout.subjects[0]

        def fill(sheet, layout=layout, first_result=first_result, pupils=pupils):
            sheet[cell_of(layout, first_result.header, 1)] = first_result.dropdown()[0]
            row = layout.heading_row + 4
            for column, _ in enumerate(layout.pupil_fields, start=1):
                sheet.cell(row, column).value = sheet.cell(row - 3, column).value  # pupil 1 again

        report = validate_upload(
            edited(template(layout, pupils), fill), layout, UploadContext(school_dfe=DFE, roster=roster)
        )
        duplicate = only(report, "pupil.duplicate")
        assert (
            duplicate.row == layout.heading_row + 4 and f"row {layout.heading_row + 1}" in duplicate.message
        )
        off = only(report, expected[0])
        assert (off.severity, off.row, off.value) == (expected[1], layout.heading_row + 3, pupils[2].upn)


def test_structure_faults_each_get_one_clear_message(layouts):
    layout = layouts["ks4-gcse"]
    heading = layout.heading_row
    first = len(layout.pupil_fields) + 1  # openpyxl columns are 1-based

    def removed(sheet):
        sheet.delete_cols(first + 3)

    def added(sheet):
        sheet.cell(heading, first + len(layout.subjects)).value = "My own subject"

    def renamed(sheet):
        sheet.cell(heading, first + 2).value = "Maths (ours)"

    def swapped(sheet):
        a, b = sheet.cell(heading, first), sheet.cell(heading, first + 1)
        a.value, b.value = b.value, a.value

    def header_edited(sheet):
        sheet.cell(1, first + 5).value = "ZZZ"

    cases = {
        "structure.column_removed": removed,
        "structure.column_added": added,
        "structure.column_renamed": renamed,
        "structure.columns_reordered": swapped,
        "structure.header_edited": header_edited,
    }
    for code, change in cases.items():
        report = validate_upload(edited(template(layout), change), layout, SCHOOL)
        assert codes(report) == [code], (code, report.issues)
        assert report.issues[0].row is not None
    renamed_issue = validate_upload(edited(template(layout), renamed), layout).issues[0]
    assert renamed_issue.value == "Maths (ours)" and renamed_issue.column_header == "Maths (ours)"
    assert layout.subjects[2].header in renamed_issue.message


def test_another_collections_template_or_year_is_named(layouts, frameworks):
    from keystage.core.results.kinds import KINDS
    from keystage.core.results.layout import framework_layout

    report = validate_upload(template(layouts["ks2-ta"]), layouts["phonics"])
    assert codes(report) == ["structure.wrong_template"]
    assert "This is the KS2 TA template, but this upload is for Phonics" in report.issues[0].message
    # KS1 has no stamp: its headings give it away.
    others = [layouts[k] for k in ("ks1", "ks2-ta", "eyfsp")]
    report = validate_upload(template(layouts["ks1"]), layouts["eyfsp"], alternatives=others)
    assert codes(report) == ["structure.wrong_template"] and "KS1 template" in report.issues[0].message
    last_year = framework_layout(KINDS["phonics"], YEAR - 1, frameworks.for_year("phonics", YEAR - 1))
    report = validate_upload(template(last_year), layouts["phonics"])
    assert codes(report) == ["structure.wrong_year"] and "2024/25" in report.issues[0].message


def test_files_with_no_pupils_or_no_template_at_all(layouts):
    layout = layouts["phonics"]
    assert codes(validate_upload(template(layout, []), layout)) == ["structure.no_pupils"]
    report = validate_upload(b"name,score\nAnn,32\n", layout)
    assert codes(report) == ["structure.not_a_template"] and report.readable


def _as_csv(data: bytes, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in read_grid(data).rows:
        writer.writerow(
            ["" if v is None else (int(v) if isinstance(v, float) and v.is_integer() else v) for v in row]
        )
    return out.getvalue().encode(encoding)


def test_csv_of_the_template_validates_the_same_and_windows_encoding_is_read(layouts):
    layout = layouts["phonics"]
    pupils = cohort("phonics")
    pupils[0] = type(pupils[0])(pupils[0].upn, "Zoë", "Brontë", pupils[0].date_of_birth, "F", 1)

    def fill(sheet):
        sheet[cell_of(layout, "Phonics screening check mark", 1)] = 33
        sheet[cell_of(layout, "Phonics screening check mark", 2)] = 41

    data = edited(template(layout, pupils), fill)
    for encoding, warned in (("utf-8", False), ("cp1252", True)):
        report = validate_upload(_as_csv(data, encoding), layout)
        assert report.format == "csv"
        assert only(report, "result.score_range").row == layout.heading_row + 2
        assert ("file.encoding" in codes(report)) is warned
        assert report.pupils[0].forename == "Zoë" and report.pupils[0].results == {"phonics_mark": "33"}


def test_broken_and_hostile_files_are_refused_without_being_opened(layouts):
    layout = layouts["ks4-gcse"]
    good = template(layout)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (300 * 1024 * 1024))
    encrypted = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 512
        + "EncryptedPackage".encode("utf-16-le")
        + b"\x00" * 64
    )
    cases = {
        "file.empty": b"",
        "file.unreadable": good[: len(good) // 2],
        "file.suspicious_archive": bomb.getvalue(),
        "file.password_protected": encrypted,
        "file.too_large": b"x" * 1000,
    }
    for code, data in cases.items():
        report = validate_upload(data, layout, max_bytes=900 if code == "file.too_large" else 20_000_000)
        assert codes(report) == [code], (code, report.issues)
        assert not report.readable and not report.valid
        assert report.issues[0].row is None


def _ctf(results_by_pupil, la="800", estab="2001"):
    source = SchoolRef(la=la, estab=estab, urn="100001", name="School One", academic_year=YEAR - 1)
    header = CTFHeader(
        YEAR - 1 - 2000, datetime(YEAR, 6, 20, 10, 30), "partial", "mis", source, SchoolRef(la, "LLLL")
    )
    pupils = [
        CTFPupil(
            build_upn("800", "2001", 19, n),
            "Brown",
            f"Ann{n}",
            date(YEAR - 7, 3, n),
            "F",
            "1",
            results=tuple(r),
        )
        for n, r in enumerate(results_by_pupil, start=1)
    ]
    return write_ctf(CTFDocument(header, pupils))


def _phonics(mark: str) -> StageResult:
    entry = mapping_for(YEAR).entry_for("phonics_mark")
    return StageResult(
        entry.stage,
        "ENG",
        str(YEAR),
        entry.subject,
        entry.method,
        entry.component,
        "R",
        entry.result_qualifier,
        mark,
    )


def test_a_ctf_goes_through_the_same_rules(layouts):
    layout = layouts["phonics"]
    odd = StageResult("KS1", "ENG", str(YEAR), "XYZ", "TT", "Q", "R", "ZZ", "1")
    data = _ctf([[_phonics("35")], [_phonics("44")], [_phonics("a"), odd]])
    report = validate_upload(data, layout, SCHOOL, mapping=mapping_for(YEAR))
    assert report.format == "ctf"
    assert [p.results for p in report.pupils] == [{"phonics_mark": "35"}, {}, {"phonics_mark": "A"}]
    assert only(report, "result.score_range").row == 2
    assert only(report, "result.case").row == 3
    assert "XYZ" in only(report, "result.ctf_unmapped").message
    other_school = validate_upload(
        _ctf([[_phonics("35")]], estab="2002"), layout, SCHOOL, mapping=mapping_for(YEAR)
    )
    assert only(other_school, "dfe.other_school").column == "SourceSchool"
    refused = validate_upload(data, layouts["ks4-gcse"], SCHOOL)
    assert codes(refused) == ["file.ctf_not_accepted"] and not refused.readable


def test_every_rule_has_a_unique_code_and_a_message(layouts):
    assert len(RULES) > 40
    for code, rule in RULES.items():
        assert code == rule.code and "." in code and rule.message.strip()


# The readers that report through the rules, besides the upload engine.
READERS = (
    "keystage/core/ctf/reader.py",
    "keystage/core/ctf/roster.py",
    "keystage/core/pupils/roster_csv.py",
    "keystage/core/reference/ks4_catalogue.py",
    "keystage/core/estimates/ks5.py",
)


def test_every_code_the_readers_raise_is_declared_once():
    """Each rule a reader names is the registry's, its code declared by one rule only; no reader
    makes an issue but through a rule."""
    declared = Counter(rule.code for rule in RULES.values())
    assert [code for code, times in declared.items() if times > 1] == []
    source = Path(rules.__file__).read_text(encoding="utf-8")
    written = [m for m in re.findall(r'rule\(\s*"([a-z0-9_.]+)"', source)]
    assert len(written) == len(set(written))  # each literal code is written once
    named: set[str] = set()
    root = Path(rules.__file__).parents[3]
    for reader in READERS:
        tree = ast.parse((root / reader).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "rules"
            ):
                found = getattr(rules, node.attr)
                if isinstance(found, rules.Rule):
                    assert RULES[found.code] is found, (reader, node.attr)
                    named.add(found.code)
                elif isinstance(found, dict) and node.attr.isupper():
                    for rule in found.values():
                        assert RULES[rule.code] is rule, (reader, node.attr)
                        named.add(rule.code)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"Issue", "Rule"}, f"{reader} makes an issue without a rule"
    prefixes = {code.split(".")[0] for code in named}
    assert prefixes == {"ctf", "roster", "catalogue", "ks5"}
    assert len(named) >= 40
