"""A CTF as plain data, and its versioned mapping of StageAssessments to our assessments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

from keystage.core.reference.toml_files import read_toml
from keystage.core.refusals import Refused

MAPPING_DIR = Path(__file__).parent.parent / "reference" / "data" / "ctf"
# CTFversion 11.0 … 27.0. CTF 11 (2011) is the oldest specification DfE still publishes, and every
# element keystage reads (UPN, names, date of birth, Sex or the older Gender, NC year, ethnicity,
# language, SEN, FSM, stage assessments) is in every version since; MIS suppliers still running an
# old release write those. 27.0 is next year's, which suppliers release in the summer before.
VERSIONS = range(11, 28)


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


class MappingError(Refused, ValueError):
    """A mapping file that cannot be used; str() names the file and what is wrong."""


def parse_mapping(data: dict[str, object], path: str = "<data>") -> AssessmentMapping:
    """A mapping from the parsed contents of its TOML file, or MappingError saying what is wrong."""
    from_year = data.get("from_year")
    if not isinstance(from_year, int) or isinstance(from_year, bool):
        raise MappingError(f"{path}: “from_year” must be a whole number, e.g. 2027")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise MappingError(f"{path}: “entries” must be a list of tables ([[entries]] in TOML)")
    entries: list[MappingEntry] = []
    for number, raw in enumerate(raw_entries, start=1):
        where = f"{path} entry {number}"
        if not isinstance(raw, dict):
            raise MappingError(f"{where}: must be a table")
        text: dict[str, str] = {}
        for key in ("assessment", "stage", "subject", "method", "component", "result_qualifier"):
            value = raw.get(key, "" if key in ("component", "result_qualifier") else None)
            if not isinstance(value, str):
                raise MappingError(f"{where}: “{key}” must be text")
            text[key] = value.strip()
        if not text["assessment"] or not text["stage"] or not text["subject"] or not text["method"]:
            raise MappingError(f"{where}: assessment, stage, subject and method are required")
        entries.append(MappingEntry(confirmed=bool(raw.get("confirmed", False)), **text))
    seen: dict[tuple[str, str, str, str, str], str] = {}
    for entry in entries:
        if entry.key in seen:
            raise MappingError(f"{path}: {entry.assessment} and {seen[entry.key]} have the same CTF coding")
        seen[entry.key] = entry.assessment
    assessments = [e.assessment for e in entries]
    if len(set(assessments)) != len(assessments):
        raise MappingError(f"{path}: an assessment is mapped twice")
    return AssessmentMapping(from_year, tuple(entries))


def load_mapping_file(path: Path) -> AssessmentMapping:
    data = read_toml(path, MappingError)
    return parse_mapping(data, str(path))


def shipped_mappings(directory: Path = MAPPING_DIR) -> list[AssessmentMapping]:
    return [load_mapping_file(p) for p in sorted(directory.glob("*.toml"))]


def mapping_in_force(mappings: list[AssessmentMapping], year: int) -> AssessmentMapping:
    """The mapping for the academic year ending in ``year``: the latest that starts by then."""
    usable = sorted((m for m in mappings if m.from_year <= year), key=lambda m: m.from_year)
    if not usable:
        raise KeyError(f"no CTF assessment mapping covers {year - 1}/{str(year)[-2:]}")
    return usable[-1]


def nearest_mapping(mappings: list[AssessmentMapping], year: int) -> tuple[AssessmentMapping, str]:
    """The mapping in force for ``year`` or, for a year none covers (a file from before the first),
    the earliest there is, with a sentence saying so (empty when the year is covered)."""
    try:
        return mapping_in_force(mappings, year), ""
    except KeyError:
        if not mappings:
            raise
    earliest = min(mappings, key=lambda m: m.from_year)
    return earliest, (
        f"keystage has no CTF assessment mapping for {year - 1}/{str(year)[-2:]}; the nearest, in force "
        f"from {earliest.from_year - 1}/{str(earliest.from_year)[-2:]}, was used"
    )


@cache
def mapping_for(year: int) -> AssessmentMapping:
    """The shipped mapping in force for the academic year ending in ``year``."""
    return mapping_in_force(shipped_mappings(), year)


def ctf_version(academic_year: int) -> int:
    """CTFversion NN.0 is the start year of the academic year: 25 for 2025/26 (academic year 2026)."""
    return (academic_year - 1) % 100


def la_destination(la_code: str) -> SchoolRef:
    """A CTF for the local authority itself: its code and LLLL."""
    return SchoolRef(la=la_code, estab="LLLL")


DFE_DESTINATION = SchoolRef(la="DfE", estab="")


def ctf_filename(source: SchoolRef, destination: SchoolRef, sequence: int) -> str:
    """The standard name: <srcLA><srcEstab>_CTF_<destLA><destEstab>_<nnn>.xml."""
    return f"{source.la}{source.estab}_CTF_{destination.la}{destination.estab}_{sequence:03d}.xml"
