"""A school's (or a trust's bulk) upload of a results file: stored whole and queued for its check
(upload_results, bulk_upload), and deleted by its uploader (delete_upload).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.roles import Action
from keystage.measures.refresh import results_in_use_changed
from keystage.organisations.models import School
from keystage.results.models import (
    Collection,
    SubmittedPupil,
    Upload,
    UploadStatus,
)
from keystage.results.services import CollectionError
from keystage.results.upload_checks import queue_validation
from keystage.web.faults import FileNotStored, discard_unrecorded, save_whole
from keystage.web.uploads import file_digest, max_upload_bytes, too_large_message


def _refuse_outside_window(collection: Collection, now: datetime) -> None:
    if now < collection.opens_at:
        raise CollectionError(
            f"{collection} opens on {timezone.localtime(collection.opens_at):%d %B %Y at %H:%M}; uploads are "
            "accepted from then."
        )
    if now > collection.final_deadline:
        closed = timezone.localtime(collection.final_deadline)
        raise CollectionError(
            f"{collection} closed at its final deadline, {closed:%d %B %Y at %H:%M}. "
            "Uploads are no longer accepted."
        )


def _refuse_closed(school: School | None) -> None:
    """A closed school keeps its history and reports but takes part in no new collection."""
    if school is not None and not school.is_open:
        closed = f" on {school.closed_on:%d %B %Y}" if school.closed_on else ""
        raise CollectionError(
            f"{school.name} closed{closed}: it takes part in no new collection. Its earlier submissions and "
            "reports stay available."
        )


def _store(upload: Upload, source: File[Any]) -> None:
    """Keep the file whole, or raise FileNotStored with nothing of it left (a full disk)."""
    upload.sha256, upload.size = file_digest(source)
    suffix = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else "bin"
    name = f"{upload.collection.kind}-{upload.collection.year}-{get_random_string(16)}.{suffix[:5]}"
    save_whole(upload.file, name, source)


def upload_results(
    collection: Collection,
    school: School | None,
    source: File[Any],
    *,
    filename: str,
    actor: Any,
    ip: str | None = None,
    via_organisation: Any = None,
    batch: str = "",
) -> Upload:
    """Store the file and queue its validation; the page shows the outcome when the worker is done.

    ``school`` is None in a trust's bulk upload: the school is found from the DfE number inside.
    Raises FileNotStored when storage cannot keep the file: then nothing is saved or queued."""
    if school is not None and actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)
    now = timezone.now()
    _refuse_outside_window(collection, now)
    _refuse_closed(school)
    size = source.size or 0
    if size > max_upload_bytes():
        raise CollectionError(too_large_message(filename))
    if size == 0:
        raise CollectionError(f"{filename} is empty.")
    upload = Upload(
        collection=collection,
        school=school,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
        uploaded_by_email=getattr(actor, "email", ""),
        uploaded_at=now,
        filename=filename[:255],
        via_organisation=via_organisation,
        batch=batch,
    )
    _store(upload, source)
    try:
        with transaction.atomic():
            upload.save()
            log.record(
                AuditAction.RESULTS_UPLOADED,
                actor=actor,
                organisation=school or via_organisation,
                subject=f"{collection}: {upload.filename}",
                ip_address=ip,
                upload=upload.pk,
                sha256=upload.sha256,
            )
            # Robust: the upload is saved whatever happens here; one not queued is found by the sweep.
            transaction.on_commit(lambda: queue_validation(upload.pk), robust=True)
    except BaseException:
        # No row, no file: the database went away, or the request was ended, before the commit.
        held = (
            Upload.objects.filter(pk=upload.pk, file=upload.file.name) if upload.pk else Upload.objects.none()
        )
        discard_unrecorded(upload.file, held)
        raise
    return upload


def new_batch() -> str:
    return get_random_string(12)


def bulk_upload(
    collection: Collection,
    organisation: Any,
    files: Sequence[File[Any]],
    *,
    actor: Any,
    ip: str | None = None,
) -> tuple[str, list[Upload], list[str]]:
    """A trust uploads several schools' files at once: each is stored and validated on its own and
    matched to its school by the DfE number inside. Returns the batch, the uploads, and the files
    refused before storing (empty, too large) with the reason."""
    policy.require(actor, Action.SUBMIT_DATA, organisation)
    if not files:
        raise CollectionError("Choose one or more files to upload.")
    _refuse_outside_window(collection, timezone.now())
    batch = new_batch()
    uploads: list[Upload] = []
    refused: list[str] = []
    for source in files:
        name = getattr(source, "name", "") or "file"
        try:
            uploads.append(
                upload_results(
                    collection,
                    None,
                    source,
                    filename=name,
                    actor=actor,
                    ip=ip,
                    via_organisation=organisation,
                    batch=batch,
                )
            )
        except (CollectionError, FileNotStored) as error:
            refused.append(f"{name}: {error}" if isinstance(error, FileNotStored) else str(error))
    return batch, uploads, refused


def delete_upload(upload: Upload, *, actor: Any, ip: str | None = None) -> Upload:
    """Only the uploader may delete; the file goes, the history row stays."""
    if upload.uploaded_by_id is None or upload.uploaded_by_id != getattr(actor, "pk", None):
        raise CollectionError("Only the person who uploaded a file can delete it.")
    with transaction.atomic():
        current = Upload.objects.select_for_update().get(pk=upload.pk)
        if current.status == UploadStatus.DELETED:
            return current
        if current.frozen_as.exists():
            raise CollectionError("This upload was collected at a deadline and is kept as the record of it.")
        # The marked-up copy holds the same pupils as the file: both go.
        names = [n for n in (current.file.name, current.error_workbook.name) if n]
        was_in_use = current.in_use
        current.status = UploadStatus.DELETED
        current.in_use = False
        current.deleted_at = timezone.now()
        current.deleted_by = actor
        current.file = ""
        current.error_workbook = ""
        current.save()
        SubmittedPupil.objects.filter(upload=current).delete()
        log.record(
            AuditAction.UPLOAD_DELETED,
            actor=actor,
            organisation=current.school or current.via_organisation,
            subject=f"{current.collection}: {current.filename}",
            ip_address=ip,
            upload=current.pk,
        )
        for name in names:
            transaction.on_commit(partial(default_storage.delete, name))
        if was_in_use:
            results_in_use_changed(current)
    return current
