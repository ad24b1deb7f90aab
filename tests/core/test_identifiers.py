import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystage.core import identifiers
from keystage.core.identifiers import InvalidIdentifierError


def test_la_code_accepts_three_digits_with_spaces_trimmed():
    assert identifiers.la_code(" 208 ") == "208"


@pytest.mark.parametrize("bad", ["20", "2080", "2O8", "", "20 8"])
def test_la_code_refuses_anything_else_and_says_what_is_expected(bad):
    with pytest.raises(InvalidIdentifierError, match="LA code must be 3 digits"):
        identifiers.la_code(bad)


def test_urn_must_be_six_digits():
    assert identifiers.urn("100123") == "100123"
    with pytest.raises(InvalidIdentifierError, match="URN must be 6 digits"):
        identifiers.urn("10012")


def test_dfe_number_accepts_the_laestab_slash_form_people_paste():
    assert identifiers.dfe_number("208/4001") == "2084001"


@pytest.mark.parametrize("bad", ["208400", "20840011", "208-4001", "abcdefg"])
def test_dfe_number_must_be_seven_digits(bad):
    with pytest.raises(InvalidIdentifierError, match="DfE number must be 7 digits"):
        identifiers.dfe_number(bad)


def test_dfe_number_must_start_with_its_la_code():
    assert identifiers.dfe_number("2084001", la="208") == "2084001"
    with pytest.raises(InvalidIdentifierError, match="does not start with the school's LA code 209"):
        identifiers.dfe_number("2084001", la="209")


def test_establishment_number_is_the_last_four_digits():
    assert identifiers.establishment_number("2084001") == "4001"


def test_companies_house_number_pads_dropped_zeros_and_accepts_scottish_prefix():
    assert identifiers.companies_house_number("7654321") == "07654321"
    assert identifiers.companies_house_number("sc123456") == "SC123456"
    with pytest.raises(InvalidIdentifierError, match="Companies House number"):
        identifiers.companies_house_number("ABC")


@given(st.text(max_size=12))
def test_checkers_either_return_a_clean_identifier_or_refuse_with_a_message(text):
    for check in (
        identifiers.la_code,
        identifiers.urn,
        identifiers.dfe_number,
        identifiers.companies_house_number,
    ):
        try:
            result = check(text)
        except InvalidIdentifierError as error:
            assert str(error)
        else:
            assert result.isalnum() and result == result.strip()
