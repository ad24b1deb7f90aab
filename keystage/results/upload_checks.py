"""The check of an uploaded file, the worker's job: validated against its collection's layout and its
school's roster (check_file, shared with the API, the CLI and LA returns), then its outcome, pupils and
results stored (validate_stored_upload); uploads whose check was lost are queued again
(requeue_stalled_validations). The life of the check is shared with LA returns (web.stored_checks):
this module says what an upload's check reads and what its outcome writes (UPLOADS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from keystage.core.ctf.model import mapping_in_force
from keystage.core.results import rules
from keystage.core.results.layout import TemplateLayout
from keystage.core.results.roster import RosterPupil, UploadContext
from keystage.core.results.validation import validate_upload
from keystage.core.results.validation_report import ValidationReport
from keystage.core.results.workbooks import write_error_workbook
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.reference_data import services as reference
from keystage.results.models import (
    Result,
    SubmittedPupil,
    Upload,
    UploadStatus,
)
from keystage.results.services import CollectionError, alternatives, layout_for
from keystage.web import stored_checks
from keystage.web.faults import FileNotStored, save_whole
from keystage.web.uploads import max_upload_bytes

logger = logging.getLogger(__name__)


def queue_validation(upload_id: int) -> None:
    stored_checks.queue(UPLOADS, upload_id)


@dataclass(frozen=True)
class _Target:
    school: School | None
    problem: str | None


def _school_for_bulk(upload: Upload, report: ValidationReport) -> _Target:
    """In a trust's bulk upload, the school whose DfE number the file carries, if the trust has it."""
    dfe = report.school_dfe
    if dfe is None:
        named = ", ".join(sorted(report.dfe_numbers)) or "none"
        return _Target(None, f"The file must name exactly one school's DfE number (it names {named}).")
    school = School.objects.by_dfe_number(dfe)
    trust_id = upload.via_organisation_id
    if school is None or school.trust_id != trust_id:
        return _Target(None, f"DfE number {dfe} is not a school of this trust; the file was not used.")
    return _Target(school, None)


def check_file(data: bytes, kind: str, year: int, school: School | None = None) -> ValidationReport:
    """Validate a file as an upload to the collection would be (the page, the API and the CLI share
    it): against the school's DfE number and roster when a school is given. Raises CollectionError
    when the collection's reference data is missing."""
    layout = layout_for(kind, year)
    try:
        mapping = mapping_in_force(reference.ctf_mappings(), year)
    except KeyError:
        mapping = None
    return validate_upload(
        data,
        layout,
        upload_context(school, year),
        mapping=mapping,
        alternatives=alternatives(kind, year),
        max_bytes=max_upload_bytes(),
    )


def validate_stored_upload(upload_id: int) -> Upload | None:
    """The worker's part of an upload: validate, then store the outcome, pupils and results.

    Safe to run twice (a worker restarted after being killed re-runs it): only the first to finish
    writes, and an upload no longer processing is left alone."""
    return stored_checks.run_check(UPLOADS, upload_id)


@dataclass(frozen=True)
class _Checked:
    """An upload's outcome: the school it is for (found from the file in a trust's bulk upload)."""

    school: School | None
    issues: list[dict[str, Any]]
    report: ValidationReport | None = None
    layout: TemplateLayout | None = None

    @property
    def valid(self) -> bool:
        return (
            self.report is not None
            and self.report.valid
            and self.school is not None
            and not any(i["severity"] == "error" for i in self.issues)
        )


def _check_upload(upload: Upload) -> _Checked:
    collection = upload.collection
    try:
        with upload.file.open("rb") as stored:
            data = stored.read()
        layout = layout_for(collection.kind, collection.year)
        school = upload.school
        report = check_file(data, collection.kind, collection.year, school)
        if school is None and report.readable:
            target = _school_for_bulk(upload, report)
            if target.school is None:
                issues = [*(i.as_dict() for i in report.issues), _file_issue(target.problem or "")]
                return _Checked(None, issues, report)
            school = target.school
            report = check_file(data, collection.kind, collection.year, school)
    except CollectionError as error:
        return _Checked(None, [_file_issue(str(error))])
    return _Checked(school, [i.as_dict() for i in report.issues], report, layout)


def _refused(issues: list[dict[str, Any]]) -> _Checked:
    return _Checked(None, issues)


def _check_failed() -> dict[str, Any]:
    return _file_issue(
        "This file could not be checked. Upload it again; if the problem stays, tell your administrator."
    )


def _file_issue(reason: str) -> dict[str, Any]:
    return rules.UPLOAD_REFUSED.issue(reason=reason).as_dict()


def upload_context(school: School | None, year: int) -> UploadContext:
    if school is None:
        return UploadContext()
    roster = {
        p.upn: RosterPupil(p.upn, p.forename, p.surname, p.date_of_birth, p.sex, p.nc_year)
        for p in Pupil.objects.filter(school=school, academic_year=year).only(
            "upn", "forename", "surname", "date_of_birth", "sex", "nc_year"
        )
    }
    return UploadContext(school_dfe=school.dfe_number, school_name=school.name, roster=roster)


def _write_error_workbook(upload_id: int, checked: _Checked) -> list[FieldFile]:
    """Written and stored before the row is locked, so no lock is held while it is; the error list on
    the page says everything the workbook does, so an upload whose workbook could not be made or
    kept (a full disk) still ends with its errors shown, and without the download."""
    report, layout = checked.report, checked.layout
    # A file that passed with warnings gets its workbook too: the roster's differences marked in it.
    marked = report is not None and (not checked.valid or bool(report.warnings))
    if report is None or not marked or report.rows is None or layout is None:
        return []
    kept = Upload(pk=upload_id)
    try:
        workbook = write_error_workbook(layout, report.rows, report.issues)
        save_whole(kept.error_workbook, f"errors-{upload_id}.xlsx", ContentFile(workbook))
    except FileNotStored:
        pass  # logged where it failed
    except Exception:
        logger.exception("error workbook for upload %s could not be written", upload_id)
    return [kept.error_workbook]


def _store_outcome(upload: Upload, checked: _Checked, made: list[FieldFile]) -> None:
    issues, report = checked.issues, checked.report
    upload.school = checked.school or upload.school
    upload.issues = issues
    upload.error_count = sum(1 for i in issues if i["severity"] == "error")
    upload.warning_count = len(issues) - upload.error_count
    upload.file_format = report.format or "" if report else ""
    upload.pupil_count = len(report.pupils) if report else None
    upload.validated_at = timezone.now()
    upload.status = UploadStatus.SUCCESSFUL if checked.valid else UploadStatus.ERROR
    upload.error_workbook.name = made[0].name if made else ""  # the one file _write_error_workbook makes
    upload.save()
    if checked.valid and report is not None and checked.layout is not None:
        _store_results(upload, report, checked.layout)


def _store_results(upload: Upload, report: ValidationReport, layout: TemplateLayout) -> None:
    pupils = SubmittedPupil.objects.bulk_create(
        SubmittedPupil(
            upload=upload,
            row=p.row,
            upn=p.upn,
            forename=p.forename[:100],
            surname=p.surname[:100],
            date_of_birth=p.date_of_birth,
            sex=p.sex,
            nc_year=p.nc_year,
        )
        for p in report.pupils
    )
    columns = {c.key: c for c in layout.subjects}
    is_ks4 = layout.kind.key.startswith("ks4")
    Result.objects.bulk_create(
        (
            Result(
                upload=upload,
                pupil=stored,
                subject=key,
                qan=key if is_ks4 else "",
                discount_code=columns[key].discount_code,
                value=value,
            )
            for stored, entry in zip(pupils, report.pupils, strict=True)
            for key, value in entry.results.items()
        ),
        batch_size=2000,
    )


def requeue_stalled_validations(now: datetime | None = None) -> int:
    """Uploads left processing with no check queued or running for them are queued again, and one
    whose every check died with its worker is refused (stored_checks.requeue_stalled). The worker
    runs this when it starts and every minute after."""
    return stored_checks.requeue_stalled(UPLOADS, now)


def _task() -> Any:
    from keystage.results.tasks import validate_upload_task

    return validate_upload_task


UPLOADS: stored_checks.StoredFileKind[Upload, _Checked] = stored_checks.StoredFileKind(
    name="upload",
    model=Upload,
    waiting_field="status",
    waiting_value=UploadStatus.PROCESSING,
    arrived_field="uploaded_at",
    task=_task,
    rows=lambda: Upload.objects.select_related("collection", "school"),
    check=_check_upload,
    refusal=_refused,
    uncheckable=rules.UPLOAD_UNCHECKABLE,
    check_failed=_check_failed,
    store=_store_outcome,
    prepare=_write_error_workbook,
)
