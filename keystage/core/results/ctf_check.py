"""A CTF's pupils and StageAssessments through the same checks as a spreadsheet's rows: a pupil's "row"
is its place in the file (Pupil 1, 2, ...) and its "column" the CTF element; results are read through
the year's CTF assessment mapping, and results for another collection are counted, not checked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from keystage.core.ctf.model import AssessmentMapping, CTFDocument
from keystage.core.ctf.reader import CTFError, read_ctf
from keystage.core.results import rules
from keystage.core.results.cells import Place
from keystage.core.results.kinds import academic_year_name
from keystage.core.results.layout import TemplateLayout
from keystage.core.results.pupil_checks import PupilChecks
from keystage.core.results.reading import UnreadableFileError
from keystage.core.results.roster import UploadContext
from keystage.core.results.validation_report import PupilEntry, ValidationReport

# Where a CTF pupil's roster differences are said to be: its elements.
CTF_PLACES = {
    "upn": Place("UPN", "UPN"),
    "forename": Place("Forename", "Forename"),
    "surname": Place("Surname", "Surname"),
    "dob": Place("DOB", "Date of birth"),
    "gender": Place("Sex", "Sex"),
    "nc_year": Place("NCyearActual", "NC year"),
}


def ctf_pupil_words(upn: str, surname: str, forename: str, number: int) -> str:
    """A CTF's pupil as people know them: UPN and name as the file gives them, or its place in the
    file when it gives neither."""
    name = ", ".join(part.strip() for part in (surname, forename) if part and part.strip())
    upn = (upn or "").strip()
    if upn and name:
        return f"UPN {upn}, {name}"
    if upn or name:
        return f"UPN {upn}" if upn else name
    return f"Pupil {number} in the file (no UPN or name)"


def check_ctf(
    data: bytes,
    layout: TemplateLayout,
    context: UploadContext,
    mapping: AssessmentMapping | None,
    report: ValidationReport,
    max_bytes: int,
) -> None:
    """A CTF's pupils and StageAssessments through the same checks; a pupil's "row" is its place in
    the file (Pupil 1, 2, ...) and its "column" the CTF element."""
    if not layout.kind.takes_ctf:
        raise UnreadableFileError(rules.CTF_NOT_ACCEPTED.issue(title=layout.kind.title))
    try:
        read = read_ctf(data, max_bytes=max_bytes)
    except CTFError as error:
        raise UnreadableFileError(rules.CTF_UNREADABLE.issue(reason=str(error))) from None
    document: CTFDocument = read.document
    checks = PupilChecks(layout, context, report)
    source = document.header.source
    school_dfe = f"{source.la}{source.estab}"
    dfe_place = Place("SourceSchool", "LEA and Estab")
    wanted = {column.key for column in layout.subjects}
    labels = {column.key: column.header for column in layout.subjects}
    any_result = False
    unmapped: set[tuple[str, ...]] = set()
    elsewhere: Counter[tuple[str, ...]] = Counter()  # results for another collection, by what they are
    # The DfE number is the file's, not each pupil's: checked once.
    header_entry = PupilEntry(row=0, upn="")
    checks.dfe(header_entry, None, school_dfe, dfe_place)
    if header_entry.dfe:
        report.dfe_numbers[header_entry.dfe] = len(document.pupils)
    named: dict[int, str] = {}
    for number, pupil in enumerate(document.pupils, start=1):
        named[number] = ctf_pupil_words(pupil.upn, pupil.surname, pupil.forename, number)
        entry = PupilEntry(row=number, upn="", dfe=header_entry.dfe)
        if pupil.nc_year:
            checks.nc_year(entry, number, pupil.nc_year, Place("NCyearActual", "NC year"))
        checks.upn(entry, number, pupil.upn, Place("UPN", "UPN"))
        checks.name(entry, "forename", number, pupil.forename, Place("Forename", "Forename"))
        checks.name(entry, "surname", number, pupil.surname, Place("Surname", "Surname"))
        checks.birth_date(entry, number, pupil.date_of_birth or "", Place("DOB", "Date of birth"))
        sex = {"F": "Female", "M": "Male"}.get(pupil.sex, pupil.sex)
        checks.gender(entry, number, sex, Place("Sex", "Sex"))
        for result in pupil.results:
            mapped = mapping.assessment_for(result) if mapping else None
            if mapped is None:
                unmapped.add(result.key)
                continue
            if mapped.assessment not in wanted:
                # another collection's assessment, e.g. KS1 results in a KS2 pupil's file: counted
                elsewhere[result.key[:4]] += 1
                continue
            place = Place(f"StageAssessment {'/'.join(result.key)}", labels[mapped.assessment])
            read_as = checks.checkers[mapped.assessment].check(number, result.result, place, report.issues)
            any_result = any_result or bool(result.result.strip())
            if read_as is not None:
                entry.results[mapped.assessment] = read_as
        checks.against_roster(entry, CTF_PLACES)
        report.pupils.append(entry)
    # A CTF has no rows a person can see: each pupil's problem names the pupil, as the file does.
    report.issues[:] = [replace(i, pupil=named[i.row]) if i.row in named else i for i in report.issues]
    for key in sorted(unmapped):
        stage, subject, method, component, qualifier = key
        report.issues.append(
            rules.CTF_UNMAPPED.issue(
                stage=stage,
                subject=subject,
                method=method,
                component=component,
                qualifier=qualifier,
                year=academic_year_name(layout.year),
            )
        )
    for (stage, subject, method, component), count in sorted(elsewhere.items()):
        one = count == 1
        report.issues.append(
            rules.CTF_OTHER_COLLECTION.issue(
                count=count,
                stage=stage,
                subject=subject,
                method=method,
                component=component,
                plural="" if one else "s",
                verb="s" if one else "",
                title=layout.kind.title,
                pronoun="it" if one else "they",
                was="was" if one else "were",
            )
        )
    if read.not_read:
        parts = ", ".join(f"{name} ({count})" for name, count in sorted(read.not_read.items()))
        report.issues.append(rules.CTF_NOT_READ.issue(parts=parts))
    if not document.pupils:
        report.issues.append(rules.NO_PUPILS.issue())
    elif not any_result:
        report.issues.append(rules.BLANK_TEMPLATE.issue())
