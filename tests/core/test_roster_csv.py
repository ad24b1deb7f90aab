"""Reading rosters from CSV: good files, each kind of bad value, and files that are not rosters."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.core.pupils.model import InvalidUPNError, Pupil, SenProvision, Sex, build_upn, check_upn
from keystage.core.pupils.roster_csv import REQUIRED, RosterFileError, read_roster_csv

UPN_1 = build_upn("801", "4001", 20, 1)
UPN_2 = build_upn("801", "4001", 20, 2)
HEADER = (
    "upn,surname,forename,date_of_birth,sex,nc_year,fsm6,sen,eal,ethnicity,joined_on,ks2_reading,ks2_maths"
)


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_a_good_roster_reads_every_characteristic():
    read = read_roster_csv(
        _csv(
            f"{UPN_1},Brown,Ann,2014-10-08,Female,6,Y,K,N,WBRI,2019-09-04,104,99",
            f"{UPN_2},Page,James,12/06/2015,M,R,,,,,,,",
        )
    )
    assert read.problems == []
    ann, james = read.pupils
    assert (ann.sex, ann.nc_year, ann.fsm6, ann.sen, ann.eal, ann.ethnic_group) == (
        Sex.FEMALE,
        6,
        True,
        SenProvision.SUPPORT,
        False,
        "WHIT",
    )
    assert ann.disadvantaged and (ann.ks2_reading, ann.ks2_maths) == (104.0, 99.0)
    assert ann.joined_on == date(2019, 9, 4) and not ann.is_mobile(date(2025, 7, 1))
    assert james.date_of_birth == date(2015, 6, 12) and james.nc_year == 0
    assert james.eal is None and not james.disadvantaged and james.sen is SenProvision.NONE


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (f"{UPN_1[:-1]},Brown,Ann,2014-10-08,F,6", "upn", "UPN must be 13 characters"),
        ("A801400120001,Brown,Ann,2014-10-08,F,6", "upn", "has the wrong check letter"),
        ("A999400120001,Brown,Ann,2014-10-08,F,6", "upn", "known local authority number"),
        (f"{UPN_1},,Ann,2014-10-08,F,6", "surname", "surname is missing"),
        (f"{UPN_1},Brown,Ann,2014-02-30,F,6", "date_of_birth", "must be a real date"),
        (f"{UPN_1},Brown,Ann,31/31/2014,F,6", "date_of_birth", "must be a real date"),
        (f"{UPN_1},Brown,Ann,2014-10-08,X,6", "sex", "must be Female or Male"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,15", "nc_year", "must be R or a year from 1 to 14"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,6,maybe", "fsm6", "must be Y or N"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,6,N,S", "sen", "must be E (EHC plan), K (SEN support) or N"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,6,N,N,N,XXXX", "ethnicity", "is not a DfE ethnicity code"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,6,N,N,N,WBRI,,121", "ks2_reading", "scaled score from 80 to 120"),
    ],
)
def test_each_bad_value_is_reported_with_row_upn_column_and_value(row, column, message):
    read = read_roster_csv(_csv(row, f"{UPN_2},Page,James,2015-06-12,M,6"))
    assert len(read.problems) == 1
    problem = read.problems[0]
    assert (problem.row, problem.column) == (2, column)
    assert message in problem.message
    assert str(problem).startswith("Row 2 (UPN ")
    assert [p.upn for p in read.pupils] == [UPN_2]  # the good row is kept


def test_every_problem_in_a_row_is_reported_not_just_the_first():
    read = read_roster_csv(_csv("BAD,,Ann,not-a-date,X,99"))
    assert {p.column for p in read.problems} == {"upn", "surname", "date_of_birth", "sex", "nc_year"}


def test_a_repeated_upn_is_reported_on_its_second_row():
    read = read_roster_csv(_csv(f"{UPN_1},Brown,Ann,2014-10-08,F,6", f"{UPN_1},Brown,Anne,2014-10-08,F,6"))
    assert [p.row for p in read.problems] == [3]
    assert "already on row 2" in read.problems[0].message
    assert len(read.pupils) == 1


def test_a_windows_excel_csv_with_accents_is_read():
    data = _csv(f"{UPN_1},Brontë,Zoë,2014-10-08,F,6").decode().encode("cp1252")
    assert read_roster_csv(data).pupils[0].forename == "Zoë"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"name,age\nAnn,7\n", "The header row has no column upn, surname, forename"),
        (bytes(range(256)) * 10, "The file is not text"),
        (b"x" * (21 * 1024 * 1024), "a roster must be under 20 MB"),
    ],
)
def test_files_that_are_not_rosters_are_refused_with_one_clear_message(data, message):
    with pytest.raises(RosterFileError, match=message):
        read_roster_csv(data)


def test_build_upn_makes_valid_upns_and_check_upn_normalises():
    assert check_upn(f" {UPN_1.lower()} ") == UPN_1
    with pytest.raises(InvalidUPNError):
        check_upn("A801200001001")


names = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def pupils(draw):
    return Pupil(
        upn=build_upn("801", "4001", draw(st.integers(0, 99)), draw(st.integers(0, 999))),
        surname=draw(names),
        forename=draw(names),
        date_of_birth=draw(st.dates(date(2005, 1, 1), date(2022, 12, 31))),
        sex=draw(st.sampled_from(list(Sex))),
        nc_year=draw(st.integers(0, 14)),
        fsm6=draw(st.booleans()),
        sen=draw(st.sampled_from(list(SenProvision))),
        eal=draw(st.none() | st.booleans()),
        ethnicity=draw(st.none() | st.sampled_from(["WBRI", "AIND", "BAFR", "MWBC", "CHNE", "REFU"])),
        ks2_reading=draw(st.none() | st.integers(80, 120).map(float)),
    )


@settings(max_examples=60)
@given(st.lists(pupils(), min_size=1, max_size=8, unique_by=lambda p: p.upn))
def test_any_roster_written_as_csv_reads_back_the_same(roster):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*REQUIRED, "fsm6", "sen", "eal", "ethnicity", "ks2_reading"])
    for p in roster:
        writer.writerow(
            [
                p.upn,
                p.surname,
                p.forename,
                p.date_of_birth.isoformat(),
                p.sex.value,
                "R" if p.nc_year == 0 else p.nc_year,
                "Y" if p.fsm6 else "N",
                p.sen.value,
                "" if p.eal is None else ("Y" if p.eal else "N"),
                p.ethnicity or "",
                "" if p.ks2_reading is None else p.ks2_reading,
            ]
        )
    read = read_roster_csv(out.getvalue().encode())
    assert read.problems == []
    assert read.pupils == roster


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (f"{UPN_1},Brown,Ann,2014-10-08,F,²", "nc_year", "must be R or a year from 1 to 14"),
        (f"{UPN_1},{'B' * 101},Ann,2014-10-08,F,6", "surname", "longer than 100 characters"),
        (f"{UPN_1},Brown,Ann,2099-10-08,F,6", "date_of_birth", "is not in the past"),
        (f"{UPN_1},Brown,Ann,2014-10-08,F,6,N,N,N,WBRI,,100.5", "ks2_reading", "scaled score from 80 to 120"),
        (f'{UPN_1},"Brown\nSmith",Ann,2014-10-08,F,6', "surname", "runs over several lines"),
        (f"{UPN_1},Br\x00own,Ann,2014-10-08,F,6", "surname", "hidden characters"),
    ],
)
def test_values_that_would_corrupt_the_roster_are_reported(row, column, message):
    read = read_roster_csv(_csv(row))
    assert any(p.column == column and message in p.message for p in read.problems), read.problems
    assert read.pupils == []


def test_ks1_prior_attainment_must_be_a_ks1_code():
    header = "upn,surname,forename,date_of_birth,sex,nc_year,ks1_reading"
    read = read_roster_csv(_csv(f"{UPN_1},Brown,Ann,2014-10-08,F,6,BANANA", header=header))
    assert (
        read.problems[0].column == "ks1_reading" and "KS1 teacher assessment code" in read.problems[0].message
    )
    good = read_roster_csv(_csv(f"{UPN_1},Brown,Ann,2014-10-08,F,6,exs", header=header))
    assert good.pupils[0].ks1_reading == "EXS"


def test_a_file_says_which_fields_it_supplied():
    read = read_roster_csv(_csv(f"{UPN_1},Brown,Ann,2014-10-08,F,6", header=",".join(REQUIRED)))
    assert read.supplied == {"surname", "forename", "date_of_birth", "sex", "nc_year"}


def test_a_year_11_roster_keeps_the_older_ks1_codes_its_pupils_were_given():
    # Pupils in Year 11 in 2026 were assessed at KS1 in 2017: pre-key stage (PKF) and below (BLW) codes.
    header = "upn,surname,forename,date_of_birth,sex,nc_year,ks1_reading,ks1_writing,ks1_maths"
    read = read_roster_csv(_csv(f"{UPN_1},Brown,Ann,2010-10-08,F,11,PKF,BLW,wts", header=header))
    assert read.problems == []
    pupil = read.pupils[0]
    assert (pupil.ks1_reading, pupil.ks1_writing, pupil.ks1_maths) == ("PKF", "BLW", "WTS")
