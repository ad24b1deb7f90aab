"""The check of an uploaded file, the worker's job: validated against its collection's layout and its
school's roster (check_file, shared with the API, the CLI and LA returns), then its outcome, pupils and
results stored (validate_stored_upload); uploads whose check was lost are queued again
(requeue_stalled_validations).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
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
from keystage.web.faults import DATABASE_UNAVAILABLE, FileNotStored, discard_unrecorded, save_whole
from keystage.web.queue import first_args_pending
from keystage.web.uploads import max_upload_bytes

logger = logging.getLogger(__name__)

# A check takes seconds: one started this long ago lost its worker; one queued this long ago and
# never started lost its task. Either is queued again (the task is safe to run twice).
STALLED_AFTER = timedelta(minutes=2)
LOST_AFTER = timedelta(minutes=10)
# Checks of one upload that may start without finishing before the file is refused as uncheckable.
CHECK_ATTEMPTS = 3
UNCHECKABLE_MESSAGE = rules.UPLOAD_UNCHECKABLE.message


def _uploads_with_a_check_pending() -> set[int]:
    from keystage.results.tasks import validate_upload_task

    return first_args_pending(validate_upload_task)


def queue_validation(upload_id: int) -> None:
    from keystage.results.tasks import validate_upload_task

    Upload.objects.filter(pk=upload_id).update(validation_queued_at=timezone.now())
    validate_upload_task.enqueue(upload_id)


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
    upload = Upload.objects.select_related("collection", "school").filter(pk=upload_id).first()
    if upload is None or upload.status != UploadStatus.PROCESSING:
        return upload
    if upload.validation_attempts >= CHECK_ATTEMPTS:
        # Every earlier check of it died with its worker (memory, a crash in a reader): stop trying.
        logger.error("upload %s refused after %s unfinished checks", upload_id, upload.validation_attempts)
        return _finish(upload_id, None, [rules.UPLOAD_UNCHECKABLE.issue().as_dict()], None)
    Upload.objects.filter(pk=upload_id).update(
        validation_started_at=timezone.now(), validation_attempts=F("validation_attempts") + 1
    )
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
                return _finish(upload_id, None, issues, report)
            school = target.school
            report = check_file(data, collection.kind, collection.year, school)
    except CollectionError as error:
        return _finish(upload_id, None, [_file_issue(str(error))], None)
    except DATABASE_UNAVAILABLE:
        raise  # not the file's fault: it stays processing, and the task is run again (keystage worker)
    except Exception:  # never leave an upload processing for ever; the log has the details
        logger.exception("upload %s could not be checked", upload_id)
        message = (
            "This file could not be checked. Upload it again; if the problem stays, tell your administrator."
        )
        return _finish(upload_id, None, [_file_issue(message)], None)
    return _finish(upload_id, school, [i.as_dict() for i in report.issues], report, layout)


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


def _finish(
    upload_id: int,
    school: School | None,
    issues: list[dict[str, Any]],
    report: ValidationReport | None,
    layout: TemplateLayout | None = None,
) -> Upload | None:
    valid = (
        report is not None
        and report.valid
        and school is not None
        and not any(i["severity"] == "error" for i in issues)
    )
    # Written and stored before the transaction, so no lock is held while it is; the error list on
    # the page says everything the workbook does, so an upload whose workbook could not be made or
    # kept (a full disk) still ends with its errors shown, and without the download.
    kept = Upload(pk=upload_id)
    # A file that passed with warnings gets its workbook too: the roster's differences marked in it.
    marked = report is not None and (not valid or bool(report.warnings))
    if report is not None and marked and report.rows is not None and layout is not None:
        try:
            workbook = write_error_workbook(layout, report.rows, report.issues)
            save_whole(kept.error_workbook, f"errors-{upload_id}.xlsx", ContentFile(workbook))
        except FileNotStored:
            pass  # logged where it failed
        except Exception:
            logger.exception("error workbook for upload %s could not be written", upload_id)
    try:
        with transaction.atomic():
            upload = Upload.objects.select_for_update().get(pk=upload_id)
            if upload.status == UploadStatus.PROCESSING:
                upload.school = school or upload.school
                upload.issues = issues
                upload.error_count = sum(1 for i in issues if i["severity"] == "error")
                upload.warning_count = len(issues) - upload.error_count
                upload.file_format = report.format or "" if report else ""
                upload.pupil_count = len(report.pupils) if report else None
                upload.validated_at = timezone.now()
                upload.status = UploadStatus.SUCCESSFUL if valid else UploadStatus.ERROR
                upload.error_workbook.name = kept.error_workbook.name or ""
                upload.save()
                if valid and report is not None and layout is not None:
                    _store_results(upload, report, layout)
            # else another run finished first, and this run's workbook is not used
    except BaseException:
        discard_unrecorded(
            kept.error_workbook, Upload.objects.filter(error_workbook=kept.error_workbook.name)
        )
        raise
    if kept.error_workbook.name and upload.error_workbook.name != kept.error_workbook.name:
        kept.error_workbook.storage.delete(kept.error_workbook.name)
    return upload


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
    """Uploads left processing with no check queued or running for them (the task was lost, or
    failed) are queued again, and one whose every check died with its worker is refused (it is
    not counted in what is returned: the number queued again). The worker runs this when it
    starts and every minute after. A check still queued or running is left alone, however long it
    takes: a dead worker's task is queued again by the worker itself (requeue_orphaned_tasks)."""
    now = now or timezone.now()
    pending = _uploads_with_a_check_pending()
    processing = Upload.objects.filter(status=UploadStatus.PROCESSING).exclude(pk__in=pending)
    # A file whose every check died with its worker is refused by this sweep, the one that found the
    # last death, rather than queued again after another wait.
    spent = processing.filter(validation_attempts__gte=CHECK_ATTEMPTS)
    for upload_id in spent.values_list("pk", flat=True):
        validate_stored_upload(upload_id)
    stalled = processing.filter(validation_attempts__lt=CHECK_ATTEMPTS).filter(
        Q(validation_started_at__lt=now - STALLED_AFTER)
        | Q(validation_started_at__isnull=True, validation_queued_at__lt=now - LOST_AFTER)
        | Q(validation_queued_at__isnull=True, uploaded_at__lt=now - STALLED_AFTER)
    )
    ids = list(stalled.values_list("pk", flat=True))
    Upload.objects.filter(pk__in=ids).update(validation_started_at=None)
    for upload_id in ids:
        queue_validation(upload_id)
    return len(ids)
