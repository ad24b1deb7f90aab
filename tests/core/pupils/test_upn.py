"""UPNs of every local authority that issues them, checked against the LA codes kept with the
project (reference/data/la_codes), and the templates of a school in an LA created since 2011."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystage.core.pupils.la_codes import LA_CODES_FILE, LACodesFileError, issuing_authorities, read_la_codes
from keystage.core.pupils.model import InvalidUPNError, UPNCheckLetterError, build_upn, check_upn

# The unitary authorities formed since 2011: Dorset and BCP (2019), the Northamptonshires (2021),
# Cumberland and Westmorland and Furness (2023).
CREATED_SINCE_2011 = {
    "838": "Dorset",
    "839": "Bournemouth, Christchurch and Poole",
    "940": "North Northamptonshire",
    "941": "West Northamptonshire",
    "942": "Cumberland",
    "943": "Westmorland and Furness",
}


@pytest.mark.parametrize("code", sorted(CREATED_SINCE_2011))
def test_a_upn_from_each_la_created_since_2011_is_valid(code):
    upn = build_upn(code, "2001", 24, 7)
    assert check_upn(upn) == upn
    authority = issuing_authorities()[code]
    assert authority.name == CREATED_SINCE_2011[code] and authority.status == "current"
    assert authority.since is not None and authority.since >= 2019


def test_the_list_holds_englands_153_authorities_and_every_code_on_it_issues_valid_upns():
    authorities = issuing_authorities()
    assert sum(a.status == "current" for a in authorities.values()) == 153
    for code in authorities:
        upn = build_upn(code, "1234", 19, 1)
        assert check_upn(upn.lower()) == upn


@pytest.mark.parametrize(
    ("code", "status"),
    [("928", "former"), ("909", "former"), ("835", "former"), ("681", "wales"), ("702", "pseudo")],
)
def test_upns_of_abolished_welsh_and_pseudo_authorities_stay_valid(code, status):
    """A pupil keeps the UPN their first school gave them, whatever became of its LA since."""
    assert issuing_authorities()[code].status == status
    assert check_upn(build_upn(code, "2001", 15, 3))


def test_a_temporary_upn_ends_in_a_letter():
    body = "80120000101A"
    from stdnum.gb import upn

    temporary = upn.calc_check_digit(body) + body
    assert check_upn(temporary) == temporary


@pytest.mark.parametrize(
    ("value", "words", "error"),
    [
        ("A99920000100", "13 characters", InvalidUPNError),
        ("R999200001001", "999 is not an LA code", InvalidUPNError),
        ("R000200001001", "000 is not an LA code", InvalidUPNError),
        ("X80120000A001", "11 digits", InvalidUPNError),
        ("X8012000010²1", "11 digits", InvalidUPNError),
        ("X80120000101S", "then a digit or letter", InvalidUPNError),
        ("A940200124007", "wrong check letter", UPNCheckLetterError),
    ],
)
def test_what_is_wrong_with_a_upn_is_said(value, words, error):
    with pytest.raises(error, match=words):
        check_upn(value)


def test_an_la_codes_file_with_a_bad_row_says_which(tmp_path: Path):
    bad = tmp_path / "la_codes.csv"
    bad.write_text(
        "code,name,status,since,until\n940,North Northamptonshire,current,2021,\n94,Oops,current,,\n"
    )
    with pytest.raises(LACodesFileError, match="row 3: the code must be 3 digits"):
        read_la_codes(bad)
    bad.write_text("code,name,status,since,until\n940,A,new,,\n")
    with pytest.raises(LACodesFileError, match="row 2: the status"):
        read_la_codes(bad)
    assert len(read_la_codes(LA_CODES_FILE)) == len(issuing_authorities())
