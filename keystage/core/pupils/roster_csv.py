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


@dataclass(frozen=True)
class RosterProblem:
    row: int  # as a spreadsheet numbers it: the header is row 1
    upn: str
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        who = f" (UPN {self.upn})" if self.upn else ""
        return f"Row {self.row}{who}, {self.column} “{self.value}”: {self.message}"


@dataclass
class RosterRead:
    pupils: list[Pupil] = field(default_factory=list)
    problems: list[RosterProblem] = field(default_factory=list)
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
    raise ValueError("must be a real date, written YYYY-MM-DD or DD/MM/YYYY")


def _yes_no(text: str) -> bool:
    value = text.strip().upper()
    if value in {"Y", "YES", "TRUE", "1"}:
        return True
    if value in {"", "N", "NO", "FALSE", "0"}:
        return False
    raise ValueError("must be Y or N")


def _sex(text: str) -> Sex:
    value = text.strip().upper()
    mapped = {"F": Sex.FEMALE, "FEMALE": Sex.FEMALE, "M": Sex.MALE, "MALE": Sex.MALE}.get(value)
    if mapped is None:
        raise ValueError("must be Female or Male (F or M)")
    return mapped


def parse_nc_year(text: str) -> int:
    """R (reception) is 0; otherwise a year from 1 to 14."""
    value = text.strip().upper()
    if value in {"R", "REC", "RECEPTION"}:
        return 0
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 14:
        return int(value)
    raise ValueError("must be R or a year from 1 to 14")


def _sen(text: str) -> SenProvision:
    value = text.strip().upper() or "N"
    try:
        return SenProvision(value)
    except ValueError:
        raise ValueError("must be E (EHC plan), K (SEN support) or N") from None


def _ethnicity(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    if ethnic_group_of(value) is None:
        raise ValueError("is not a DfE ethnicity code (e.g. WBRI, MWBC, AIND, BAFR, CHNE)")
    return value


def _ks2_score(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        score = float(text)
    except ValueError:
        raise ValueError("must be a KS2 scaled score from 80 to 120") from None
    if not 80 <= score <= 120 or score != int(score):
        raise ValueError("must be a KS2 scaled score from 80 to 120")
    return score


def _optional_date(text: str) -> date | None:
    return parse_date(text.strip()) if text.strip() else None


def _eal(text: str) -> bool | None:
    return _yes_no(text) if text.strip() else None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "date_of_birth": lambda t: parse_date(t.strip()),
    "sex": _sex,
    "nc_year": parse_nc_year,
    "fsm6": _yes_no,
    "looked_after": _yes_no,
    "adopted_from_care": _yes_no,
    "sen": _sen,
    "eal": _eal,
    "ethnicity": _ethnicity,
    "joined_on": _optional_date,
    "ks2_reading": _ks2_score,
    "ks2_maths": _ks2_score,
    "ks1_reading": lambda t: _ks1(t),
    "ks1_writing": lambda t: _ks1(t),
    "ks1_maths": lambda t: _ks1(t),
}

MAX_NAME = 100  # as the roster stores names


def _ks1(text: str) -> str | None:
    value = text.strip().upper()
    if not value:
        return None
    if value not in KS1_CODES:
        raise ValueError(f"must be a KS1 teacher assessment code ({', '.join(sorted(KS1_CODES))})")
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

        problems: list[RosterProblem] = []
        raw_upn = cell("upn")
        for name, index in columns.items():
            value = row[index] if index < len(row) else ""
            if "\n" in value or "\r" in value or "\x00" in value:
                problems.append(
                    RosterProblem(
                        row_number,
                        raw_upn,
                        name,
                        value[:40],
                        "the value runs over several lines or has hidden characters: "
                        "check for a stray quote mark",
                    )
                )
        try:
            upn = check_upn(raw_upn)
        except InvalidUPNError as error:
            problems.append(RosterProblem(row_number, raw_upn, "upn", raw_upn, str(error)))
            upn = raw_upn.strip().upper().replace(" ", "")
        if upn in seen:
            problems.append(
                RosterProblem(row_number, upn, "upn", raw_upn, f"the same UPN is already on row {seen[upn]}")
            )
        seen.setdefault(upn, row_number)
        result.upns_in_file.add(upn)
        values: dict[str, Any] = {}
        for name in ("surname", "forename"):
            values[name] = cell(name)
            if not values[name]:
                problems.append(RosterProblem(row_number, upn, name, "", f"{name} is missing"))
            elif len(values[name]) > MAX_NAME:
                problems.append(
                    RosterProblem(
                        row_number,
                        upn,
                        name,
                        values[name][:40] + "…",
                        f"{name} is longer than {MAX_NAME} characters",
                    )
                )
        for name, parse in _PARSERS.items():
            if name not in columns:
                continue
            raw = cell(name)
            if name in REQUIRED and not raw:
                problems.append(RosterProblem(row_number, upn, name, "", f"{name} is missing"))
                continue
            try:
                values[name] = parse(raw)
            except ValueError as error:
                problems.append(RosterProblem(row_number, upn, name, raw, str(error)))
        birth = values.get("date_of_birth")
        if isinstance(birth, date) and birth >= date.today():
            problems.append(
                RosterProblem(row_number, upn, "date_of_birth", cell("date_of_birth"), "is not in the past")
            )
        if problems:
            result.problems.extend(problems)
            continue
        result.pupils.append(Pupil(upn=upn, **values))
    return result
