"""A results collection's life, and the refusal every results action gives (CollectionError): opening a
collection (create_collection) with its template's layout from the reference data, a school confirming
an upload as its submission (confirm_upload), and freezing what is in use at each deadline
(collect_deadline). Confirmation and the deadline's collection take the same locks, so they are kept
together. Each action owns its transaction and audit record.

Beside it: uploading.py (upload, bulk upload, delete), upload_checks.py (the worker's check of an upload,
and check_file), downloads.py (the template, stored files, the results kept), pages.py (what the pages
read) and la_ctf.py (the confirmed results as a CTF for the LA).
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.refusals import Refused
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.results.layout import TemplateLayout, framework_layout, ks4_layout
from keystage.core.roles import Action
from keystage.measures.refresh import results_in_use_changed
from keystage.organisations.models import School
from keystage.reference_data import services as reference
from keystage.results.models import (
    Collection,
    Deadline,
    DeadlineRun,
    FrozenSubmission,
    Upload,
    UploadStatus,
)


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


# Confirmation: under the locks the deadline's collection waits for --------------------------------


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
