"""A CTF as plain data, and its versioned mapping of StageAssessments to our assessments."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

MAPPING_DIR = Path(__file__).parent.parent / "reference" / "data" / "ctf"
VERSIONS = range(17, 27)  # CTFversion 17.0 … 26.0


@dataclass(frozen=True)
class SchoolRef:
    la: str  # 3 digits, or LLLL/XXXX/MMMM/DfE style destination codes
    estab: str
    urn: str = ""
    name: str = ""
    academic_year: int | None = None  # the start year, as CTFs write it


@dataclass(frozen=True)
class CTFHeader:
    version: int  # 25 for 25.0
    generated_at: datetime
    document_qualifier: str  # full | partial
    supplier_id: str
    source: SchoolRef
    destination: SchoolRef


@dataclass(frozen=True)
class StageResult:
    """One StageAssessment as the file holds it."""

    stage: str
    locale: str
    year: str
    subject: str
    method: str
    component: str
    result_status: str
    result_qualifier: str
    result: str
    result_date: date | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.stage, self.subject, self.method, self.component, self.result_qualifier)


@dataclass(frozen=True)
class CTFPupil:
    upn: str
    surname: str
    forename: str
    date_of_birth: date | None
    sex: str  # M / F as the file has it
    nc_year: str = ""  # NCyearActual: R, 1 … 14
    ethnicity: str = ""
    first_language: str = ""
    sen_provision: str = ""  # E / K / N
    fsm_eligible: bool | None = None
    in_care: bool | None = None
    results: tuple[StageResult, ...] = ()


@dataclass
class CTFDocument:
    header: CTFHeader
    pupils: list[CTFPupil] = field(default_factory=list)


@dataclass(frozen=True)
class MappingEntry:
    assessment: str
    stage: str
    subject: str
    method: str
    component: str
    result_qualifier: str
    confirmed: bool

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.stage, self.subject, self.method, self.component, self.result_qualifier)


@dataclass(frozen=True)
class AssessmentMapping:
    from_year: int
    entries: tuple[MappingEntry, ...]

    def assessment_for(self, result: StageResult) -> MappingEntry | None:
        return next((e for e in self.entries if e.key == result.key), None)

    def entry_for(self, assessment: str) -> MappingEntry | None:
        return next((e for e in self.entries if e.assessment == assessment), None)


@cache
def mapping_for(year: int, directory: Path = MAPPING_DIR) -> AssessmentMapping:
    """The mapping in force for the academic year ending in ``year``."""
    files = sorted(
        (int(p.stem), p) for p in directory.glob("*.toml") if p.stem.isdigit() and int(p.stem) <= year
    )
    if not files:
        raise KeyError(f"no CTF assessment mapping covers {year - 1}/{str(year)[-2:]}")
    from_year, path = files[-1]
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = tuple(
        MappingEntry(
            assessment=e["assessment"],
            stage=e["stage"],
            subject=e["subject"],
            method=e["method"],
            component=e.get("component", ""),
            result_qualifier=e.get("result_qualifier", ""),
            confirmed=bool(e.get("confirmed", False)),
        )
        for e in data["entries"]
    )
    return AssessmentMapping(from_year, entries)


def ctf_filename(source: SchoolRef, destination: SchoolRef, sequence: int) -> str:
    """The standard name: <srcLA><srcEstab>_CTF_<destLA><destEstab>_<nnn>.xml."""
    return f"{source.la}{source.estab}_CTF_{destination.la}{destination.estab}_{sequence:03d}.xml"
