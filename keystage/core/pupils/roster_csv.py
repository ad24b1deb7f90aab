"""Reading a roster from CSV: every problem reported with its row and UPN, nothing guessed or lost.

The format (a header row, then a pupil a row; columns in any order, names in any case):

    upn, surname, forename, date_of_birth, sex, nc_year            required
    fsm6, looked_after, adopted_from_care                           Y/N (blank is N)
    sen                                                             E (EHC plan), K (SEN support), N or blank
    eal                                                             Y/N, blank when not known
    ethnicity                                                       DfE code, e.g. WBRI
    joined_on                                                       date first on roll at this school
    ks2_reading, ks2_maths                                          KS2 scaled scores (80-120)
    ks1_reading, ks1_writing, ks1_maths                             KS1 teacher assessment codes

Dates are YYYY-MM-DD or DD/MM/YYYY; sex is F, M, Female or Male; nc_year is R (reception) or 1-14.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from keystage.core.measures.ks4 import ks1_value_added
from keystage.core.pupils.model import InvalidUPNError, Pupil, SenProvision, Sex, check_upn, ethnic_group_of
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.rules import Issue

REQUIRED = ("upn", "surname", "forename", "date_of_birth", "sex", "nc_year")
OPTIONAL = (
    "fsm6", "looked_after", "adopted_from_care", "sen", "eal", "ethnicity", "joined_on",
    "ks2_reading", "ks2_maths", "ks1_reading", "ks1_writing", "ks1_maths",
)  # fmt: skip
MAX_BYTES = 20 * 1024 * 1024  # a whole secondary school is well under 1 MB
# Codes a KS1 prior-attainment column may hold: the KS1 framework's, in every year it has had, and
# the older teacher assessment codes (PKF, BLW ...) of pupils now in secondary school, whose KS1
# is their prior attainment when they have no KS2 tests.
KS1_CODES = (
    frozenset(
        code
        for framework in FrameworkLibrary.from_directory().versions("ks1")
        for assessment in framework.assessments
        for code in assessment.codes
    )
    | ks1_value_added.known_codes()
)


class RosterFileError(Refused, ValueError):
    """A file that cannot be read as a roster at all; str() says why."""


@dataclass
class RosterRead:
    pupils: list[Pupil] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)  # row as a spreadsheet numbers it: header 1
    # Every UPN in the file, rows with problems included: a full import must not take them off roll.
    upns_in_file: set[str] = field(default_factory=set)
    # The fields the file has columns for: an import updates only these.
    supplied: frozenset[str] = frozenset()


def parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(rules.ROSTER_DATE.message)


def _yes_no(text: str) -> bool:
    value = text.strip().upper()
    if value in {"Y", "YES", "TRUE", "1"}:
        return True
    if value in {"", "N", "NO", "FALSE", "0"}:
        return False
    raise ValueError(rules.ROSTER_YES_NO.message)


def _sex(text: str) -> Sex:
    value = text.strip().upper()
    mapped = {"F": Sex.FEMALE, "FEMALE": Sex.FEMALE, "M": Sex.MALE, "MALE": Sex.MALE}.get(value)
    if mapped is None:
        raise ValueError(rules.ROSTER_SEX.message)
    return mapped


def parse_nc_year(text: str) -> int:
    """R (reception) is 0; otherwise a year from 1 to 14."""
    value = text.strip().upper()
    if value in {"R", "REC", "RECEPTION"}:
        return 0
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 14:
        return int(value)
    raise ValueError(rules.ROSTER_NC_YEAR.message)


def _sen(text: str) -> SenProvision:
    value = text.strip().upper() or "N"
    try:
        return SenProvision(value)
    except ValueError:
        raise ValueError(rules.ROSTER_SEN.message) from None


def _ethnicity(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    if ethnic_group_of(value) is None:
        raise ValueError(rules.ROSTER_ETHNICITY.message)
    return value


def _ks2_score(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        score = float(text)
    except ValueError:
        raise ValueError(rules.ROSTER_KS2_SCORE.message) from None
    if not 80 <= score <= 120 or score != int(score):
        raise ValueError(rules.ROSTER_KS2_SCORE.message)
    return score


def _optional_date(text: str) -> date | None:
    return parse_date(text.strip()) if text.strip() else None


def _eal(text: str) -> bool | None:
    return _yes_no(text) if text.strip() else None


# Each column's reader, and the rule of a value it cannot read (ValueError).
_PARSERS: dict[str, tuple[Callable[[str], Any], rules.Rule]] = {
    "date_of_birth": (lambda t: parse_date(t.strip()), rules.ROSTER_DATE),
    "sex": (_sex, rules.ROSTER_SEX),
    "nc_year": (parse_nc_year, rules.ROSTER_NC_YEAR),
    "fsm6": (_yes_no, rules.ROSTER_YES_NO),
    "looked_after": (_yes_no, rules.ROSTER_YES_NO),
    "adopted_from_care": (_yes_no, rules.ROSTER_YES_NO),
    "sen": (_sen, rules.ROSTER_SEN),
    "eal": (_eal, rules.ROSTER_YES_NO),
    "ethnicity": (_ethnicity, rules.ROSTER_ETHNICITY),
    "joined_on": (_optional_date, rules.ROSTER_DATE),
    "ks2_reading": (_ks2_score, rules.ROSTER_KS2_SCORE),
    "ks2_maths": (_ks2_score, rules.ROSTER_KS2_SCORE),
    "ks1_reading": (lambda t: _ks1(t), rules.ROSTER_KS1_CODE),
    "ks1_writing": (lambda t: _ks1(t), rules.ROSTER_KS1_CODE),
    "ks1_maths": (lambda t: _ks1(t), rules.ROSTER_KS1_CODE),
}
_KS1_LIST = ", ".join(sorted(KS1_CODES))

MAX_NAME = 100  # as the roster stores names


def _ks1(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    if value not in KS1_CODES:
        raise ValueError(rules.ROSTER_KS1_CODE.message.format(codes=_KS1_LIST))
    return value


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):  # Excel on Windows saves CSV in cp1252
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterFileError("The file is not text: save it from Excel as CSV (comma delimited).")


def read_roster_csv(data: bytes) -> RosterRead:
    """Pupils from a roster CSV, with a problem for every row or value that cannot be used."""
    if len(data) > MAX_BYTES:
        raise RosterFileError(f"The file is {len(data) // (1024 * 1024)} MB; a roster must be under 20 MB.")
    text = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise RosterFileError(f"The file is not a readable CSV: {error}.") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterFileError("The file is empty: it needs a header row, then a pupil on each row.")
    header = [cell.strip().lower().replace(" ", "_") for cell in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise RosterFileError(
            f"The header row has no column {', '.join(missing)}. Columns needed: {', '.join(REQUIRED)}."
        )
    columns = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    result = RosterRead(supplied=frozenset(columns) - {"upn"})
    seen: dict[str, int] = {}
    for row_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, _row: list[str] = row) -> str:
            index = columns.get(name)
            return _row[index].strip() if index is not None and index < len(_row) else ""

        problems: list[Issue] = []
        raw_upn = cell("upn")
        for name, index in columns.items():
            value = row[index] if index < len(row) else ""
            if "\n" in value or "\r" in value or "\x00" in value:
                problems.append(
                    rules.ROSTER_HIDDEN_CHARACTERS.issue(
                        row=row_number, column=name, value=value[:40], for_upn=raw_upn
                    )
                )
        try:
            upn = check_upn(raw_upn)
        except InvalidUPNError as error:
            problems.append(
                rules.ROSTER_UPN_INVALID.issue(
                    row=row_number, column="upn", value=raw_upn, for_upn=raw_upn, reason=error
                )
            )
            upn = raw_upn.strip().upper().replace(" ", "")
        if upn in seen:
            problems.append(
                rules.ROSTER_UPN_DUPLICATE.issue(
                    row=row_number, column="upn", value=raw_upn, for_upn=upn, first=seen[upn]
                )
            )
        seen.setdefault(upn, row_number)
        result.upns_in_file.add(upn)
        values: dict[str, Any] = {}
        for name in ("surname", "forename"):
            values[name] = cell(name)
            if not values[name]:
                problems.append(rules.ROSTER_MISSING.issue(row=row_number, column=name, for_upn=upn))
            elif len(values[name]) > MAX_NAME:
                problems.append(
                    rules.ROSTER_TOO_LONG.issue(
                        row=row_number,
                        column=name,
                        value=values[name][:40] + "…",
                        for_upn=upn,
                        limit=MAX_NAME,
                    )
                )
        for name, (parse, unreadable) in _PARSERS.items():
            if name not in columns:
                continue
            raw = cell(name)
            if name in REQUIRED and not raw:
                problems.append(rules.ROSTER_MISSING.issue(row=row_number, column=name, for_upn=upn))
                continue
            try:
                values[name] = parse(raw)
            except ValueError:
                problems.append(
                    unreadable.issue(row=row_number, column=name, value=raw, for_upn=upn, codes=_KS1_LIST)
                )
        birth = values.get("date_of_birth")
        if isinstance(birth, date) and birth >= date.today():
            problems.append(
                rules.ROSTER_DOB_NOT_PAST.issue(
                    row=row_number, column="date_of_birth", value=cell("date_of_birth"), for_upn=upn
                )
            )
        if problems:
            result.problems.extend(problems)
            continue
        result.pupils.append(Pupil(upn=upn, **values))
    return result
