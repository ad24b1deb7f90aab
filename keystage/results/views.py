"""Results collection pages: the service homepage, Get template, Upload (with its live outcome),
Manage uploads and the trust's bulk upload.

Thin: each view finds what it needs, checks the role through `policy`, and calls one service.
An upload another organisation cannot see is "not found", never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keystage.accounts import policy
from keystage.audit.log import client_address
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.roles import Action, OrgKind
from keystage.organisations.models import Organisation, School
from keystage.results import downloads, la_ctf, pages, services, uploading
from keystage.results.models import Collection, Upload, UploadStatus
from keystage.web.faults import FileNotStored
from keystage.web.uploads import max_upload_mb, too_large_message, upload_refused_for_size

ERRORS_SHOWN = 10
HIDDEN_WHEN_TIDY = (UploadStatus.DELETED, UploadStatus.OVERWRITTEN, UploadStatus.ERROR)


def _collection_and_school(
    request: HttpRequest, collection_id: int, school_id: int
) -> tuple[Collection, School]:
    collection = get_object_or_404(Collection, pk=collection_id)
    school = get_object_or_404(School, pk=school_id)
    policy.require(request.user, Action.VIEW_ORGANISATION, school)
    return collection, school


def _visible_upload(request: HttpRequest, upload_id: int) -> Upload:
    upload = (
        pages.uploads_visible_to(request.user)
        .select_related("collection", "school", "uploaded_by")
        .filter(pk=upload_id)
        .first()
    )
    if upload is None:
        raise Http404("No such upload.")
    return upload


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Every collection of the schools the person can see, and the trusts they can bulk upload for."""
    schools = pages.schools_of(request.user)
    collections = pages.open_collections()
    rows = []
    for school in schools:
        kinds = pages.kinds_for(school) if school.is_open else ()  # closed: no new collection
        rows.append({"school": school, "collections": [c for c in collections if c.kind in kinds]})
    trusts = [
        org
        for org, _roles in policy.organisations_of(request.user)
        if org.org_kind is OrgKind.TRUST and policy.can(request.user, Action.SUBMIT_DATA, org)
    ]
    return render(
        request,
        "results/index.html",
        {
            "rows": rows,
            "trusts": trusts,
            "can_submit_any": bool(pages.schools_of(request.user, Action.SUBMIT_DATA)),
        },
    )


@login_required
def service_home(request: HttpRequest, collection_id: int, school_id: int) -> HttpResponse:
    collection, school = _collection_and_school(request, collection_id, school_id)
    home = pages.service_home(collection, school, request.user)
    ctf = la_ctf.la_ctf_status(collection, school, request.user)
    siblings = [
        c
        for c in pages.open_collections()
        if c.year == collection.year and c.kind in pages.kinds_for(school) and c.pk != collection.pk
    ]
    return render(request, "results/service_home.html", {"home": home, "siblings": siblings, "ctf": ctf})


@never_cache  # it names pupils: no copy kept by a browser or proxy
@login_required
@require_GET
def ctf_download(request: HttpRequest, collection_id: int, school_id: int) -> HttpResponse:
    """The school's confirmed results as a CTF for its LA."""
    collection, school = _collection_and_school(request, collection_id, school_id)
    policy.require(request.user, Action.SUBMIT_DATA, school)
    try:
        made = la_ctf.export_la_ctf(collection, school, actor=request.user, ip=client_address(request))
    except services.CollectionError as error:
        messages.error(request, str(error))
        return redirect(reverse("results:service_home", args=[collection.pk, school.pk]) + "#ctf")
    response = HttpResponse(made.data, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    return response


@login_required
@require_POST
def ctf_send(request: HttpRequest, collection_id: int, school_id: int) -> HttpResponse:
    """Send the school's confirmed results to its LA as a CTF return, in one step."""
    collection, school = _collection_and_school(request, collection_id, school_id)
    policy.require(request.user, Action.SUBMIT_DATA, school)
    seen = request.POST.get("upload", "")
    try:
        sent, made = la_ctf.send_la_ctf(
            collection,
            school,
            actor=request.user,
            ip=client_address(request),
            upload_id=int(seen) if seen.isdigit() else None,
        )
    except services.CollectionError as error:
        messages.error(request, str(error))
        return redirect(reverse("results:service_home", args=[collection.pk, school.pk]) + "#ctf")
    left_out = ""
    if made.unmapped:
        codes = ", ".join(f"{code} ({n})" for code, n in made.unmapped.items())
        left_out = (
            f" Not in the file: results of {codes}, which the CTF mapping for "
            f"{academic_year_name(collection.year)} has no coding for."
        )
    messages.success(
        request,
        f"Your {collection} results were sent to {school.la.name} as {sent.filename}: "
        f"{made.pupils} pupil{'s' if made.pupils != 1 else ''}, {made.results} "
        f"result{'s' if made.results != 1 else ''}. The file is being checked now.{left_out}",
    )
    return redirect("returns:return_detail", sent.pk)


@login_required
@require_GET
def get_template(request: HttpRequest, collection_id: int, school_id: int) -> HttpResponse:
    collection, school = _collection_and_school(request, collection_id, school_id)
    policy.require(request.user, Action.SUBMIT_DATA, school)
    try:
        data = downloads.download_template(collection, school, actor=request.user, ip=client_address(request))
    except services.CollectionError as error:
        messages.error(request, str(error))
        return redirect("results:service_home", collection.pk, school.pk)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{downloads.template_filename(collection, school)}"'
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, collection_id: int, school_id: int) -> HttpResponse:
    collection, school = _collection_and_school(request, collection_id, school_id)
    policy.require(request.user, Action.SUBMIT_DATA, school)
    error = None
    error_status = 400
    if request.method == "POST":
        refused = upload_refused_for_size(request)
        source = request.FILES.get("file")
        if refused:
            error = too_large_message(refused)
        elif source is None:
            error = "Choose the file to upload."
        else:
            try:
                stored = uploading.upload_results(
                    collection,
                    school,
                    source,
                    filename=source.name or "file",
                    actor=request.user,
                    ip=client_address(request),
                )
            except services.CollectionError as problem:
                error = str(problem)
            except FileNotStored as problem:
                error, error_status = str(problem), 503  # the server's fault, not the file's
            else:
                return redirect("results:upload_detail", stored.pk)
    home = pages.service_home(collection, school, request.user)
    return render(
        request,
        "results/upload.html",
        {
            "home": home,
            "error": error,
            "accept": _accepted_types(collection),
            "max_mb": max_upload_mb(),
        },
        status=error_status if error else 200,
    )


def _accepted_types(collection: Collection) -> str:
    types = [".xlsx", ".xls", ".ods", ".csv"]
    if collection.kind_info.takes_ctf:
        types.append(".xml")
    return ",".join(types)


def _outcome_context(request: HttpRequest, upload: Upload) -> dict[str, Any]:
    errors = [i for i in upload.issues if i.get("severity") == "error"]
    warnings = [i for i in upload.issues if i.get("severity") != "error"]
    can_submit = upload.school is not None and policy.can(request.user, Action.SUBMIT_DATA, upload.school)
    in_use = (
        Upload.objects.filter(collection=upload.collection, school=upload.school, in_use=True)
        .exclude(pk=upload.pk)
        .first()
        if upload.school is not None
        else None
    )
    return {
        "upload": upload,
        "in_use": in_use,
        "errors": errors[:ERRORS_SHOWN],
        "warnings": warnings[:ERRORS_SHOWN],
        "more_errors": max(0, len(errors) - ERRORS_SHOWN),
        "more_warnings": max(0, len(warnings) - ERRORS_SHOWN),
        "can_confirm": can_submit
        and upload.status == UploadStatus.SUCCESSFUL
        and upload.confirmed_at is None
        and upload.collection.is_open(),
        "can_submit": can_submit,
        "report_due": upload.report_due,
    }


@login_required
@require_GET
def upload_detail(request: HttpRequest, upload_id: int) -> HttpResponse:
    upload = _visible_upload(request, upload_id)
    return render(request, "results/upload_detail.html", _outcome_context(request, upload))


@never_cache
@login_required
@require_GET
def upload_status(request: HttpRequest, upload_id: int) -> JsonResponse:
    """What the upload page polls: the status, and the outcome panel once it is known."""
    upload = _visible_upload(request, upload_id)
    body: dict[str, Any] = {
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "done": upload.status != UploadStatus.PROCESSING,
        "errors": upload.error_count,
        "warnings": upload.warning_count,
        "pupils": upload.pupil_count,
    }
    if body["done"]:
        from django.template.loader import render_to_string

        body["html"] = render_to_string("results/_outcome.html", _outcome_context(request, upload), request)
    return JsonResponse(body)


@login_required
@require_POST
def confirm(request: HttpRequest, upload_id: int) -> HttpResponse:
    upload = _visible_upload(request, upload_id)
    if upload.school is None or not policy.can(request.user, Action.SUBMIT_DATA, upload.school):
        raise PermissionDenied("You do not have permission to confirm this upload.")
    try:
        services.confirm_upload(
            upload, actor=request.user, agreed=request.POST.get("agree") == "yes", ip=client_address(request)
        )
    except services.CollectionError as error:
        context = _outcome_context(request, upload)
        context["confirm_error"] = str(error)
        return render(request, "results/upload_detail.html", context, status=400)
    messages.success(
        request, f"Submission confirmed: {upload.filename} is now your school's {upload.collection}."
    )
    return redirect("results:upload_detail", upload.pk)


@login_required
@require_GET
def download(request: HttpRequest, upload_id: int, which: str) -> HttpResponse | FileResponse:
    upload = _visible_upload(request, upload_id)
    try:
        handle = downloads.open_stored_file(
            upload, which=which, actor=request.user, ip=client_address(request)
        )
    except services.CollectionError as error:
        messages.error(request, str(error))
        return redirect("results:upload_detail", upload.pk)
    if which == "errors":
        stem = upload.filename.rsplit(".", 1)[0]
        name = f"{stem} - errors.xlsx"
    else:
        name = upload.filename
    return FileResponse(handle, as_attachment=True, filename=name)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, upload_id: int) -> HttpResponse:
    upload = _visible_upload(request, upload_id)
    if upload.uploaded_by_id != request.user.pk:
        raise PermissionDenied("Only the person who uploaded a file can delete it.")
    if request.method == "POST":
        try:
            uploading.delete_upload(upload, actor=request.user, ip=client_address(request))
        except services.CollectionError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{upload.filename} was deleted. Its row stays in the history.")
        return redirect("results:history")
    return render(request, "results/delete.html", {"upload": upload})


def _history_filters(request: HttpRequest, schools: list[School]) -> dict[str, Any]:
    def choice(name: str, allowed: set[str]) -> str:
        value = request.GET.get(name, "")
        return value if value in allowed else ""

    years = sorted({str(y) for y in Collection.objects.values_list("year", flat=True)}, reverse=True)
    return {
        "school": choice("school", {str(s.pk) for s in schools}),
        "status": choice("status", {s.value for s in UploadStatus}),
        "year": choice("year", set(years)),
        "service": choice("service", set(KINDS)),
        "tidy": request.GET.get("tidy") == "1",
        "years": [(y, academic_year_name(int(y))) for y in years],  # 2026 reads "2025/26", as everywhere
    }


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Manage uploads: every attempt for the schools the person submits for, filtered."""
    schools = pages.schools_of(request.user, Action.SUBMIT_DATA)
    filters = _history_filters(request, schools)
    uploads = pages.uploads_visible_to(request.user).select_related("collection", "school", "uploaded_by")
    if filters["school"]:
        uploads = uploads.filter(school_id=filters["school"])
    if filters["status"]:
        uploads = uploads.filter(status=filters["status"])
    if filters["year"]:
        uploads = uploads.filter(collection__year=filters["year"])
    if filters["service"]:
        uploads = uploads.filter(collection__kind=filters["service"])
    if filters["tidy"]:
        uploads = uploads.exclude(status__in=HIDDEN_WHEN_TIDY)
    page = Paginator(uploads, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "results/history.html",
        {
            "page": page,
            "filters": filters,
            "schools": schools,
            "statuses": UploadStatus.choices,
            "services": [(k.key, k.title) for k in KINDS.values()],
            "query": query.urlencode(),
            "now": timezone.now(),
            # "Reports available" links to the reports only for those who may read them.
            "report_schools": {s.pk for s in pages.schools_of(request.user, Action.VIEW_REPORTS)},
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def bulk_upload(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    if organisation.org_kind is not OrgKind.TRUST:
        raise Http404("Bulk upload is for trusts.")
    policy.require(request.user, Action.SUBMIT_DATA, organisation)
    collections = [c for c in pages.open_collections() if c.is_open()]
    error = None
    chosen = request.POST.get("collection", "")
    if request.method == "POST":
        refused = upload_refused_for_size(request)
        collection = next((c for c in collections if str(c.pk) == chosen), None)
        files = request.FILES.getlist("files")
        if refused:
            error = too_large_message(refused) + " None of the files was uploaded; try again without it."
        elif collection is None:
            error = "Choose the collection the files are for."
        elif not files:
            error = "Choose one or more files to upload."
        else:
            try:
                batch, _uploads, refused_files = uploading.bulk_upload(
                    collection, organisation, files, actor=request.user, ip=client_address(request)
                )
            except services.CollectionError as problem:
                error = str(problem)
            else:
                for reason in refused_files:
                    messages.error(request, reason)
                return redirect(reverse("results:bulk_batch", args=[organisation.pk, batch]))
    return render(
        request,
        "results/bulk_upload.html",
        {"organisation": organisation, "collections": collections, "chosen": chosen, "error": error},
        status=400 if error else 200,
    )


def _batch_uploads(request: HttpRequest, organisation: Organisation, batch: str) -> list[Upload]:
    policy.require(request.user, Action.SUBMIT_DATA, organisation)
    uploads = list(
        Upload.objects.filter(via_organisation=organisation, batch=batch)
        .select_related("collection", "school")
        .order_by("filename", "pk")
    )
    if not uploads:
        raise Http404("No such batch.")
    return uploads


@login_required
@require_GET
def bulk_batch(request: HttpRequest, org_id: int, batch: str) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    uploads = _batch_uploads(request, organisation, batch)
    return render(
        request,
        "results/bulk_batch.html",
        {
            "organisation": organisation,
            "uploads": uploads,
            "batch": batch,
            "processing": any(u.status == UploadStatus.PROCESSING for u in uploads),
        },
    )


@never_cache
@login_required
@require_GET
def bulk_batch_status(request: HttpRequest, org_id: int, batch: str) -> JsonResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    uploads = _batch_uploads(request, organisation, batch)
    done = all(u.status != UploadStatus.PROCESSING for u in uploads)
    body: dict[str, Any] = {
        "done": done,
        "processing": sum(u.status == UploadStatus.PROCESSING for u in uploads),
    }
    if done:
        from django.template.loader import render_to_string

        body["html"] = render_to_string(
            "results/_batch_table.html", {"uploads": uploads, "organisation": organisation}, request
        )
    return JsonResponse(body)
