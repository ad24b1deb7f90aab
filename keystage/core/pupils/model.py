"""A pupil on a school's roll in an academic year, as plain data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path

from stdnum.gb import upn as stdnum_upn

from keystage.core.pupils.la_codes import is_issuing_code
from keystage.core.refusals import Refused

_ETHNICITY_FILE = Path(__file__).parent.parent / "reference" / "data" / "ethnicity.toml"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class SenProvision(StrEnum):
    EHCP = "E"  # education, health and care plan
    SUPPORT = "K"  # SEN support
    NONE = "N"

    @property
    def label(self) -> str:
        return {"E": "EHC plan", "K": "SEN support", "N": "No SEN"}[self.value]


class InvalidUPNError(Refused, ValueError):
    """A UPN that cannot be right; str() says which part is wrong."""


class UPNCheckLetterError(InvalidUPNError):
    """A well-formed UPN whose check letter does not match its digits: most often a typing slip."""


# The characters of a UPN: its check letter and a temporary UPN's last character are letters
# from this alphabet (no I, O or S, which read as digits).
_UPN_ALPHABET = frozenset("ABCDEFGHJKLMNPQRTUVWXYZ0123456789")


def check_upn(value: str) -> str:
    """The UPN in its standard form, or InvalidUPNError with a plain reason.

    DfE's rules: 13 characters; characters 2 to 12 digits; the 13th a digit or a letter (a
    temporary UPN); characters 2 to 4 an LA code that issues UPNs (reference/data/la_codes, kept
    with the project rather than in python-stdnum, whose list stops at 2011); the first character
    the check letter of the other twelve (python-stdnum computes it: that part it has right)."""
    text = str(value).strip().upper().replace(" ", "")
    if len(text) != 13:
        raise InvalidUPNError(f"UPN must be 13 characters; “{text}” has {len(text)}")
    if not (text[1:12].isascii() and text[1:12].isdigit()) or text[12] not in _UPN_ALPHABET:
        raise InvalidUPNError(f"UPN “{text}” must be a check letter, 11 digits, then a digit or letter")
    if not is_issuing_code(text[1:4]):
        raise InvalidUPNError(
            f"UPN “{text}” does not start with a known local authority number ({text[1:4]} is not an LA "
            "code that issues UPNs)"
        )
    if stdnum_upn.calc_check_digit(text[1:]) != text[0]:
        raise UPNCheckLetterError(f"UPN “{text}” has the wrong check letter: check it was copied correctly")
    return text


@dataclass(frozen=True)
class EthnicGroup:
    code: str
    label: str
    codes: dict[str, str]


@cache
def ethnic_groups() -> dict[str, EthnicGroup]:
    data = tomllib.loads(_ETHNICITY_FILE.read_text(encoding="utf-8"))
    return {code: EthnicGroup(code, raw["label"], dict(raw["codes"])) for code, raw in data["groups"].items()}


def ethnic_group_of(code: str) -> EthnicGroup | None:
    return next((g for g in ethnic_groups().values() if code in g.codes), None)


@dataclass(frozen=True)
class Pupil:
    upn: str
    surname: str
    forename: str
    date_of_birth: date
    sex: Sex
    nc_year: int  # 0 is reception
    fsm6: bool = False  # eligible for free school meals in the last six years
    looked_after: bool = False
    adopted_from_care: bool = False
    sen: SenProvision = SenProvision.NONE
    eal: bool | None = None  # first language other than English; None when not known
    ethnicity: str | None = None  # DfE code, e.g. WBRI
    joined_on: date | None = None  # first day at this school
    ks2_reading: float | None = None  # KS2 scaled scores: prior attainment for KS4
    ks2_maths: float | None = None
    ks1_reading: str | None = None  # KS1 teacher assessments: prior attainment for KS2
    ks1_writing: str | None = None
    ks1_maths: str | None = None

    @property
    def disadvantaged(self) -> bool:
        """DfE's definition: FSM in the last six years, looked after, or adopted from care."""
        return self.fsm6 or self.looked_after or self.adopted_from_care

    @property
    def ethnic_group(self) -> str | None:
        group = ethnic_group_of(self.ethnicity) if self.ethnicity else None
        return group.code if group else None

    def is_mobile(self, as_of: date) -> bool:
        """Joined the school in the last two years before ``as_of`` (so not in the non-mobile group)."""
        if self.joined_on is None:
            return False
        try:
            two_years_before = as_of.replace(year=as_of.year - 2)
        except ValueError:  # 29 February
            two_years_before = as_of.replace(year=as_of.year - 2, day=28)
        return self.joined_on > two_years_before


def build_upn(la_code: str, establishment: str, issue_year: int, serial: int) -> str:
    """A valid permanent UPN: check letter, issuing LA, establishment, two-digit year, serial."""
    body = f"{int(la_code):03d}{int(establishment):04d}{issue_year % 100:02d}{serial:03d}"
    return check_upn(stdnum_upn.calc_check_digit(body) + body)


def nc_year_by_birth(born: date, academic_year: int) -> int:
    """The year group a pupil born on ``born`` is in, by age, in the academic year ending in
    ``academic_year`` (0 is Reception): those born 1 September 2019 to 31 August 2020 are in
    Reception in 2024/25. A pupil taught out of their age group is in another, so this is a
    default to say, never a fact."""
    cohort = born.year + (1 if born.month >= 9 else 0)  # the calendar year of their 31 August
    return academic_year - 5 - cohort
