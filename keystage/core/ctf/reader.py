"""Reading a CTF safely and in constant memory, and checking it.

Safety: the file's size is capped before parsing; a document type declaration is refused (CTFs
never have one, and DTDs carry entity bombs and external entities); the parser resolves no
entities, loads no DTD and touches no network. Pupils are read one at a time and their elements
freed, so a national file needs no more memory than one pupil.

What is read of each pupil (other elements are passed over): UPN, Surname, Forename, DOB, Sex;
BasicDetails/NCyearActual, BasicDetails/Ethnicity, BasicDetails/Languages/Type[LanguageType=F]/
Language; SENhistory/SEN/SENprovision; FSMhistory/FSMinstance (present: eligible); LookedAfter/
InCare; and every StageAssessments/KeyStage/StageAssessment.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from keystage.core.ctf.model import (
    VERSIONS,
    AssessmentMapping,
    CTFDocument,
    CTFHeader,
    CTFPupil,
    SchoolRef,
    StageResult,
    ctf_version,
    nearest_mapping,
    shipped_mappings,
)
from keystage.core.pupils.model import InvalidUPNError, check_upn
from keystage.core.pupils.names import odd_name, visible
from keystage.core.reference.frameworks import Assessment, FrameworkLibrary
from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.rules import Issue, Severity

DEFAULT_MAX_BYTES = 150 * 1024 * 1024
# A pupil's record with years of history has hundreds of elements; far more is not a real record.
MAX_ELEMENTS_PER_PUPIL = 5000
MAX_HEADER_ELEMENTS = 200


class CTFError(Refused, ValueError):
    """A file that cannot be read as a CTF at all; str() says why, with the line where known."""


@dataclass
class CTFRead:
    document: CTFDocument
    problems: list[Issue] = field(default_factory=list)  # each at its element's path
    not_read: Counter[str] = field(default_factory=Counter)  # elements keystage skipped, by pupils

    @property
    def errors(self) -> list[Issue]:
        return [p for p in self.problems if p.severity is not Severity.WARNING]

    @property
    def warnings(self) -> list[Issue]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


class _CappedReader(io.RawIOBase):
    """A stream that refuses to read past a size limit, for streams whose size is not known."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self._inner, self._limit, self._read = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        self._read += len(chunk)
        if self._read > self._limit:
            raise CTFError(f"The file is larger than the {self._limit // (1024 * 1024)} MB a CTF may be.")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _open(source: Path | bytes | BinaryIO, max_bytes: int) -> BinaryIO:
    if isinstance(source, bytes):
        size = len(source)
        stream: BinaryIO = io.BytesIO(source)
    elif isinstance(source, Path):
        try:
            size = os.path.getsize(source)
            stream = source.open("rb")
        except OSError as error:
            raise CTFError(f"Cannot open {source.name}: {error.strerror}.") from None
    else:
        return io.BufferedReader(_CappedReader(source, max_bytes))
    if size > max_bytes:
        stream.close()
        raise CTFError(
            f"The file is {size / (1024 * 1024):.0f} MB, larger than the {max_bytes // (1024 * 1024)} MB "
            "a CTF may be. Split it by school or key stage."
        )
    if size == 0:
        stream.close()
        raise CTFError("The file is empty.")
    return stream


def _text(element: etree._Element | None, path: str) -> str:
    found = element.find(path) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _school(element: etree._Element | None) -> SchoolRef:
    year = _text(element, "AcademicYear")
    return SchoolRef(
        la=_text(element, "LEA"),
        estab=_text(element, "Estab"),
        urn=_text(element, "URN"),
        name=_text(element, "SchoolName"),
        academic_year=int(year) if year.isascii() and year.isdigit() else None,
    )


def _header(element: etree._Element) -> CTFHeader:
    raw_version = _text(element, "CTFversion")
    try:
        version = int(float(raw_version))
    except (ValueError, OverflowError):
        version = -1
    if version not in VERSIONS:
        raise CTFError(
            f"CTFversion “{raw_version}” is not one this service reads "
            f"({VERSIONS.start}.0 to {VERSIONS.stop - 1}.0)."
        )
    stamp = _text(element, "DateTime")
    try:
        generated = datetime.fromisoformat(stamp)
    except ValueError:
        raise CTFError(
            f"Header/DateTime “{stamp}” is not a date and time like 2025-06-20T10:30:00."
        ) from None
    return CTFHeader(
        version=version,
        generated_at=generated,
        document_qualifier=_text(element, "DocumentQualifier"),
        supplier_id=_text(element, "SupplierID"),
        source=_school(element.find("SourceSchool")),
        destination=_school(element.find("DestSchool")),
    )


def _fsm_in_last_six_years(element: etree._Element, as_of: date) -> bool | None:
    """Whether any FSM eligibility in the record was current in the six years before ``as_of``."""
    instances = element.findall("FSMhistory/FSMinstance")
    if not instances:
        return None
    six_years_before = (
        as_of.replace(year=as_of.year - 6)
        if not (as_of.month == 2 and as_of.day == 29)
        else (as_of.replace(year=as_of.year - 6, day=28))
    )
    for instance in instances:
        ended = _date(_text(instance, "FSMendDate"))
        if ended is None or ended >= six_years_before:
            return True
    return False


# The parts of a pupil's record keystage reads (paths below <Pupil>, without positions); every other
# element is counted as not read, so a check says what it left out.
READ_IN_A_PUPIL = frozenset(
    {
        "UPN",
        "Surname",
        "Forename",
        "DOB",
        "Sex",
        "Gender",
        "BasicDetails/NCyearActual",
        "BasicDetails/Ethnicity",
        "BasicDetails/Languages/Type/LanguageType",
        "BasicDetails/Languages/Type/Language",
        "SENhistory/SEN/SENprovision",
        "FSMhistory/FSMinstance/FSMstartDate",
        "FSMhistory/FSMinstance/FSMendDate",
        "LookedAfter/InCare",
        "StageAssessments/KeyStage/Stage",
        *(
            f"StageAssessments/KeyStage/StageAssessment/{name}"
            for name in (
                "Locale",
                "Year",
                "Subject",
                "Method",
                "Component",
                "ResultStatus",
                "ResultQualifier",
                "Result",
                "ResultDate",
            )
        ),
    }
)


def _not_read(element: etree._Element) -> set[str]:
    """The elements of a pupil's record keystage does not read, by their first part (Address,
    Contacts, Attendance …) or, inside a part it reads, by their path."""
    found = set()
    for leaf in element.iter():
        if len(leaf) or leaf is element or not isinstance(leaf.tag, str):
            continue
        if not (leaf.text or "").strip():
            continue  # an empty element (<BasicDetails/>) holds nothing to skip
        parts = []
        node: etree._Element | None = leaf
        while node is not None and node is not element:
            parts.append(str(node.tag))
            node = node.getparent()
        path = "/".join(reversed(parts))
        if path not in READ_IN_A_PUPIL:
            top = parts[-1]
            read_below = any(known.startswith(top + "/") for known in READ_IN_A_PUPIL)
            found.add(path if read_below else top)
    return found


def _pupil(element: etree._Element, path: str, problems: list[Issue], as_of: date) -> CTFPupil:
    upn = _text(element, "UPN")
    dob_text = _text(element, "DOB")
    dob = _date(dob_text)
    if dob_text and dob is None:
        problems.append(rules.CTF_DOB_NOT_A_DATE.issue(path=f"{path}/DOB", for_upn=upn, value=dob_text))
    first_language = ""
    for language in element.iterfind("BasicDetails/Languages/Type"):
        if _text(language, "LanguageType") == "F":
            first_language = _text(language, "Language")
    in_care = _text(element, "LookedAfter/InCare").lower()
    results = []
    for key_stage in element.iterfind("StageAssessments/KeyStage"):
        stage = _text(key_stage, "Stage")
        for assessment in key_stage.iterfind("StageAssessment"):
            results.append(
                StageResult(
                    stage=stage,
                    locale=_text(assessment, "Locale"),
                    year=_text(assessment, "Year"),
                    subject=_text(assessment, "Subject"),
                    method=_text(assessment, "Method"),
                    component=_text(assessment, "Component"),
                    result_status=_text(assessment, "ResultStatus"),
                    result_qualifier=_text(assessment, "ResultQualifier"),
                    result=_text(assessment, "Result"),
                    result_date=_date(_text(assessment, "ResultDate")),
                )
            )
    return CTFPupil(
        upn=upn,
        surname=_text(element, "Surname"),
        forename=_text(element, "Forename"),
        date_of_birth=dob,
        sex=_text(element, "Sex") or _text(element, "Gender"),  # Gender: the older versions' name
        nc_year=_text(element, "BasicDetails/NCyearActual"),
        ethnicity=_text(element, "BasicDetails/Ethnicity"),
        first_language=first_language,
        sen_provision=_text(element, "SENhistory/SEN/SENprovision"),
        fsm_eligible=_fsm_in_last_six_years(element, as_of),
        in_care={"true": True, "false": False}.get(in_care),
        results=tuple(results),
    )


def _events(stream: BinaryIO) -> Iterator[tuple[str, etree._Element]]:
    parser_events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        yield from parser_events
    except etree.XMLSyntaxError as error:
        line = f" (line {error.lineno})" if error.lineno else ""
        raise CTFError(f"The file is not well-formed XML{line}: {error.msg}.") from None


class CTFStream:
    """Pupils one at a time, for files of any size: ``header`` is set once the Header has been read
    (CTFs put it first), and ``problems`` grows as values that cannot be read are met."""

    def __init__(self, source: Path | bytes | BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._stream = _open(source, max_bytes)
        self.header: CTFHeader | None = None
        self.problems: list[Issue] = []
        self.not_read: Counter[str] = Counter()  # element -> pupils whose record has it

    def __iter__(self) -> Iterator[CTFPupil]:
        count = 0
        depth = 0
        in_pupil = in_header = False
        elements = 0  # in the pupil or header being read
        try:
            for event, element in _events(self._stream):
                if event == "start":
                    depth += 1
                    if depth == 1:
                        _check_root(element)
                    elif depth == 2 and element.tag == "Header":
                        in_header, elements = True, 0
                    elif depth == 3 and element.tag == "Pupil" and _parent_tag(element) == "CTFpupilData":
                        in_pupil, elements = True, 0
                    if in_pupil or in_header:
                        elements += 1
                        limit = MAX_ELEMENTS_PER_PUPIL if in_pupil else MAX_HEADER_ELEMENTS
                        if elements > limit:
                            where = f"Pupil[{count + 1}]" if in_pupil else "the Header"
                            raise CTFError(
                                f"{where} has more than {limit} elements: this is not a real record, "
                                "so the file was not read."
                            )
                    continue
                depth -= 1
                if in_pupil:
                    if depth == 2:  # the Pupil itself has ended
                        in_pupil = False
                        count += 1
                        as_of = self.header.generated_at.date() if self.header else date.today()
                        self.not_read.update(_not_read(element))
                        yield _pupil(element, f"CTfile/CTFpupilData/Pupil[{count}]", self.problems, as_of)
                        _free(element)
                    continue
                if in_header:
                    if depth == 1:
                        in_header = False
                        self.header = _header(element)
                        _free(element)
                    continue
                if depth == 2 and _parent_tag(element) == "CTFpupilData":
                    self.problems.append(
                        rules.CTF_NOT_A_PUPIL.issue(
                            path=f"CTfile/CTFpupilData/{element.tag}", tag=element.tag
                        )
                    )
                if depth >= 1:
                    _free(element)  # anything else outside pupils: memory never grows with it
        finally:
            self._stream.close()
        if self.header is None:
            raise CTFError("The file has no Header: it is not a complete Common Transfer File.")


def _parent_tag(element: etree._Element) -> str:
    parent = element.getparent()
    return str(parent.tag) if parent is not None else ""


def _free(element: etree._Element) -> None:
    element.clear()
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _check_root(element: etree._Element) -> None:
    docinfo = element.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or getattr(docinfo, "internalDTD", None) is not None:
        raise CTFError(
            "The file declares a document type (DTD). CTFs never do, and a DTD can hide "
            "harmful entities, so the file was not read."
        )
    if element.tag != "CTfile":
        raise CTFError(
            f"This is not a Common Transfer File: its root element is <{element.tag}>, not <CTfile>."
        )


def read_ctf(source: Path | bytes | BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CTFRead:
    """The header and every pupil, with a problem for each value that could not be read."""
    stream = CTFStream(source, max_bytes=max_bytes)
    pupils = list(stream)
    assert stream.header is not None  # the stream raises when the Header is missing
    return CTFRead(CTFDocument(stream.header, pupils), stream.problems, stream.not_read)


def _assessment_index(
    frameworks: FrameworkLibrary, year: int
) -> tuple[dict[str, Assessment], dict[str, str]]:
    """Every assessment of the year's frameworks; for a collection with none that early, those of its
    earliest, with a note (by assessment) saying so."""
    index: dict[str, Assessment] = {}
    notes: dict[str, str] = {}
    for collection in frameworks.collections():
        try:
            framework = frameworks.for_year(collection, year)
        except KeyError:
            versions = frameworks.versions(collection)
            if not versions:
                continue
            framework = min(versions, key=lambda f: f.from_year)
            note = (
                f"keystage has no {collection} framework for {year - 1}/{str(year)[-2:]}; its results "
                f"were checked against the nearest, in force from {framework.from_year - 1}/"
                f"{str(framework.from_year)[-2:]}"
            )
            notes.update({assessment.code: note for assessment in framework.assessments})
        for assessment in framework.assessments:
            index[assessment.code] = assessment
    return index, notes


def check_ctf(
    source: Path | bytes | BinaryIO,
    *,
    frameworks: FrameworkLibrary | None = None,
    mappings: list[AssessmentMapping] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> CTFRead:
    """Read the file and list every problem with its element path and the pupil's UPN."""
    read = read_ctf(source, max_bytes=max_bytes)
    document = read.document
    academic_year = (document.header.source.academic_year or document.header.generated_at.year - 1) + 1
    frameworks = frameworks or FrameworkLibrary.from_directory()
    assessments, notes = _assessment_index(frameworks, academic_year)
    try:
        mapping, fallback = nearest_mapping(
            shipped_mappings() if mappings is None else mappings, academic_year
        )
    except KeyError:
        mapping, fallback = None, ""
    warned: set[str] = set()
    version, expected = document.header.version, ctf_version(academic_year)
    if version < expected - 1:  # suppliers write the year's version, or last year's early on
        read.problems.append(
            rules.CTF_VERSION_OLD.issue(
                path="CTfile/Header/CTFversion",
                version=version,
                expected=expected,
                year=f"{academic_year - 1}/{str(academic_year)[-2:]}",
            )
        )

    def warn_once(rule: rules.Rule, note: str) -> None:
        if note and note not in warned:
            warned.add(note)
            read.problems.append(rule.issue(path="CTfile/Header/SourceSchool/AcademicYear", note=note))

    seen: dict[str, int] = {}
    unreadable_dates = {p.path for p in read.problems if p.code == rules.CTF_DOB_NOT_A_DATE.code}
    for number, pupil in enumerate(document.pupils, start=1):
        path = f"CTfile/CTFpupilData/Pupil[{number}]"
        problem = read.problems.append
        try:
            check_upn(pupil.upn)
        except InvalidUPNError as error:
            problem(rules.CTF_UPN_INVALID.issue(path=f"{path}/UPN", for_upn=pupil.upn, reason=error))
        if pupil.upn in seen:
            problem(
                rules.CTF_UPN_DUPLICATE.issue(path=f"{path}/UPN", for_upn=pupil.upn, first=seen[pupil.upn])
            )
        seen.setdefault(pupil.upn, number)
        for name, value in (("Surname", pupil.surname), ("Forename", pupil.forename)):
            if not value:
                problem(rules.CTF_NAME_MISSING.issue(path=f"{path}/{name}", for_upn=pupil.upn, name=name))
            elif (reason := odd_name(value)) is not None:
                odd = rules.CTF_NAME_ODD
                shown = visible(value)
                problem(
                    odd.issue(path=f"{path}/{name}", for_upn=pupil.upn, name=name, shown=shown, reason=reason)
                )
        if pupil.date_of_birth is None and f"{path}/DOB" not in unreadable_dates:
            problem(rules.CTF_DOB_MISSING.issue(path=f"{path}/DOB", for_upn=pupil.upn))
        if pupil.sex not in {"M", "F"}:
            problem(rules.CTF_SEX_INVALID.issue(path=f"{path}/Sex", for_upn=pupil.upn, value=pupil.sex))
        for index, result in enumerate(pupil.results, start=1):
            where = f"{path}/StageAssessments/StageAssessment[{index}]"
            entry = mapping.assessment_for(result) if mapping else None
            if entry is not None:
                warn_once(rules.CTF_MAPPING_OF_ANOTHER_YEAR, fallback)
                warn_once(rules.CTF_FRAMEWORK_OF_ANOTHER_YEAR, notes.get(entry.assessment, ""))
            if entry is None:
                stage, subject, method, component, qualifier = result.key
                problem(
                    rules.CTF_ASSESSMENT_UNMAPPED.issue(
                        path=where,
                        for_upn=pupil.upn,
                        stage=stage,
                        subject=subject,
                        method=method,
                        component=component,
                        qualifier=qualifier,
                        year=academic_year,
                    )
                )
                continue
            assessment = assessments.get(entry.assessment)
            if assessment is not None and not _valid(assessment, result.result):
                problem(
                    rules.CTF_RESULT_INVALID.issue(
                        path=where,
                        for_upn=pupil.upn,
                        value=result.result,
                        label=assessment.label,
                        valid=assessment.valid_results(),
                    )
                )
    return read


def _valid(assessment: Assessment, value: str) -> bool:
    if assessment.outcome(value) is not None:
        return True
    if assessment.score is None:
        return False
    try:
        return assessment.score.accepts(float(value))
    except ValueError:
        return False
