"""One function per user action on results collections. Each owns its transaction and audit record,
and queues the long work (validation, deadline collection) for the worker."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import get_random_string

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core import year_groups
from keystage.core.ctf.model import SchoolRef, la_destination, mapping_in_force
from keystage.core.ctf.results import ResultsCTF, ResultsCTFError, ResultsPupil, results_ctf
from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.results.layout import TemplateLayout, framework_layout, ks4_layout
from keystage.core.results.roster import RosterPupil, UploadContext
from keystage.core.results.validation import validate_upload
from keystage.core.results.validation_report import ValidationReport
from keystage.core.results.workbooks import TemplatePupil, write_error_workbook, write_template
from keystage.core.returns import ReturnTag, parse_tag
from keystage.core.roles import Action
from keystage.measures.refresh import results_in_use_changed
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.reference_data import services as reference
from keystage.results.models import (
    Collection,
    Deadline,
    DeadlineRun,
    FrozenSubmission,
    Result,
    SubmittedPupil,
    TemplateDownload,
    Upload,
    UploadStatus,
)
from keystage.returns.models import Return, ReturnRound
from keystage.web.faults import DATABASE_UNAVAILABLE, FileNotStored, discard_unrecorded, save_whole
from keystage.web.queue import first_args_pending
from keystage.web.uploads import file_digest, max_upload_bytes, too_large_message

logger = logging.getLogger(__name__)

# A check takes seconds: one started this long ago lost its worker; one queued this long ago and
# never started lost its task. Either is queued again (the task is safe to run twice).
STALLED_AFTER = timedelta(minutes=2)
LOST_AFTER = timedelta(minutes=10)
# Checks of one upload that may start without finishing before the file is refused as uncheckable.
CHECK_ATTEMPTS = 3
UNCHECKABLE_MESSAGE = rules.UPLOAD_UNCHECKABLE.message


class CollectionError(Refused):
    """A user action that cannot be done; str() is the message to show."""


# Layouts ---------------------------------------------------------------------------------------

_layouts: dict[tuple[str, int, int], TemplateLayout] = {}
_layouts_lock = threading.Lock()


def layout_for(kind: str, year: int) -> TemplateLayout:
    """The template layout of a collection, from the reference data loaded now (cached until the
    next reference load)."""
    version = reference.reference_version()
    key = (kind, year, version)
    with _layouts_lock:
        cached = _layouts.get(key)
    if cached is not None:
        return cached
    info = KINDS[kind]
    frameworks = reference.framework_library()
    if kind.startswith("ks4"):
        catalogue = reference.loaded_ks4_catalogue()
        if not catalogue.qualifications:
            raise CollectionError(
                "The KS4 qualification catalogue has not been loaded. A platform administrator loads it with "
                "keystage reference load-ks4."
            )
        try:
            layout = ks4_layout(info, year, catalogue, frameworks.for_year("ks4-gcse", year))
        except LookupError as error:
            raise CollectionError(str(error)) from None
    else:
        try:
            layout = framework_layout(info, year, frameworks.for_year(info.framework, year))
        except KeyError as error:
            raise CollectionError(str(error.args[0])) from None
    with _layouts_lock:
        _layouts[key] = layout
    return layout


def alternatives(kind: str, year: int) -> list[TemplateLayout]:
    """The other collections' layouts of the year, so a file for one of them is named as such."""
    layouts = []
    for other in KINDS:
        if other == kind:
            continue
        try:
            layouts.append(layout_for(other, year))
        except CollectionError:
            continue
    return layouts


# Collections -----------------------------------------------------------------------------------


def create_collection(
    *,
    kind: str,
    year: int,
    opens_at: datetime,
    provisional_deadline: datetime,
    final_deadline: datetime,
    terms: str,
    provisional_reports_due: date | None = None,
    final_reports_due: date | None = None,
    actor: Any = None,
) -> Collection:
    """A platform administrator opens a collection; its deadline collections are queued to run at
    their times."""
    if kind not in KINDS:
        raise CollectionError(f"There is no collection “{kind}”; choose one of {', '.join(KINDS)}.")
    if not opens_at < provisional_deadline <= final_deadline:
        raise CollectionError(
            "The window must open before the provisional deadline, which is on or before the final."
        )
    layout_for(kind, year)  # refuse a collection its reference data cannot support
    try:
        with transaction.atomic():
            collection = Collection.objects.create(
                kind=kind,
                year=year,
                opens_at=opens_at,
                provisional_deadline=provisional_deadline,
                final_deadline=final_deadline,
                terms=terms.strip(),
                provisional_reports_due=provisional_reports_due,
                final_reports_due=final_reports_due,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            log.record(AuditAction.COLLECTION_CREATED, actor=actor, subject=str(collection))
            transaction.on_commit(lambda: schedule_deadlines(collection))
    except IntegrityError:
        raise CollectionError(f"{KINDS[kind].title} {academic_year_name(year)} already exists.") from None
    return collection


def schedule_deadlines(collection: Collection) -> None:
    from keystage.results.tasks import collect_at_deadline

    for deadline, at in (
        (Deadline.PROVISIONAL, collection.provisional_deadline),
        (Deadline.FINAL, collection.final_deadline),
    ):
        collect_at_deadline.using(run_after=at).enqueue(collection.pk, deadline.value)


def collect_deadline(
    collection: Collection, deadline: str, *, now: datetime | None = None
) -> DeadlineRun | None:
    """Freeze, for every school, the upload in use at the deadline. Runs once per deadline; a run
    before its time does nothing (the task is queued for the deadline and may be retried)."""
    now = now or timezone.now()
    at = collection.provisional_deadline if deadline == Deadline.PROVISIONAL else collection.final_deadline
    if now < at:
        return None
    with transaction.atomic():
        try:
            run = DeadlineRun.objects.create(collection=collection, deadline=deadline, ran_at=now)
        except IntegrityError:
            return None
        # Wait for confirmations in progress, which hold their school's lock (confirm_upload): one
        # stamped before the deadline but not yet committed would otherwise be missed, and any
        # confirmation after this point is stamped after the deadline.
        uploading = Upload.objects.filter(collection=collection, school__isnull=False).values("school_id")
        list(
            School.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=uploading)
            .order_by("pk")
            .values("pk")
        )
        # What was in use at the deadline, even if the task runs late and a school has confirmed
        # another file since: the latest confirmed by then and not overwritten by then.
        candidates = (
            Upload.objects.select_for_update()
            .filter(
                collection=collection, school__isnull=False, confirmed_at__lte=at, deleted_at__isnull=True
            )
            .filter(Q(in_use=True) | Q(overwritten_at__gt=at))
            .order_by("school_id", "-confirmed_at", "-pk")
        )
        in_use_at_deadline: dict[int, Upload] = {}
        for candidate in candidates:
            in_use_at_deadline.setdefault(candidate.school_id, candidate)  # type: ignore[arg-type]
        frozen = [
            FrozenSubmission(
                collection=collection, deadline=deadline, school_id=school_id, upload=u, frozen_at=now
            )
            for school_id, u in in_use_at_deadline.items()
        ]
        FrozenSubmission.objects.bulk_create(frozen)
        run.schools = len(frozen)
        run.save(update_fields=["schools"])
        log.record(
            AuditAction.DEADLINE_COLLECTED, subject=str(collection), deadline=deadline, schools=len(frozen)
        )
    return run


# Templates -------------------------------------------------------------------------------------


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


# Uploads ---------------------------------------------------------------------------------------


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
            transaction.on_commit(lambda: _queue_validation(upload.pk), robust=True)
    except BaseException:
        # No row, no file: the database went away, or the request was ended, before the commit.
        held = (
            Upload.objects.filter(pk=upload.pk, file=upload.file.name) if upload.pk else Upload.objects.none()
        )
        discard_unrecorded(upload.file, held)
        raise
    return upload


def _uploads_with_a_check_pending() -> set[int]:
    from keystage.results.tasks import validate_upload_task

    return first_args_pending(validate_upload_task)


def _queue_validation(upload_id: int) -> None:
    from keystage.results.tasks import validate_upload_task

    Upload.objects.filter(pk=upload_id).update(validation_queued_at=timezone.now())
    validate_upload_task.enqueue(upload_id)


def new_batch() -> str:
    return get_random_string(12)


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
        _queue_validation(upload_id)
    return len(ids)


def confirm_upload(upload: Upload, *, actor: Any, agreed: bool, ip: str | None = None) -> Upload:
    """The school agrees to the terms: this upload is used, and the one used before is overwritten
    (the last confirmation wins).

    Under a lock on the school's row, so two confirmations at once end with exactly one in use. The
    time is read once the lock is held: confirmations are stamped in the order they take effect, and a
    deadline's collection, which takes the same locks, sees every confirmation stamped before it."""
    if not agreed:
        raise CollectionError("Tick the box to agree to the terms and conditions before confirming.")
    if upload.school is None:
        raise CollectionError("This upload was not matched to a school, so it cannot be confirmed.")
    policy.require(actor, Action.SUBMIT_DATA, upload.school)
    collection = upload.collection
    with transaction.atomic():
        # NO KEY: rows that merely refer to the school (a worker's figures, checked as it commits)
        # are not held up by it, nor is this by them, so neither can deadlock the other.
        School.objects.select_for_update(no_key=True).filter(pk=upload.school.pk).first()
        now = timezone.now()
        if now > collection.final_deadline:
            raise CollectionError(f"{collection} has closed; submissions can no longer be confirmed.")
        current = Upload.objects.select_for_update().get(pk=upload.pk)
        if current.status == UploadStatus.PROCESSING:
            raise CollectionError(
                "This upload is still being checked; confirm it when the check has finished."
            )
        if current.status != UploadStatus.SUCCESSFUL or current.confirmed_at is not None:
            if current.in_use:
                return current  # a second click of Confirm: already done
            if current.status == UploadStatus.OVERWRITTEN:
                raise CollectionError(
                    "A newer upload for this school has been confirmed, "
                    "so this file is overwritten and not used."
                )
            status = current.get_status_display().lower()
            raise CollectionError(f"This upload is {status} and cannot be confirmed; upload the file again.")
        # The one in use, and unconfirmed files uploaded before this one, are overwritten; a file
        # uploaded after it can still be confirmed (and would then overwrite this one).
        replaced = (
            Upload.objects.select_for_update()
            .filter(
                Q(in_use=True) | Q(uploaded_at__lte=current.uploaded_at, confirmed_at__isnull=True),
                collection=collection,
                school=upload.school,
                # The one in use may read "Reports available" once its figures are worked out.
                status__in=[UploadStatus.SUCCESSFUL, UploadStatus.REPORTS],
            )
            .exclude(pk=current.pk)
        )
        replaced.update(in_use=False, status=UploadStatus.OVERWRITTEN, overwritten_at=now)
        current.in_use = True
        current.confirmed_at = now
        current.confirmed_by = actor
        current.save(update_fields=["in_use", "confirmed_at", "confirmed_by"])
        log.record(
            AuditAction.UPLOAD_CONFIRMED,
            actor=actor,
            organisation=upload.school,
            subject=f"{collection}: {upload.filename}",
            ip_address=ip,
            upload=upload.pk,
        )
        results_in_use_changed(current)
    return current


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


def uploads_visible_to(user: Any) -> QuerySet[Upload]:
    """Every upload of the schools where the user may submit data (their own school, or all of
    their trust's), plus the bulk uploads of organisations where they may submit."""
    school_ids: set[int] = set()
    submitting_orgs: list[int] = []
    for organisation, _roles in policy.organisations_of(user):
        if policy.can(user, Action.SUBMIT_DATA, organisation):
            submitting_orgs.append(organisation.pk)
        school_ids |= {s.pk for s in organisation.schools() if policy.can(user, Action.SUBMIT_DATA, s)}
    return Upload.objects.filter(
        Q(school_id__in=school_ids) | Q(school__isnull=True, via_organisation_id__in=submitting_orgs)
    )


# Pages: what the service homepage and the history read ------------------------------------------


def kinds_for(school: School) -> tuple[str, ...]:
    """The collections a school takes part in: those of the year groups it teaches (by its age
    range, else its phase), so an all-through or middle school takes every one it has pupils for."""
    return tuple(
        key for key, kind in KINDS.items() if year_groups.takes_part(school.year_groups, kind.nc_years)
    )


def schools_of(user: Any, action: Action = Action.VIEW_ORGANISATION) -> list[School]:
    """The schools where the user may take the action: their own, or every school of their trust or LA."""
    found: dict[int, School] = {}
    for organisation, _roles in policy.organisations_of(user):
        for school in organisation.schools().select_related("la", "trust"):
            if school.pk not in found and policy.can(user, action, school):
                found[school.pk] = school
    return sorted(found.values(), key=lambda s: s.name)


def open_collections(at: datetime | None = None) -> list[Collection]:
    """Collections not yet closed, or closed within the last year (their history stays in reach)."""
    at = at or timezone.now()
    recent = Collection.objects.filter(final_deadline__gte=at - timedelta(days=365))
    return list(recent.order_by("-year", "kind"))


@dataclass(frozen=True)
class RosterStatus:
    pupils: int
    updated_at: datetime | None
    sources: list[str]


@dataclass(frozen=True)
class ServiceHome:
    collection: Collection
    school: School
    roster: RosterStatus
    window: str  # "not_open", "open" or "closed"
    can_submit: bool
    last_download: TemplateDownload | None
    last_upload: Upload | None
    in_use: Upload | None


def roster_status(school: School, collection: Collection) -> RosterStatus:
    pupils = Pupil.objects.filter(
        school=school, academic_year=collection.year, on_roll=True, nc_year__in=collection.kind_info.nc_years
    )
    latest = pupils.order_by("-updated_at").values_list("updated_at", flat=True).first()
    sources = sorted({s for s in pupils.values_list("source", flat=True).distinct() if s})
    return RosterStatus(pupils.count(), latest, sources)


def _window(collection: Collection, at: datetime | None = None) -> str:
    at = at or timezone.now()
    if at < collection.opens_at:
        return "not_open"
    return "open" if at <= collection.final_deadline else "closed"


def service_home(collection: Collection, school: School, user: Any) -> ServiceHome:
    policy.require(user, Action.VIEW_ORGANISATION, school)
    uploads = Upload.objects.filter(collection=collection, school=school)
    return ServiceHome(
        collection=collection,
        school=school,
        roster=roster_status(school, collection),
        window=_window(collection),
        can_submit=policy.can(user, Action.SUBMIT_DATA, school),
        last_download=TemplateDownload.objects.filter(collection=collection, school=school).first(),
        last_upload=uploads.exclude(status=UploadStatus.DELETED).first(),
        in_use=uploads.filter(in_use=True).first(),
    )


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


# The school's confirmed results as a CTF for its LA ------------------------------------------------


@dataclass(frozen=True)
class LaCTFStatus:
    """What a collection's page says about its CTF for the LA."""

    tag: ReturnTag
    upload: Upload | None  # the confirmed upload in use; None before one is confirmed
    not_in_ctf: list[tuple[str, int]]  # (assessment heading, results) the mapping has no coding for
    no_mapping: str  # why no CTF can be made for the year, or ""
    round: ReturnRound | None  # the LA's return for the collection's year, once opened
    last_sent: Return | None  # the school's current file in that return
    year_name: str  # the collection's academic year, e.g. 2025/26


def la_tag_of(collection: Collection) -> ReturnTag | None:
    """The LA return a collection's CTF travels under; None for collections that are not sent to the LA."""
    label = collection.kind_info.la_tag
    return parse_tag(label) if label else None


def la_ctf_refs(school: School) -> tuple[SchoolRef, SchoolRef]:
    """The school (by its DfE number, as the LA's check reads it) and its LA, as a CTF names them."""
    source = SchoolRef(
        la=school.dfe_number[:3], estab=school.establishment_number, urn=school.urn, name=school.name
    )
    return source, la_destination(school.la.code)


def _confirmed_in_use(collection: Collection, school: School) -> Upload:
    upload = Upload.objects.filter(collection=collection, school=school, in_use=True).first()
    if upload is None:
        raise CollectionError(
            f"{school.name} has no confirmed {collection} submission, so there are no results to put in a "
            "CTF. Upload the results and confirm the submission first."
        )
    return upload


def _results_pupils(upload: Upload) -> list[ResultsPupil]:
    values: dict[int, dict[str, str]] = {}
    for pupil_id, subject, value in Result.objects.filter(upload=upload).values_list(
        "pupil_id", "subject", "value"
    ):
        values.setdefault(pupil_id, {})[subject] = value
    return [
        ResultsPupil(
            upn=p.upn,
            forename=p.forename,
            surname=p.surname,
            date_of_birth=p.date_of_birth,
            sex=p.sex,
            nc_year=p.nc_year,
            results=values.get(p.pk, {}),
        )
        for p in SubmittedPupil.objects.filter(upload=upload).order_by("row", "pk")
    ]


def build_la_ctf(collection: Collection, school: School, *, sequence: int = 1) -> tuple[Upload, ResultsCTF]:
    """The confirmed upload in use and its results as a CTF for the LA; CollectionError saying why
    not. Its DateTime is the confirmation's, so the same submission always makes the same file."""
    tag = la_tag_of(collection)
    if tag is None:
        raise CollectionError(f"{collection.kind_info.title} results are not sent to the LA as a CTF.")
    upload = _confirmed_in_use(collection, school)
    source, destination = la_ctf_refs(school)
    try:
        made = results_ctf(
            _results_pupils(upload),
            source=source,
            destination=destination,
            year=collection.year,
            mappings=reference.ctf_mappings(),
            generated_at=timezone.localtime(upload.confirmed_at or upload.uploaded_at),
            sequence=sequence,
        )
    except ResultsCTFError as error:
        raise CollectionError(str(error)) from None
    if made.results == 0:
        if made.unmapped:
            raise CollectionError(
                f"None of the results of {upload.filename} can be written in a CTF: the CTF mapping for "
                f"{academic_year_name(collection.year)} has no coding for {', '.join(made.unmapped)}. "
                "An administrator adds it to the mapping."
            )
        raise CollectionError(f"{upload.filename} has no results to put in a CTF: every result is blank.")
    return upload, made


def export_la_ctf(
    collection: Collection, school: School, *, actor: Any, ip: str | None = None, sequence: int = 1
) -> ResultsCTF:
    """Download the school's confirmed results as a CTF for its LA (the page, and `keystage ctf
    export --collection` with no actor). It names pupils: audited as a pupil-level download."""
    if actor is not None:
        policy.require(actor, Action.SUBMIT_DATA, school)
    upload, made = build_la_ctf(collection, school, sequence=sequence)
    log.record(
        AuditAction.REPORT_DOWNLOADED,
        actor=actor,
        organisation=school,
        subject=f"{collection}: results as a CTF for {school.la.name} ({made.filename})",
        ip_address=ip,
        upload=upload.pk,
        file="ctf",
        pupils=made.pupils,
        results=made.results,
    )
    return made


def _refuse_sent_already(round_: ReturnRound, school: School, sha256: str) -> None:
    current = Return.objects.filter(round=round_, school=school, current=True).first()
    if current is not None and current.sha256 == sha256:
        when = timezone.localtime(current.sent_at)
        raise CollectionError(
            f"These results were already sent to {school.la.name} on {when.day} {when:%B %Y at %H:%M} "
            f"({current.filename}), so nothing was sent again."
        )


def send_la_ctf(
    collection: Collection,
    school: School,
    *,
    actor: Any,
    ip: str | None = None,
    upload_id: int | None = None,
) -> tuple[Return, ResultsCTF]:
    """Send the school's confirmed results to its LA as a CTF, in one step: the same file as the
    download, sent as the collection's LA return (`send_return`, which stores, audits and queues
    the LA's check). ``upload_id`` is the upload the person saw in use: if another has been confirmed
    since, nothing is sent. The same results sent twice (a double click) are sent once."""
    from keystage.returns import services as returns  # returns' services use this module

    policy.require(actor, Action.SUBMIT_DATA, school)
    tag = la_tag_of(collection)
    if tag is None:
        raise CollectionError(f"{collection.kind_info.title} results are not sent to the LA as a CTF.")
    year_name = academic_year_name(collection.year)
    round_ = ReturnRound.objects.filter(la_id=school.la_id, tag=tag.value, year=collection.year).first()
    if round_ is None:
        raise CollectionError(
            f"{school.la.name} has not opened the {tag.label} return for {year_name}, so the results cannot "
            "be sent yet. Download the CTF to keep it, and send it once your LA opens the return."
        )
    if not round_.accepts_files():
        raise CollectionError(
            f"{school.la.name}'s {tag.label} return for {year_name} no longer takes files: returns are "
            "sent in their academic year."
        )
    try:
        open_to_school = returns.round_for_sending(school, tag)
    except returns.ReturnsError as error:
        raise CollectionError(str(error)) from None
    if open_to_school.pk != round_.pk:
        raise CollectionError(
            f"{school.la.name}'s open {tag.label} return is for {academic_year_name(open_to_school.year)}, "
            f"not {year_name}: these results cannot be sent to it."
        )
    sequence = Return.objects.filter(round=round_, school=school).count() + 1
    upload, made = build_la_ctf(collection, school, sequence=sequence)
    if upload_id is not None and upload.pk != upload_id:
        raise CollectionError(
            f"Another {collection} submission has been confirmed since the page was shown, so nothing was "
            "sent. Check the submission in use, then send it."
        )
    sha256 = hashlib.sha256(made.data).hexdigest()
    _refuse_sent_already(round_, school, sha256)
    confirmed = timezone.localtime(upload.confirmed_at or upload.uploaded_at)
    comment = (
        f"The confirmed {collection} results from keystage ({upload.filename}, confirmed "
        f"{confirmed.day} {confirmed:%B %Y at %H:%M}): {made.pupils} pupils, {made.results} results."
    )
    try:
        sent = returns.send_return(
            school,
            tag=tag.value,
            source=ContentFile(made.data, name=made.filename),
            filename=made.filename,
            comment=comment,
            actor=actor,
            ip=ip,
        )
    except returns.ReturnsError as error:
        _refuse_sent_already(round_, school, sha256)  # a double click that waited for the first
        raise CollectionError(str(error)) from None
    return sent, made


def la_ctf_status(collection: Collection, school: School, user: Any) -> LaCTFStatus | None:
    """For the collection's page: None unless the collection goes to the LA as a CTF and the person
    may submit the school's data; otherwise the upload in use, what a CTF of it leaves out, and the
    LA's return for the year."""
    tag = la_tag_of(collection)
    if tag is None or not policy.can(user, Action.SUBMIT_DATA, school):
        return None
    upload = Upload.objects.filter(collection=collection, school=school, in_use=True).first()
    not_in_ctf: list[tuple[str, int]] = []
    no_mapping = ""
    if upload is not None:
        try:
            mapping = mapping_in_force(reference.ctf_mappings(), collection.year)
        except KeyError as error:
            no_mapping = f"{error.args[0]}: an administrator loads the year's CTF mapping."
        else:
            try:
                headings = {c.key: c.header for c in layout_for(collection.kind, collection.year).subjects}
            except CollectionError:
                headings = {}
            counts = (
                Result.objects.filter(upload=upload)
                .exclude(value="")
                .values_list("subject")
                .annotate(n=Count("pk"))
                .order_by("subject")
            )
            not_in_ctf = [
                (headings.get(subject, subject), n)
                for subject, n in counts
                if mapping.entry_for(subject) is None
            ]
    round_ = ReturnRound.objects.filter(la_id=school.la_id, tag=tag.value, year=collection.year).first()
    last_sent = (
        Return.objects.filter(round=round_, school=school, current=True).first()
        if round_ is not None
        else None
    )
    return LaCTFStatus(
        tag, upload, not_in_ctf, no_mapping, round_, last_sent, academic_year_name(collection.year)
    )
