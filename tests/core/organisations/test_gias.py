"""Reading GIAS's establishment file: by column name, in DfE's encoding, taking state-funded schools
and saying why every other row is skipped, and naming each row it cannot use."""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from keystage.core.organisations import gias
from keystage.core.organisations.gias import read_gias
from keystage.core.organisations.gias_format import ESTABLISHMENT_TYPES, GIAS_COLUMNS
from tests.core.organisations.gias_files import NENE, england_sample, gias_bytes, row


def _by_urn(parsed: gias.GiasFile) -> dict[str, gias.School]:
    return {s.urn: s for s in parsed.schools}


def test_a_sample_of_england_is_read_by_column_name_in_windows_1252():
    data = gias_bytes(england_sample())
    # é and the curly apostrophe as DfE's encoding writes them
    assert "Café".encode("cp1252") in data and b"\x92" in data
    parsed = read_gias(data)
    assert parsed.ok and parsed.encoding == "Windows-1252" and parsed.rows == 18
    schools = _by_urn(parsed)
    assert set(schools) == {
        "100001", "100002", "100003", "100004", "100005", "100006", "100013", "100014", "100016", "100017"
    }  # fmt: skip
    academy = schools["100002"]
    assert (academy.name, academy.dfe_number, academy.la_code) == ("Café Lumière Academy", "9414001", "941")
    assert (academy.phase, academy.school_type, academy.establishment_type) == (
        "secondary",
        "academy",
        "Academy converter",
    )
    assert (academy.trust_uid, academy.statutory_low_age, academy.statutory_high_age) == ("5001", 11, 18)
    assert academy.is_open and academy.closed_on is None and academy.opened_on == date(2012, 9, 1)
    assert schools["100003"].name == "St Peter\u2019s Free School"
    assert schools["100003"].school_type == "free_school"
    assert {la.code: la.name for la in parsed.las} == {
        "838": "Dorset",
        "839": "Bournemouth, Christchurch and Poole",
        "940": "North Northamptonshire",
        "941": "West Northamptonshire",
        "942": "Cumberland",
        "943": "Westmorland and Furness",
    }
    assert {(t.uid, t.name) for t in parsed.trusts} == {NENE, ("5002", "Rockingham Schools Trust")}


def test_the_column_order_does_not_matter():
    records = england_sample()
    shuffled = read_gias(gias_bytes(records))
    in_dfe_order = read_gias(gias_bytes(records, columns=GIAS_COLUMNS))
    backwards = read_gias(gias_bytes(records, columns=tuple(reversed(GIAS_COLUMNS))))
    assert len(GIAS_COLUMNS) >= 130
    strip = [(s.urn, s.name, s.dfe_number, s.phase, s.trust_uid) for s in shuffled.schools]
    assert strip == [(s.urn, s.name, s.dfe_number, s.phase, s.trust_uid) for s in in_dfe_order.schools]
    assert strip == [(s.urn, s.name, s.dfe_number, s.phase, s.trust_uid) for s in backwards.schools]


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_a_file_re_saved_as_utf8_reads_the_same(bom):
    parsed = read_gias(bom + gias_bytes(england_sample(), encoding="utf-8"))
    assert parsed.ok and parsed.encoding == "UTF-8"
    assert _by_urn(parsed)["100002"].name == "Café Lumière Academy"
    assert _by_urn(parsed)["100003"].name == "St Peter\u2019s Free School"


# Every type GIAS has, by group: what keystage makes of it, without and with independents.
TAKEN = {
    "Local authority maintained schools": "maintained",
    "Academies": "academy",
    "Free Schools": "free_school",
}
EXPECTED_TYPE = {
    name: TAKEN.get(group) for name, (_code, _group_code, group) in ESTABLISHMENT_TYPES.items()
} | {
    "Community special school": "maintained",
    "Foundation special school": "maintained",
    "City technology college": "academy",
}


@pytest.mark.parametrize("type_name", sorted(ESTABLISHMENT_TYPES))
def test_each_type_of_every_group_is_taken_only_if_state_funded(type_name):
    record = row("110000", "A", type_name=type_name, phase="Not applicable", ages=(5, 16))
    for include_independent in (False, True):
        parsed = read_gias(gias_bytes([record]), include_independent=include_independent)
        assert parsed.ok
        expected = EXPECTED_TYPE[type_name]
        if include_independent and type_name in {
            "Other independent school",
            "Other independent special school",
            "Non-maintained special school",
        }:
            expected = "independent"
        if expected is None:
            assert parsed.schools == []
            (skipped,) = parsed.skipped
            assert skipped.reason.startswith(f"{type_name} is not taken: keystage takes state-funded schools")
        else:
            (school,) = parsed.schools
            assert school.school_type == expected and parsed.skipped == []


def test_the_groups_that_are_taken_and_those_that_are_not():
    groups = {group for _code, _group_code, group in ESTABLISHMENT_TYPES.values()}
    assert groups == {
        "Local authority maintained schools",
        "Academies",
        "Free Schools",
        "Special schools",
        "Independent schools",
        "Colleges",
        "Universities",
        "Welsh schools",
        "Other types",
        "Online provider",
    }
    # Special schools: state-funded ones only; independent schools: city technology colleges only.
    assert {
        t
        for t, (_c, _g, group) in ESTABLISHMENT_TYPES.items()
        if group == "Special schools" and EXPECTED_TYPE[t]
    } == {
        "Community special school",
        "Foundation special school",
    }
    assert [
        t
        for t, (_c, _g, group) in ESTABLISHMENT_TYPES.items()
        if group == "Independent schools" and EXPECTED_TYPE[t]
    ] == ["City technology college"]
    assert {g for t, (_c, _g, g) in ESTABLISHMENT_TYPES.items() if EXPECTED_TYPE[t]} == {
        "Local authority maintained schools",
        "Academies",
        "Free Schools",
        "Special schools",
        "Independent schools",
    }


def test_the_reason_for_every_row_not_taken_is_given():
    parsed = read_gias(gias_bytes(england_sample()))
    reasons = {s.urn: s.reason for s in parsed.skipped}
    assert reasons["100007"] == (
        "Other independent school is not taken: keystage takes state-funded schools "
        "(independent schools only when asked to include them)"
    )
    assert reasons["100008"] == "Further education is not taken: keystage takes state-funded schools"
    assert reasons["100009"].endswith("state-funded schools in England")
    assert reasons["100010"].startswith("Children's centre is not taken")
    assert reasons["100011"].startswith("Online provider is not taken")
    assert reasons["100012"] == "Proposed to open: taken once GIAS records it open"
    assert reasons["100018"].startswith("Higher education institutions is not taken")
    assert {s.row for s in parsed.skipped} | {s.row for s in parsed.schools} == set(range(2, 20))


def test_a_new_type_in_a_taken_group_is_taken_by_its_group():
    parsed = read_gias(gias_bytes([row("110001", "B", type_name="Academy something new", group="Academies")]))
    assert [s.school_type for s in parsed.schools] == ["academy"]
    parsed = read_gias(gias_bytes([row("110002", "C", type_name="Special novelty", group="Special schools")]))
    assert parsed.schools == [] and parsed.skipped[0].reason.startswith("Special novelty is not taken")


@pytest.mark.parametrize(
    ("phase", "ages", "type_name", "expected"),
    [
        ("Nursery", (2, 5), "Local authority nursery school", "nursery"),
        ("Primary", (4, 11), "Community school", "primary"),
        ("Middle deemed primary", (8, 12), "Community school", "middle"),
        ("Middle deemed secondary", (9, 13), "Community school", "middle"),
        ("Secondary", (11, 16), "Community school", "secondary"),
        ("16 plus", (16, 19), "Academy 16-19 converter", "sixteen_plus"),
        ("All-through", (4, 18), "Academy converter", "all_through"),
        ("Not applicable", (2, 19), "Community special school", "special"),
        ("Secondary", (11, 19), "Academy special converter", "special"),  # special types are special
        ("Not applicable", (5, 11), "Pupil referral unit", "primary"),
        ("Not applicable", (11, 16), "Academy alternative provision converter", "secondary"),
        ("Not applicable", (16, 18), "Free schools alternative provision", "sixteen_plus"),
        ("Not applicable", (5, 16), "Pupil referral unit", "all_through"),
        ("Not applicable", ("", ""), "Pupil referral unit", "all_through"),
    ],
)
def test_phases(phase, ages, type_name, expected):
    parsed = read_gias(gias_bytes([row("110003", "D", phase=phase, ages=ages, type_name=type_name)]))
    assert [s.phase for s in parsed.schools] == [expected]


def test_statuses_open_closed_and_the_dfe_number_padded():
    parsed = read_gias(
        gias_bytes(
            [
                row("110004", "Open one", number="12"),
                row(
                    "110005",
                    "Closing",
                    number="2005",
                    status="Open, but proposed to close",
                    closed="31-08-2027",
                ),
                row(
                    "110006", "Gone", number="2006", status="Closed", closed="31/08/2020"
                ),  # re-saved by Excel
                row("110007", "Gone too", number="2007", status="Closed", closed=""),
            ]
        )
    )
    schools = _by_urn(parsed)
    assert schools["110004"].dfe_number == "9400012"
    assert schools["110005"].is_open and schools["110005"].closed_on is None
    assert not schools["110006"].is_open and schools["110006"].closed_on == date(2020, 8, 31)
    assert not schools["110007"].is_open and schools["110007"].closed_on is None


def test_a_maintained_schools_foundation_trust_is_not_an_academy_trust():
    parsed = read_gias(
        gias_bytes([row("110008", "E", type_name="Foundation school", trust=("77", "Land Trust"))])
    )
    assert parsed.schools[0].trust_uid is None and parsed.trusts == []


def test_a_missing_column_is_one_problem_naming_it():
    columns = tuple(c for c in GIAS_COLUMNS if c != "StatutoryHighAge")
    parsed = read_gias(gias_bytes(england_sample(), columns=columns))
    assert [str(p) for p in parsed.problems] == [
        "row 1, StatutoryHighAge: The column StatutoryHighAge is missing: GIAS's establishment file has it."
    ]
    assert parsed.schools == []


def test_a_file_that_is_not_the_establishment_file_says_so():
    parsed = read_gias(b"upn,surname\r\nA123,Smith\r\n")
    (problem,) = parsed.problems
    assert "This is not GIAS's establishment file" in problem.message and "upn, surname" in problem.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00rest of a workbook", "This is an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "old Excel workbook"),
        (codecs.BOM_UTF16_LE + "URN,Name".encode("utf-16-le"), "UTF-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ],
)
def test_not_a_csv_file_at_all(data, expected):
    (problem,) = read_gias(data).problems
    assert expected in problem.message and problem.row is None


def test_a_byte_that_is_neither_windows_1252_nor_utf8_is_reported_on_its_row():
    data = gias_bytes(england_sample()).replace("Lumière".encode("cp1252"), b"Lumi\x81re")
    (problem,) = read_gias(data).problems
    assert problem.row == 3 and "byte 0x81" in problem.message


def test_a_bad_row_is_reported_by_row_column_and_value_and_nothing_is_taken():
    records = england_sample()
    records[2]["StatutoryLowAge"] = "eleven"
    records[4]["EstablishmentNumber"] = "70A1"
    parsed = read_gias(gias_bytes(records))
    assert [(p.row, p.column, p.value) for p in parsed.problems] == [
        (4, "StatutoryLowAge", "eleven"),
        (6, "EstablishmentNumber", "70A1"),
    ]
    assert str(parsed.problems[0]) == (
        "row 4, StatutoryLowAge “eleven”: An age must be a whole number of years, or blank."
    )
    assert not parsed.ok


def test_rows_that_cannot_be_used():
    records = [
        row("110010", "A", number=""),
        row("11001", "B", number="2011"),
        row("110012", "C", la="94", number="2012"),
        row("110013", "", number="2013"),
        row("110014", "D", number="2014", ages=(11, 4)),
        row("110015", "E", number="2015", phase="Infant"),
        row("110016", "F", number="2016", status="Mothballed"),
        row("110017", "G", number="2017", status="Closed", closed="2017"),
        row("110018", "H", number="2018", type_name="Academy converter", trust=("5001", "")),
        row("110010", "I", number="2019"),
        row("110020", "J", number="2020"),
        row("110021", "K", number="2020"),
        row("11002\u00b2", "L", number="202\u00b2", ages=("\u00b2", 11)),  # superscript two: not a digit here
    ]
    problems = [(p.row, p.column, p.value) for p in read_gias(gias_bytes(records)).problems]
    assert problems == [
        (2, "EstablishmentNumber", ""),
        (3, "URN", "11001"),
        (4, "LA (code)", "94"),
        (5, "EstablishmentName", ""),
        (6, "StatutoryHighAge", "4"),
        (7, "PhaseOfEducation (name)", "Infant"),
        (8, "EstablishmentStatus (name)", "Mothballed"),
        (10, "Trusts (name)", ""),
        (11, "URN", "110010"),
        (13, "EstablishmentNumber", "2020"),
        (14, "URN", "11002\u00b2"),
        (14, "EstablishmentNumber", "202\u00b2"),
        (14, "StatutoryLowAge", "\u00b2"),
    ]


def test_a_closed_schools_quirk_is_not_a_problem_but_its_closing_is_kept():
    records = [row("110030", "Long gone", number="", status="Closed", closed="31-08-1999")]
    parsed = read_gias(gias_bytes(records))
    assert parsed.ok and parsed.schools == []
    assert parsed.closures == {"110030": date(1999, 8, 31)}
    assert parsed.skipped[0].reason.startswith("Closed, and its EstablishmentNumber cannot be used")


def test_a_row_with_too_many_or_too_few_values_is_a_problem():
    data = gias_bytes(england_sample()).split(b"\r\n")
    data[3] = data[3] + b",extra"
    data[5] = data[5].rsplit(b",", 3)[0]
    problems = read_gias(b"\r\n".join(data)).problems
    assert [p.row for p in problems] == [4, 6]
    assert "141 columns" in problems[0].message  # 139 of DfE's and 2 new ones


def test_the_header_check_before_an_upload_reads_only_the_first_row():
    data = gias_bytes(england_sample())
    assert gias.check_header(data[:20000]) == []
    assert "Excel workbook" in gias.check_header(b"PK\x03\x04....")[0].message
    missing = gias.check_header(gias_bytes([], columns=tuple(c for c in GIAS_COLUMNS if c != "URN")))
    assert [p.column for p in missing] == ["URN"]
