"""A school's confirmed results as a CTF: each result a StageAssessment, coded through the year's
versioned assessment mapping, for the LA return of the collection (EYFSP, phonics, KS1, KS2 TA).

The one builder the command line and the web share. It takes plain data (the pupils of the
confirmed upload with their results by our assessment code) and gives the file and what went in
it: a result left blank is not written, and a result of an assessment the mapping has no coding
for is counted in ``unmapped``, never dropped without saying so.

The same results always make the same bytes (the header's DateTime is the caller's, e.g. when the
results were confirmed): a file sent twice is recognised as the same file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from keystage.core.ctf.model import (
    AssessmentMapping,
    CTFDocument,
    CTFHeader,
    CTFPupil,
    SchoolRef,
    StageResult,
    ctf_filename,
    ctf_version,
    mapping_in_force,
)
from keystage.core.ctf.writer import write_ctf
from keystage.core.refusals import Refused

LOCALE = "ENG"
RESULT_STATUS = "R"  # a result, as the MTC coding in shared/domain/ctf.md has it


class ResultsCTFError(Refused, ValueError):
    """The results cannot be written as a CTF; str() says why."""


@dataclass(frozen=True)
class ResultsPupil:
    """A pupil of the confirmed upload, with their results by assessment code as confirmed."""

    upn: str
    forename: str
    surname: str
    date_of_birth: date | None
    sex: str  # F / M
    nc_year: int | None  # 0 is Reception
    results: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultsCTF:
    document: CTFDocument
    data: bytes
    filename: str  # the standard name, with the sequence asked for
    pupils: int
    results: int  # StageAssessments written
    unmapped: Mapping[str, int]  # assessment code -> results not written: no coding in the mapping
    mapping_year: int  # from_year of the mapping used

    @property
    def source(self) -> SchoolRef:
        return self.document.header.source

    @property
    def destination(self) -> SchoolRef:
        return self.document.header.destination

    def filename_for(self, sequence: int) -> str:
        return ctf_filename(self.source, self.destination, sequence)


def _nc_year_text(nc_year: int | None) -> str:
    if nc_year is None:
        return ""
    return "R" if nc_year == 0 else str(nc_year)


def results_ctf(
    pupils: Sequence[ResultsPupil],
    *,
    source: SchoolRef,
    destination: SchoolRef,
    year: int,
    mappings: list[AssessmentMapping],
    generated_at: datetime,
    sequence: int = 1,
    supplier_id: str = "keystage",
) -> ResultsCTF:
    """The pupils' results for the academic year ending ``year`` as a CTF from ``source`` to
    ``destination``. Pupils keep their order; each pupil's results follow the mapping's order.
    ResultsCTFError when no mapping covers the year."""
    try:
        mapping = mapping_in_force(mappings, year)
    except KeyError as error:
        raise ResultsCTFError(
            f"{error.args[0]}: an administrator loads the year's CTF mapping, then the CTF can be made."
        ) from None
    order = {entry.assessment: index for index, entry in enumerate(mapping.entries)}
    unmapped: dict[str, int] = {}
    written = 0
    ctf_pupils: list[CTFPupil] = []
    for pupil in pupils:
        stage_results: list[StageResult] = []
        for assessment, value in sorted(
            pupil.results.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
        ):
            result = value.strip()
            if not result:
                continue  # left blank in the upload: not assessed, nothing to write
            entry = mapping.entry_for(assessment)
            if entry is None:
                unmapped[assessment] = unmapped.get(assessment, 0) + 1
                continue
            stage_results.append(
                StageResult(
                    stage=entry.stage,
                    locale=LOCALE,
                    year=str(year),
                    subject=entry.subject,
                    method=entry.method,
                    component=entry.component,
                    result_status=RESULT_STATUS,
                    result_qualifier=entry.result_qualifier,
                    result=result,
                )
            )
        written += len(stage_results)
        ctf_pupils.append(
            CTFPupil(
                upn=pupil.upn,
                surname=pupil.surname,
                forename=pupil.forename,
                date_of_birth=pupil.date_of_birth,
                sex=pupil.sex,
                nc_year=_nc_year_text(pupil.nc_year),
                results=tuple(stage_results),
            )
        )
    # The reader takes the academic year from the source school's AcademicYear (its start year).
    source = replace(source, academic_year=year - 1)
    header = CTFHeader(
        version=ctf_version(year),
        generated_at=generated_at.replace(microsecond=0, tzinfo=None),
        document_qualifier="partial",  # assessment-only files are partial
        supplier_id=supplier_id,
        source=source,
        destination=destination,
    )
    document = CTFDocument(header, ctf_pupils)
    return ResultsCTF(
        document=document,
        data=write_ctf(document),
        filename=ctf_filename(source, destination, sequence),
        pupils=len(ctf_pupils),
        results=written,
        unmapped=dict(sorted(unmapped.items())),
        mapping_year=mapping.from_year,
    )
