"""Reading GIAS's establishment file ("edubasealldata…csv") into local authorities, trusts and schools.

DfE publishes every establishment in England (and some beyond) as one CSV of about 50,000 rows and
130+ columns, encoded Windows-1252, dates as DD-MM-YYYY. Columns are found by name, never position, so
a re-ordered or re-saved file reads the same; UTF-8 (with or without a byte order mark) is read too,
as is a date re-saved by Excel (DD/MM/YYYY) or written as ISO (YYYY-MM-DD).

Which establishments are taken (by ``TypeOfEstablishment (name)``; the list is DfE's own of the
state-funded types it reports on):

- local authority maintained: community, voluntary aided, voluntary controlled and foundation
  schools, LA nursery schools, community and foundation special schools, pupil referral units;
- academies: converters and sponsor led, special, alternative provision and 16-19 academies, the
  secure 16 to 19 academy, and city technology colleges (state-funded, though GIAS groups them with
  "Independent schools");
- free schools: free schools (mainstream, special, alternative provision, 16 to 19), studio schools
  and university technical colleges.

From GIAS's "Special schools" group that leaves out non-maintained and independent special schools, and
from "Independent schools" all but city technology colleges. A type GIAS adds later is taken when its
``EstablishmentTypeGroup (name)`` is "Local authority maintained schools", "Academies" or "Free Schools".
Only with ``include_independent``: other independent schools, independent special schools and
non-maintained special schools (type "independent").
Everything else is skipped with the reason: universities, colleges and FE, children's centres,
Welsh establishments, online providers, British schools overseas, secure units, special post-16
institutions, service children's education, miscellaneous and the rest of "Other types".

Status: "Open" and "Open, but proposed to close" are open; "Closed" is closed (``closed_on`` from
CloseDate); "Proposed to open" is skipped until GIAS records it open, since it has no pupils yet and
often shares its DfE number with the school it replaces, still open.

Mapping: the DfE number is the LA code and the establishment number padded to 4 digits; special
school types are phase "special" (as DfE's statistics group them, whatever phase GIAS records);
"Middle deemed primary" and "Middle deemed secondary" are "middle"; "Not applicable" (pupil referral
units, alternative provision, some independents) is decided by the age range: up to 11 primary, from
16 sixteen_plus, from 11 secondary, else (or no ages) all_through. A trust is taken from ``Trusts
(code)`` (GIAS's group UID) and ``Trusts (name)`` for academies and free schools only: the trust GIAS
records against a maintained foundation school is a charity holding its land, not an academy trust
answerable for its results.

A row that cannot be used is a Problem (row as numbered in the file, the header being row 1, the
column, the value and what is wrong); a missing column is one problem naming it. Nothing here knows
of Django: the result is plain dataclasses. The tables behind the rules above (GIAS's column names,
types of establishment, phases and statuses) are in gias_format.py, with the writer of GIAS files.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from keystage.core import identifiers
from keystage.core.organisations.gias_format import (
    CLOSE_DATE,
    CLOSED,
    ESTABLISHMENT_NUMBER,
    HIGH_AGE,
    INDEPENDENT,
    INDEPENDENT_TYPES,
    LA_CODE,
    LA_NAME,
    LOW_AGE,
    NAME,
    OPEN_DATE,
    OPEN_STATUSES,
    PHASE,
    PHASES,
    PROPOSED_TO_OPEN,
    REQUIRED_COLUMNS,
    SPECIAL_TYPES,
    STATE_FUNDED_GROUPS,
    STATE_FUNDED_TYPES,
    STATUS,
    TRUST_CODE,
    TRUST_NAME,
    TRUST_TYPES,
    TYPE,
    TYPE_GROUP,
    URN,
)

MAX_NAME = 200
MAX_TYPE = 100
MAX_TRUST_UID = 20


@dataclass(frozen=True)
class Problem:
    """A row (or the file) that cannot be used: ``row`` as numbered in the file, header row 1."""

    row: int | None
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "the file"
        if self.column:
            where += f", {self.column}"
            if self.value:
                where += f" “{self.value}”"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class Skipped:
    """A row not taken, and why."""

    row: int
    urn: str
    name: str
    reason: str


@dataclass(frozen=True)
class LocalAuthority:
    code: str
    name: str


@dataclass(frozen=True)
class Trust:
    uid: str  # GIAS's group UID, ``Trusts (code)``
    name: str


@dataclass(frozen=True)
class School:
    row: int
    urn: str
    dfe_number: str
    name: str
    la_code: str
    phase: str
    school_type: str
    establishment_type: str
    trust_uid: str | None
    statutory_low_age: int | None
    statutory_high_age: int | None
    is_open: bool
    closed_on: date | None
    opened_on: date | None = None


@dataclass
class GiasFile:
    """What was read: organisations to take, rows skipped with the reason, and problems."""

    las: list[LocalAuthority] = field(default_factory=list)
    trusts: list[Trust] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Closed establishments whose rows have a problem elsewhere: their URN and close date, so that a
    # school already known is still closed (an old closed record's quirk is no reason to refuse a file).
    closures: dict[str, date | None] = field(default_factory=dict)
    rows: int = 0
    encoding: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


class _FileProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _file_problem(message: str, row: int | None = None) -> _FileProblem:
    return _FileProblem(Problem(row, "", "", message))


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding (Windows-1252 or UTF-8), or _FileProblem."""
    if not data.strip():
        raise _file_problem("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        raise _file_problem(
            "This is an Excel workbook (or another zip file), not a CSV file. Download GIAS's "
            "establishment file as CSV (edubasealldata….csv) and upload that."
        )
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise _file_problem("This is an old Excel workbook (.xls), not a CSV file. Upload GIAS's CSV file.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_problem(
            "This file is UTF-16 text (Excel's “Unicode text”), not a CSV file. Upload GIAS's CSV file as "
            "downloaded, or save it as “CSV UTF-8”."
        )
    if b"\x00" in data[:65536]:
        raise _file_problem("This is not a text file (it holds binary data), so it is not GIAS's CSV file.")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as error:
            raise _bad_byte(data, error, "UTF-8 (it starts with UTF-8's byte order mark)") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass  # DfE's own encoding, below
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as error:
        raise _bad_byte(data, error, "Windows-1252 (as DfE publishes it) or UTF-8") from None


def _bad_byte(data: bytes, error: UnicodeDecodeError, expected: str) -> _FileProblem:
    line = data.count(b"\n", 0, error.start) + 1
    byte = data[error.start : error.start + 1].hex().upper()
    return _file_problem(
        f"The file is not {expected} text: byte 0x{byte} on this row is not a character in it. Upload "
        "GIAS's establishment file as downloaded.",
        row=line,
    )


def _columns(header: Sequence[str]) -> tuple[dict[str, int], list[Problem]]:
    names = [name.strip() for name in header]
    index: dict[str, int] = {}
    problems = []
    for position, name in enumerate(names):
        if name in REQUIRED_COLUMNS and name in index:
            problems.append(
                Problem(
                    1,
                    name,
                    "",
                    f"The column {name} appears twice (columns {index[name] + 1} and {position + 1}).",
                )
            )
        index.setdefault(name, position)
    missing = [name for name in REQUIRED_COLUMNS if name not in index]
    if URN in missing and NAME in missing:
        shown = ", ".join(n for n in names[:5] if n) or "nothing"
        problems.append(
            Problem(
                1,
                "",
                "",
                "This is not GIAS's establishment file: its first row should name GIAS's columns "
                f"(URN, EstablishmentName, LA (code), …) but holds {shown}.",
            )
        )
    else:
        problems.extend(
            Problem(1, name, "", f"The column {name} is missing: GIAS's establishment file has it.")
            for name in missing
        )
    return index, problems


def check_header(head: bytes) -> list[Problem]:
    """The problems of a file's first row, from its first bytes: a quick check before a long import."""
    cut = head.find(b"\n")
    first = head if cut < 0 else head[:cut]
    try:
        text, _ = decode(first)
    except _FileProblem as failure:
        return [failure.problem]
    header = next(csv.reader(io.StringIO(text)), [])
    return _columns(header)[1]


def read_gias_file(path: Path, *, include_independent: bool = False) -> GiasFile:
    return read_gias(path.read_bytes(), include_independent=include_independent)


def read_gias(data: bytes, *, include_independent: bool = False) -> GiasFile:
    """Read GIAS's establishment file (the bytes as downloaded)."""
    result = GiasFile()
    try:
        text, result.encoding = decode(data)
    except _FileProblem as failure:
        result.problems.append(failure.problem)
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        index, result.problems = _columns(header)
        if result.problems:
            return result
        _Rows(index, len(header), include_independent, result).read(reader)
    except csv.Error as error:
        result.problems.append(
            Problem(reader.line_num or None, "", "", f"The file cannot be read as CSV: {error}.")
        )
    return result


class _Rows:
    """One pass over the data rows, filling ``result``."""

    def __init__(
        self, index: Mapping[str, int], width: int, include_independent: bool, result: GiasFile
    ) -> None:
        self.at = {name: index[name] for name in REQUIRED_COLUMNS}
        self.pick = operator.itemgetter(*(index[name] for name in REQUIRED_COLUMNS))
        self.open_date_at = index.get(OPEN_DATE)
        self.width = width
        self.include_independent = include_independent
        self.result = result
        self.las: dict[str, LocalAuthority] = {}
        self.trusts: dict[str, Trust] = {}
        self.urns: dict[str, int] = {}
        self.open_dfe: dict[str, tuple[int, str]] = {}

    def read(self, reader: Iterable[list[str]]) -> None:
        result = self.result
        type_at, group_at = self.at[TYPE], self.at[TYPE_GROUP]
        for row_number, values in enumerate(reader, start=2):
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # a blank line holds no establishment
            result.rows += 1
            if len(values) != self.width:
                result.problems.append(
                    Problem(
                        row_number,
                        "",
                        "",
                        f"This row has {len(values)} values but the first row names {self.width} columns, "
                        "so its values cannot be matched to their columns.",
                    )
                )
                continue
            type_name = values[type_at].strip()
            school_type = STATE_FUNDED_TYPES.get(type_name)
            if school_type is None:
                if self.include_independent and type_name in INDEPENDENT_TYPES:
                    school_type = INDEPENDENT
                elif type_name not in INDEPENDENT_TYPES:
                    school_type = STATE_FUNDED_GROUPS.get(values[group_at].strip())
            if school_type is None:
                self._skip(row_number, values, self._not_taken(type_name, values[group_at].strip()))
                continue
            self._school(row_number, values, type_name, school_type)
        result.las = sorted(self.las.values(), key=lambda la: la.code)
        result.trusts = sorted(self.trusts.values(), key=lambda t: t.uid)

    def _not_taken(self, type_name: str, group: str) -> str:
        shown = type_name or "An establishment with no type"
        if type_name in INDEPENDENT_TYPES:
            return (
                f"{shown} is not taken: keystage takes state-funded schools "
                "(independent schools only when asked to include them)"
            )
        if group == "Welsh schools" or type_name == "Welsh establishment":
            return f"{shown} is not taken: keystage takes state-funded schools in England"
        return f"{shown} is not taken: keystage takes state-funded schools"

    def _value(self, values: list[str], column: str) -> str:
        return values[self.at[column]].strip()

    def _skip(self, row: int, values: list[str], reason: str) -> None:
        self.result.skipped.append(Skipped(row, self._value(values, URN), self._value(values, NAME), reason))

    def _problem(self, row: int, column: str, value: str, message: str) -> None:
        self.result.problems.append(Problem(row, column, value, message))

    def _school(self, row: int, raw: list[str], type_name: str, school_type: str) -> None:
        values = dict(zip(REQUIRED_COLUMNS, map(str.strip, self.pick(raw)), strict=True))
        status = values[STATUS]
        if status == PROPOSED_TO_OPEN:
            self._skip(row, raw, "Proposed to open: taken once GIAS records it open")
            return
        before = len(self.result.problems)
        if status in OPEN_STATUSES:
            is_open = True
        elif status == CLOSED:
            is_open = False
        else:
            self._problem(
                row,
                STATUS,
                status,
                "is not one of GIAS's statuses "
                "(Open; Open, but proposed to close; Closed; Proposed to open).",
            )
            is_open = False
        urn, la_code = values[URN], values[LA_CODE]
        # The checkers explain what is wrong; most values are right, and this runs 50,000 times.
        if not (len(urn) == 6 and urn.isascii() and urn.isdigit()):
            urn = self._identifier(row, URN, identifiers.urn, urn)
        if not (len(la_code) == 3 and la_code.isascii() and la_code.isdigit()):
            la_code = self._identifier(row, LA_CODE, identifiers.la_code, la_code)
        number = values[ESTABLISHMENT_NUMBER]
        dfe = ""
        if not (number.isascii() and number.isdigit() and len(number) <= 4):
            self._problem(
                row,
                ESTABLISHMENT_NUMBER,
                number,
                "The establishment number must be up to 4 digits (the DfE number is the LA code and it)."
                if number
                else "The establishment number is blank: a school's DfE number is its LA code and it.",
            )
        elif la_code:
            dfe = la_code + number.zfill(4)
        name = values[NAME]
        if not name:
            self._problem(row, NAME, "", "The school's name is blank.")
        elif len(name) > MAX_NAME:
            self._problem(row, NAME, name[:40] + "…", f"The name is longer than {MAX_NAME} characters.")
        if len(type_name) > MAX_TYPE:
            self._problem(row, TYPE, type_name[:40] + "…", f"is longer than {MAX_TYPE} characters.")
        low = self._age(row, LOW_AGE, values[LOW_AGE])
        high = self._age(row, HIGH_AGE, values[HIGH_AGE])
        if low is not None and high is not None and low > high:
            self._problem(row, HIGH_AGE, str(high), f"The oldest age is below the youngest ({low}).")
        phase = self._phase(row, type_name, values[PHASE], low, high)
        closed_on = None if is_open else self._date(row, CLOSE_DATE, values[CLOSE_DATE])
        opened_on = None
        if self.open_date_at is not None:
            opened_on = self._date(row, OPEN_DATE, raw[self.open_date_at].strip())
        trust_uid = (
            self._trust(row, values[TRUST_CODE], values[TRUST_NAME]) if school_type in TRUST_TYPES else None
        )
        la_name = values[LA_NAME]
        if la_code and not la_name:
            self._problem(row, LA_NAME, "", f"The name of LA {la_code} is blank.")
        if urn:
            if urn in self.urns:
                self._problem(row, URN, urn, f"This URN is also on row {self.urns[urn]}: each school once.")
            else:
                self.urns[urn] = row
        if is_open and dfe:
            if dfe in self.open_dfe:
                other_row, other_urn = self.open_dfe[dfe]
                self._problem(
                    row,
                    ESTABLISHMENT_NUMBER,
                    number,
                    f"DfE number {dfe} is also open school URN {other_urn}'s (row {other_row}): two open "
                    "schools cannot share a DfE number.",
                )
            else:
                self.open_dfe[dfe] = (row, urn)
        if len(self.result.problems) > before:
            if status == CLOSED and urn and urn not in self.result.closures:
                first = self.result.problems[before]
                del self.result.problems[before:]
                self.result.closures[urn] = _parse_date(values[CLOSE_DATE])
                self._skip(
                    row,
                    raw,
                    f"Closed, and its {first.column or 'row'} cannot be used: only its closing is taken",
                )
            return
        if la_code not in self.las:
            self.las[la_code] = LocalAuthority(la_code, la_name)
        self.result.schools.append(
            School(
                row=row,
                urn=urn,
                dfe_number=dfe,
                name=name,
                la_code=la_code,
                phase=phase,
                school_type=school_type,
                establishment_type=type_name,
                trust_uid=trust_uid,
                statutory_low_age=low,
                statutory_high_age=high,
                is_open=is_open,
                closed_on=closed_on,
                opened_on=opened_on,
            )
        )

    def _identifier(self, row: int, column: str, check: Callable[[str], str], value: str) -> str:
        try:
            return check(value)
        except identifiers.InvalidIdentifierError as error:
            self._problem(row, column, value, str(error))
            return ""

    def _age(self, row: int, column: str, value: str) -> int | None:
        if not value:
            return None
        if not value.isascii() or not value.isdigit() or int(value) > 99:
            self._problem(row, column, value, "An age must be a whole number of years, or blank.")
            return None
        return int(value)

    def _date(self, row: int, column: str, value: str) -> date | None:
        if not value:
            return None
        parsed = _parse_date(value)
        if parsed is not None:
            return parsed
        self._problem(row, column, value, "is not a date: GIAS writes dates as DD-MM-YYYY, e.g. 01-09-2011.")
        return None

    def _phase(self, row: int, type_name: str, value: str, low: int | None, high: int | None) -> str:
        if type_name in SPECIAL_TYPES:
            return "special"
        if value not in PHASES:
            known = ", ".join(p for p in PHASES if p)
            self._problem(row, PHASE, value, f"is not one of GIAS's phases ({known}).")
            return ""
        phase = PHASES[value]
        if phase is not None:
            return phase
        if low is None or high is None:
            return "all_through"
        if high <= 11:
            return "primary"
        if low >= 16:
            return "sixteen_plus"
        if low >= 11:
            return "secondary"
        return "all_through"

    def _trust(self, row: int, uid: str, name: str) -> str | None:
        if not uid:
            return None
        if len(uid) > MAX_TRUST_UID:
            self._problem(row, TRUST_CODE, uid[:40], f"A trust's code is at most {MAX_TRUST_UID} characters.")
            return None
        if not name:
            self._problem(row, TRUST_NAME, "", f"The name of trust {uid} is blank.")
            return None
        if len(name) > MAX_NAME:
            self._problem(row, TRUST_NAME, name[:40] + "…", f"is longer than {MAX_NAME} characters.")
            return None
        self.trusts.setdefault(uid, Trust(uid, name))
        return uid


_DAY_FIRST = re.compile(r"(\d{1,2})[-/](\d{1,2})[-/](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@functools.lru_cache(maxsize=65536)
def _parse_date(value: str) -> date | None:
    """DD-MM-YYYY (GIAS), DD/MM/YYYY (re-saved by Excel) or YYYY-MM-DD; None if none of them. A file's
    dates repeat (31-08-… for every summer's closures), hence the cache: strptime is slow."""
    found = _DAY_FIRST.fullmatch(value)
    try:
        if found:
            return date(int(found[3]), int(found[2]), int(found[1]))
        found = _ISO.fullmatch(value)
        if found:
            return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None
    return None
