"""What a collection's template looks like: the pupil columns, then one column per subject or
assessment, with the header rows above them (seed 000) or a single header row (KS1, seed 001).

A layout is built from reference data (an assessment framework, or the KS4 qualification catalogue
for the year) and is the one description the template writer, the readers and the validation
engine all work from, so a template keystage writes is exactly what its validator expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from keystage.core.reference.frameworks import Framework, ScoreRange
from keystage.core.reference.ks4_catalogue import Catalogue, Qualification
from keystage.core.results.kinds import CollectionKind, academic_year_name

TEMPLATE_VERSION = 1

PupilKey = Literal[
    "organisation",
    "dfe",
    "key_stage",
    "nc_year",
    "upn",
    "forename",
    "surname",
    "dob_day",
    "dob_month",
    "dob_year",
    "dob",
    "gender",
]


@dataclass(frozen=True)
class PupilField:
    key: PupilKey
    header: str
    width: float = 12


# Seed 000: the KS4 templates' pupil columns, in order.
HEADED_PUPIL_FIELDS = (
    PupilField("organisation", "Organisation", 24),
    PupilField("dfe", "DfE Number", 11),
    PupilField("key_stage", "Key Stage", 9),
    PupilField("nc_year", "NC Year", 8),
    PupilField("upn", "UPN", 16),
    PupilField("forename", "Forename", 16),
    PupilField("surname", "Surname", 16),
    PupilField("dob_day", "Day", 6),
    PupilField("dob_month", "Month", 7),
    PupilField("dob_year", "Year", 7),
    PupilField("gender", "Gender", 9),
)
# Seed 001: the KS1 template's pupil columns, in order.
KS1_PUPIL_FIELDS = (
    PupilField("dfe", "School DFE", 11),
    PupilField("upn", "UPN", 16),
    PupilField("forename", "Forename", 16),
    PupilField("surname", "Surname", 16),
    PupilField("gender", "Gender", 9),
    PupilField("dob", "Date of birth", 13),
    PupilField("nc_year", "NC Year", 8),
)


@dataclass(frozen=True)
class SubjectColumn:
    key: str  # the assessment code, or the qualification number (QAN) for KS4
    header: str
    outcomes: tuple[str, ...] = ()  # valid codes, best first
    score: ScoreRange | None = None
    discount_code: str = ""
    code: str = ""  # the subject code or QAN the header rows show
    qualification: str = ""
    qualification_type: str = ""
    ebacc_pillar: str = ""
    double_award: bool = False

    @property
    def valid_results(self) -> str:
        parts = []
        if self.score is not None:
            parts.append(f"{self.score.minimum}-{self.score.maximum}")
        parts.extend(self.outcomes)
        return ",".join(parts)

    def dropdown(self) -> list[str]:
        """Every valid result, as the template's dropdown offers them."""
        scores = (
            [str(n) for n in range(self.score.maximum, self.score.minimum - 1, -1)]
            if self.score is not None and self.score.whole_numbers
            else []
        )
        return scores + list(self.outcomes)


HeaderRowKey = Literal["discount_code", "code", "qualification", "valid_results", "key"]


@dataclass(frozen=True)
class HeaderRow:
    label: str
    key: HeaderRowKey

    def value(self, column: SubjectColumn) -> str:
        return str(getattr(column, self.key))


@dataclass(frozen=True)
class TemplateLayout:
    kind: CollectionKind
    year: int
    pupil_fields: tuple[PupilField, ...]
    subjects: tuple[SubjectColumn, ...]
    header_rows: tuple[HeaderRow, ...] = ()  # the rows above the column headings
    reference_note: str = ""  # where the columns come from, for the guidance sheet
    version: int = TEMPLATE_VERSION

    @property
    def title(self) -> str:
        """The stamp in cell A1 of a headed template, e.g. "KS4 GCSE 2025/26"."""
        return f"{self.kind.title} {academic_year_name(self.year)}"

    @property
    def heading_row(self) -> int:
        """The spreadsheet row (1-based) of the column headings."""
        return len(self.header_rows) + 1

    @property
    def subject_headers(self) -> list[str]:
        return [s.header for s in self.subjects]

    def field(self, key: str) -> PupilField | None:
        return next((f for f in self.pupil_fields if f.key == key), None)


def framework_layout(kind: CollectionKind, year: int, framework: Framework) -> TemplateLayout:
    """A primary collection's layout: a column per assessment of the year's framework."""
    subjects = tuple(
        SubjectColumn(key=a.code, header=a.heading, outcomes=tuple(a.codes), score=a.score, code=a.code)
        for a in framework.assessments
    )
    if kind.layout == "ks1":
        return TemplateLayout(kind, year, KS1_PUPIL_FIELDS, subjects, (), framework.source)
    rows = (HeaderRow("Assessment code", "key"), HeaderRow("Valid results", "valid_results"))
    return TemplateLayout(kind, year, HEADED_PUPIL_FIELDS, subjects, rows, framework.source)


def catalogue_year(catalogue: Catalogue, year: int) -> int | None:
    """The latest performance-table year the catalogue lists on or before ``year``."""
    return catalogue.rules_year(year)


def _counts_in(q: Qualification, year: int) -> bool:
    return year in q.discount_codes or year in q.syllabuses


def is_gcse_9_1(q: Qualification) -> bool:
    return q.qualification_type.startswith("GCSE (9-1)")


_GCSE_TITLE = re.compile(
    r"^(?P<board>.+?)\s+Level\s*1.*?GCSE\s*\(?9-1\)?(?:\s+Full Course)?(?:\s+in)?\s+(?P<subject>.+)$"
)


def _gcse_header(q: Qualification) -> str:
    match = _GCSE_TITLE.match(q.title)
    if not match:
        return q.title
    return f"{match['subject'].strip()} ({match['board'].strip()})"


def _discount_code(q: Qualification, year: int) -> str:
    if year in q.discount_codes:
        return q.discount_codes[year]
    return "/".join(sorted({code for _title, code in q.syllabuses.get(year, {}).values()}))


def ks4_layout(kind: CollectionKind, year: int, catalogue: Catalogue, gcse: Framework) -> TemplateLayout:
    """A KS4 layout: a column per qualification that counts in the year's performance tables (the
    latest year the catalogue has), GCSE 9-1 ones in the GCSE template and the rest in non-GCSE."""
    points_year = catalogue_year(catalogue, year)
    if points_year is None:
        raise LookupError(
            f"the KS4 qualification catalogue lists no year up to {year}: "
            "load DfE's files with keystage reference load-ks4"
        )
    want_gcse = kind.key == "ks4-gcse"
    chosen = [
        q
        for q in catalogue.qualifications.values()
        if _counts_in(q, points_year) and is_gcse_9_1(q) == want_gcse
    ]
    single = tuple(gcse.assessment("gcse").codes)
    double = tuple(gcse.assessment("gcse_double_award").codes)
    columns: list[SubjectColumn] = []
    for q in chosen:
        if want_gcse:
            header, outcomes = _gcse_header(q), (double if q.is_double_award else single)
        else:
            ranked = sorted(q.grades.values(), key=lambda g: -g.points)
            header = q.title
            outcomes = (*(g.grade for g in ranked if g.grade != "U"), "U")
        columns.append(
            SubjectColumn(
                key=q.qan,
                header=header,
                outcomes=outcomes,
                discount_code=_discount_code(q, points_year),
                code=q.qan,
                qualification=q.title,
                qualification_type=q.qualification_type,
                ebacc_pillar=q.ebacc_pillar(points_year) or "",
                double_award=q.is_double_award,
            )
        )
    columns.sort(key=lambda c: (c.header.casefold(), c.key))
    columns = _unique_headers(columns)
    rows: tuple[HeaderRow, ...]
    if want_gcse:
        rows = (
            HeaderRow("Discount code", "discount_code"),
            HeaderRow("Subject code (QAN)", "code"),
            HeaderRow("Valid results", "valid_results"),
        )
    else:
        rows = (
            HeaderRow("Discount code", "discount_code"),
            HeaderRow("Qualification", "qualification"),
            HeaderRow("QAN codes", "code"),
            HeaderRow("Valid results", "valid_results"),
        )
    note = (
        f"Qualifications counting in DfE's {points_year} KS4 performance tables "
        f"(the latest year loaded on or before {academic_year_name(year)})."
    )
    return TemplateLayout(kind, year, HEADED_PUPIL_FIELDS, tuple(columns), rows, note)


def _unique_headers(columns: list[SubjectColumn]) -> list[SubjectColumn]:
    """Two qualifications with one heading get their QAN added, so every heading names one column."""
    seen: dict[str, int] = {}
    for column in columns:
        seen[column.header] = seen.get(column.header, 0) + 1
    return [
        column if seen[column.header] == 1 else replace(column, header=f"{column.header} [{column.key}]")
        for column in columns
    ]
