"""What a school downloads from a collection: its template pre-filled from the roster (download_template),
an uploaded file or its error workbook (open_stored_file), and the pupils and results kept from an
upload (submitted_results). Each download is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import File
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.results.kinds import KINDS
from keystage.core.results.workbooks import TemplatePupil, write_template
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.results.models import (
    Collection,
    Result,
    SubmittedPupil,
    TemplateDownload,
    Upload,
    UploadStatus,
)
from keystage.results.services import CollectionError, layout_for


def roster_for(school: School, year: int, kind: str) -> list[Pupil]:
    return list(
        Pupil.objects.filter(
            school=school, academic_year=year, on_roll=True, nc_year__in=KINDS[kind].nc_years
        ).order_by("surname", "forename", "upn")
    )


def template_filename(collection: Collection, school: School) -> str:
    return f"{school.dfe_number}_{collection.kind}_{collection.year}_template.xlsx"


def download_template(collection: Collection, school: School, *, actor: Any, ip: str | None = None) -> bytes:
    if actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)
    layout = layout_for(collection.kind, collection.year)
    pupils = [
        TemplatePupil(p.upn, p.forename, p.surname, p.date_of_birth, p.sex, p.nc_year)
        for p in roster_for(school, collection.year, collection.kind)
    ]
    data = write_template(
        layout, pupils, school_name=school.name, dfe=school.dfe_number, made_on=timezone.localdate()
    )
    TemplateDownload.objects.create(
        collection=collection,
        school=school,
        user=actor if getattr(actor, "pk", None) else None,
        pupils=len(pupils),
    )
    log.record(
        AuditAction.TEMPLATE_DOWNLOADED,
        actor=actor,
        organisation=school,
        subject=str(collection),
        ip_address=ip,
        pupils=len(pupils),
    )
    return data


def open_stored_file(upload: Upload, *, which: str, actor: Any, ip: str | None = None) -> File[Any]:
    """An uploaded file (``which="file"``) or its error workbook (``"errors"``), for download; the
    caller has checked the actor may see the upload. Deleted uploads have neither. Audited."""
    if which == "errors" and (not upload.error_workbook or upload.status == UploadStatus.DELETED):
        raise CollectionError("This upload has no error workbook: only files with errors have one.")
    if which != "errors" and not upload.can_download:
        raise CollectionError("This upload was deleted; its file is no longer kept.")
    stored = upload.error_workbook if which == "errors" else upload.file
    try:
        handle: File[Any] = stored.open("rb")
    except FileNotFoundError:
        raise CollectionError("This file is no longer in storage.") from None
    log.record(
        AuditAction.UPLOAD_DOWNLOADED,
        actor=actor,
        organisation=upload.school or upload.via_organisation,
        subject=f"{upload.collection}: {'error workbook of ' if which == 'errors' else ''}{upload.filename}",
        ip_address=ip,
        upload=upload.pk,
        file=which,
    )
    return handle


def submitted_results(upload: Upload, *, actor: Any, ip: str | None = None) -> list[dict[str, Any]]:
    """The pupils and results stored from a checked, valid upload, row by row, as the file gave them;
    the caller has checked the actor may see the upload. They name pupils: audited."""
    refusals = {
        UploadStatus.PROCESSING: "This upload is still being checked; its results are kept once the check "
        "has finished.",
        UploadStatus.ERROR: "This upload has errors, so its results were not kept: fix them and upload the "
        "file again.",
        UploadStatus.DELETED: "This upload was deleted; its results are no longer kept.",
    }
    if upload.status in refusals:
        raise CollectionError(refusals[UploadStatus(upload.status)])
    values: dict[int, dict[str, str]] = {}
    for pupil_id, subject, value in Result.objects.filter(upload=upload).values_list(
        "pupil_id", "subject", "value"
    ):
        values.setdefault(pupil_id, {})[subject] = value
    pupils = [
        {
            "row": p.row,
            "upn": p.upn,
            "forename": p.forename,
            "surname": p.surname,
            "date_of_birth": p.date_of_birth.isoformat() if p.date_of_birth else None,
            "sex": p.sex,
            "nc_year": p.nc_year,
            "results": values.get(p.pk, {}),
        }
        for p in SubmittedPupil.objects.filter(upload=upload).order_by("row")
    ]
    log.record(
        AuditAction.PUPILS_VIEWED,
        actor=actor,
        organisation=upload.school or upload.via_organisation,
        subject=f"{upload.collection}: results of {upload.filename}",
        ip_address=ip,
        upload=upload.pk,
        pupils=len(pupils),
    )
    return pupils
