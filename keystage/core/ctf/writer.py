"""Writing a CTF: the structure of shared/domain/ctf.md, with the elements the reader reads."""

from __future__ import annotations

from lxml import etree

from keystage.core.ctf.model import CTFDocument, CTFPupil, SchoolRef


def _add(parent: etree._Element, tag: str, text: str | None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text:
        element.text = text
    return element


def _school(parent: etree._Element, tag: str, school: SchoolRef, *, source: bool) -> None:
    element = etree.SubElement(parent, tag)
    _add(element, "LEA", school.la)
    _add(element, "Estab", school.estab)
    if school.urn:
        _add(element, "URN", school.urn)
    if source:
        _add(element, "SchoolName", school.name)
        _add(element, "AcademicYear", str(school.academic_year) if school.academic_year is not None else "")


def _pupil(parent: etree._Element, pupil: CTFPupil) -> None:
    element = etree.SubElement(parent, "Pupil")
    _add(element, "UPN", pupil.upn)
    _add(element, "Surname", pupil.surname)
    _add(element, "Forename", pupil.forename)
    _add(element, "DOB", pupil.date_of_birth.isoformat() if pupil.date_of_birth else "")
    _add(element, "Sex", pupil.sex)
    details = etree.SubElement(element, "BasicDetails")
    if pupil.nc_year:
        _add(details, "NCyearActual", pupil.nc_year)
    if pupil.ethnicity:
        _add(details, "Ethnicity", pupil.ethnicity)
    if pupil.first_language:
        language = etree.SubElement(etree.SubElement(details, "Languages"), "Type")
        _add(language, "LanguageType", "F")
        _add(language, "Language", pupil.first_language)
    if pupil.fsm_eligible:
        etree.SubElement(etree.SubElement(element, "FSMhistory"), "FSMinstance")
    if pupil.in_care is not None:
        _add(etree.SubElement(element, "LookedAfter"), "InCare", "true" if pupil.in_care else "false")
    if pupil.sen_provision:
        _add(
            etree.SubElement(etree.SubElement(element, "SENhistory"), "SEN"),
            "SENprovision",
            pupil.sen_provision,
        )
    if pupil.results:
        assessments = etree.SubElement(element, "StageAssessments")
        by_stage: dict[str, etree._Element] = {}
        for result in pupil.results:
            stage = by_stage.get(result.stage)
            if stage is None:
                stage = by_stage[result.stage] = etree.SubElement(assessments, "KeyStage")
                _add(stage, "Stage", result.stage)
            item = etree.SubElement(stage, "StageAssessment")
            for tag, value in (
                ("Locale", result.locale),
                ("Year", result.year),
                ("Subject", result.subject),
                ("Method", result.method),
                ("Component", result.component),
                ("ResultStatus", result.result_status),
                ("ResultQualifier", result.result_qualifier),
                ("Result", result.result),
            ):
                _add(item, tag, value)
            if result.result_date:
                _add(item, "ResultDate", result.result_date.isoformat())


def write_ctf(document: CTFDocument) -> bytes:
    """The document as CTF XML (UTF-8, with a declaration)."""
    root = etree.Element("CTfile")
    header = etree.SubElement(root, "Header")
    _add(header, "DocumentName", "Common Transfer File")
    _add(header, "CTFversion", f"{document.header.version}.0")
    _add(header, "DateTime", document.header.generated_at.isoformat(timespec="seconds"))
    _add(header, "DocumentQualifier", document.header.document_qualifier)
    _add(header, "SupplierID", document.header.supplier_id)
    _school(header, "SourceSchool", document.header.source, source=True)
    _school(header, "DestSchool", document.header.destination, source=False)
    pupils = etree.SubElement(root, "CTFpupilData")
    for pupil in document.pupils:
        _pupil(pupils, pupil)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
