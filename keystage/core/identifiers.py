"""Identifiers of English education organisations, checked the way DfE issues them.

Each checker returns the normalised identifier or raises InvalidIdentifier with a message a
person can act on. They accept surrounding spaces because people paste them from spreadsheets.
"""

from __future__ import annotations

import re

from keystage.core.refusals import Refused


class InvalidIdentifierError(Refused, ValueError):
    """An identifier that cannot be what it claims to be; str() is a plain-English message."""


_LA_CODE = re.compile(r"\d{3}", re.ASCII)
_URN = re.compile(r"\d{6}", re.ASCII)
_DFE_NUMBER = re.compile(r"\d{7}", re.ASCII)
# Companies House numbers: 8 digits, or 2 letters (e.g. SC, NI) and 6 digits.
_COMPANY_NUMBER = re.compile(r"(\d{8}|[A-Z]{2}\d{6})")


def la_code(value: str) -> str:
    """A local authority code: three digits, e.g. 208 (Lambeth)."""
    text = str(value).strip()
    if not _LA_CODE.fullmatch(text):
        raise InvalidIdentifierError(f"LA code must be 3 digits, for example 208. You entered “{text}”.")
    return text


def urn(value: str) -> str:
    """A unique reference number (URN): six digits, e.g. 100000."""
    text = str(value).strip()
    if not _URN.fullmatch(text):
        raise InvalidIdentifierError(f"URN must be 6 digits, for example 100123. You entered “{text}”.")
    return text


def dfe_number(value: str, *, la: str | None = None) -> str:
    """A DfE number (LAESTAB): the 3-digit LA code then a 4-digit establishment number.

    With ``la`` given, the number must belong to that local authority.
    """
    text = str(value).strip().replace("/", "")
    if not _DFE_NUMBER.fullmatch(text):
        raise InvalidIdentifierError(
            f"DfE number must be 7 digits (LA code then establishment number, for example 2084001). "
            f"You entered “{str(value).strip()}”."
        )
    if la is not None and not text.startswith(la):
        raise InvalidIdentifierError(
            f"DfE number {text} does not start with the school's LA code {la}: "
            "the first 3 digits of a DfE number are its local authority."
        )
    return text


def establishment_number(dfe: str) -> str:
    """The 4-digit establishment number within a DfE number."""
    return dfe_number(dfe)[3:]


def companies_house_number(value: str) -> str:
    """A Companies House company number: 8 digits, or 2 letters and 6 digits (e.g. 07654321)."""
    text = str(value).strip().upper().replace(" ", "")
    if text.isdigit() and len(text) < 8:
        text = text.zfill(8)  # Companies House drops leading zeros in some listings
    if not _COMPANY_NUMBER.fullmatch(text):
        raise InvalidIdentifierError(
            f"Companies House number must be 8 characters, for example 07654321. You entered “{value}”."
        )
    return text
