"""The results API: what the upload page does, for a school's MIS or a script.

Thin, like the pages: read and check the input, then call the results services, which check
permissions (policy) and write the audit log. Every failure is JSON (see endpoint.py).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from keystage.accounts import policy
from keystage.api import openapi, services
from keystage.api.endpoint import ApiError, endpoint, form_with_file
from keystage.api.models import ApiCheck
from keystage.api.openapi.shared import FIRST_YEAR, LAST_YEAR
from keystage.audit.log import client_address, record
from keystage.audit.models import AuditAction
from keystage.core.estimates.ambition import LEVELS
from keystage.core.identifiers import InvalidIdentifierError, dfe_number
from keystage.core.reports.catalogue import KEY_STAGE_LABELS
from keystage.core.results.kinds import KINDS, academic_year_name
from keystage.core.roles import Action
from keystage.estimates import services as estimates
from keystage.organisations.models import School
from keystage.reports import dashboard as dashboards
from keystage.reports import figures as report_figures
from keystage.results import downloads, pages, upload_checks, uploading
from keystage.results import services as results
from keystage.results.models import Collection, Upload, UploadStatus

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MOST_UPLOADS_LISTED = 1000
ISSUES_PER_PAGE = 500  # of a validate answer, unless issues_limit says otherwise
MOST_ISSUES = 5000


# Input ------------------------------------------------------------------------------------------


def _required(fields: dict[str, str], name: str, what: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise ApiError(400, "missing_field", f"Give the {what} in the field “{name}”.")
    return value


def _kind(fields: dict[str, str]) -> str:
    kind = _required(fields, "collection", "collection").lower()
    if kind not in KINDS:
        raise ApiError(
            400,
            "unknown_collection",
            f"There is no collection “{kind[:40]}”; use one of {', '.join(KINDS)}.",
        )
    return kind


def _year(value: str) -> int:
    try:
        year = int(value.strip())
    except ValueError:
        raise ApiError(
            400,
            "invalid_year",
            f"The year must be a number, the year the academic year ends (2026 for 2025/26), "
            f"not “{value.strip()[:20]}”.",
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ApiError(
            400,
            "invalid_year",
            f"{year} is not an academic year keystage knows: give the year it ends, e.g. 2026 for 2025/26.",
        )
    return year


def _school(value: str) -> School:
    try:
        number = dfe_number(value)
    except InvalidIdentifierError as error:
        raise ApiError(400, "invalid_school", str(error)) from None
    school = School.objects.by_dfe_number(number)
    if school is None:
        raise ApiError(404, "unknown_school", f"No school has DfE number {number}.")
    return school


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(
            400, "invalid_json", 'The request body must be JSON, for example {"agree_to_terms": true}.'
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "invalid_json",
            'The request body must be a JSON object, for example {"agree_to_terms": true}.',
        )
    return body


def _visible_upload(request: HttpRequest, upload_id: int) -> Upload:
    """An upload the user may see; any other is not found (whether it exists is not told)."""
    upload = (
        pages.uploads_visible_to(request.user)
        .select_related("collection", "school")
        .filter(pk=upload_id)
        .first()
    )
    if upload is None:
        raise ApiError(404, "upload_not_found", f"You have no upload {upload_id}.")
    return upload


# Output -----------------------------------------------------------------------------------------


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _absolute(request: HttpRequest, name: str, *args: Any) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def collection_json(collection: Collection) -> dict[str, Any]:
    return {
        "collection": collection.kind,
        "year": collection.year,
        "academic_year": academic_year_name(collection.year),
        "title": collection.title,
        "opens_at": _when(collection.opens_at),
        "provisional_deadline": _when(collection.provisional_deadline),
        "final_deadline": _when(collection.final_deadline),
        "open": collection.is_open(),
        "provisional_reports_due": _when(collection.provisional_reports_due),
        "final_reports_due": _when(collection.final_reports_due),
        "terms": collection.terms,
    }


def upload_json(request: HttpRequest, upload: Upload) -> dict[str, Any]:
    links = {"self": _absolute(request, "api:upload", upload.pk)}
    if upload.status == UploadStatus.SUCCESSFUL and not upload.in_use:
        links["confirm"] = _absolute(request, "api:confirm", upload.pk)
    if upload.error_workbook and upload.status != UploadStatus.DELETED:
        links["error_workbook"] = _absolute(request, "api:error_workbook", upload.pk)
    if upload.status in {UploadStatus.SUCCESSFUL, UploadStatus.REPORTS, UploadStatus.OVERWRITTEN}:
        links["results"] = _absolute(request, "api:upload_results", upload.pk)
    collection, school = upload.collection, upload.school
    return {
        "id": upload.pk,
        "collection": collection.kind,
        "year": collection.year,
        "collection_title": collection.title,
        "school": {"dfe_number": school.dfe_number, "name": school.name} if school else None,
        "filename": upload.filename,
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "pupils": upload.pupil_count,
        "error_count": upload.error_count,
        "warning_count": upload.warning_count,
        "issues": upload.issues,
        "uploaded_at": _when(upload.uploaded_at),
        "uploaded_by": upload.uploaded_by_email,
        "validated_at": _when(upload.validated_at),
        "in_use": upload.in_use,
        "confirmed_at": _when(upload.confirmed_at),
        "report_due": _when(collection.report_due(upload.uploaded_at)),
        "links": links,
    }


# Endpoints --------------------------------------------------------------------------------------


@endpoint("GET", auth=False)
def openapi_document(request: HttpRequest) -> HttpResponse:
    return JsonResponse(openapi.document())


@endpoint("GET")
def collections(request: HttpRequest) -> HttpResponse:
    found = Collection.objects.all()
    # A filter given empty is refused rather than ignored: the caller meant something by sending it.
    if "collection" in request.GET:
        found = found.filter(kind=_kind({"collection": request.GET["collection"]}))
    if "year" in request.GET:
        found = found.filter(year=_year(request.GET["year"]))
    return JsonResponse({"collections": [collection_json(c) for c in found]})


def _issue_page(values: Any) -> tuple[int, int]:
    """issues_offset and issues_limit (form fields, or the query of a poll): which issues an answer
    lists, as the API document's patterns say (at most nine digits)."""
    found = []
    for name, default, top in (
        ("issues_offset", 0, 999_999_999),
        ("issues_limit", ISSUES_PER_PAGE, MOST_ISSUES),
    ):
        text = str(values.get(name, "") or "").strip() or str(default)
        lowest = 1 if name == "issues_limit" else 0
        if not (text.isascii() and text.isdigit()) or not lowest <= int(text) <= top or len(text) > 9:
            raise ApiError(
                400, f"invalid_{name}", f"{name} is a whole number from {lowest} to {top}, not “{text[:20]}”."
            )
        found.append(int(text))
    return found[0], found[1]


def _paged(outcome: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
    """A check's answer with its issues a page at a time (a file can have tens of thousands); the
    counts are of all of them, including any past those a background check kept."""
    whole = services.kept_outcome(outcome, most=len(outcome.get("issues", [])))
    counts = {
        key: outcome.get(key, whole[key]) for key in ("issues_total", "issues_kept", "errors", "warnings")
    }
    return {
        **outcome,
        **counts,
        "issues": outcome.get("issues", [])[offset : offset + limit],
        "issues_offset": offset,
        "issues_limit": limit,
    }


# gunicorn's body reader copies all it holds on each read (reading ahead up to the body's end), so
# small reads of a large body cost quadratic copying under the GIL: a refused 10 MB file read 64 KiB
# at a time held up /healthz in the same worker. A few large reads cost a copy or two of the body.
DISCARD_READ_BYTES = 4 * 1024 * 1024


def _discard_body(request: HttpRequest) -> None:
    """Read and drop what the client sends, unparsed, so it can read the refusal: a server that
    closes mid-upload leaves most clients with a reset."""
    with contextlib.suppress(OSError, RequestDataTooBig):
        while request.read(DISCARD_READ_BYTES):
            pass


def _too_many(refused: Any) -> ApiError:
    return ApiError(429, "too_many_checks", str(refused), {"Retry-After": str(refused.retry_after)})


@endpoint("POST")
def validate(request: HttpRequest) -> HttpResponse:
    """Check a file as an upload would be checked; nothing is kept but the answer. A small file is
    checked in the request (a bounded time: at most KEYSTAGE_API_VALIDATE_MAX_BYTES); a larger one by
    the background worker, answered 202 with a Location to poll. Each person has a few checks at once
    and so many a minute (429 with Retry-After past that)."""
    try:
        services.refuse_if_over_limits(request.user)  # before the file is parsed: a refusal costs little
    except services.TooManyChecks as refused:
        _discard_body(request)
        raise _too_many(refused) from None
    fields, file = form_with_file(request)
    offset, limit = _issue_page(fields)
    kind = _kind(fields)
    year = _year(_required(fields, "year", "academic year (e.g. 2026 for 2025/26)"))
    school = _school(fields["school"]) if fields.get("school", "").strip() else None  # empty: no school
    if school is not None:
        policy.require(request.user, Action.SUBMIT_DATA, school)
    elif not pages.schools_of(request.user, Action.SUBMIT_DATA):
        raise ApiError(
            403,
            "forbidden",
            "Checking files is for people who upload results: you do not have a role that submits "
            "data for any school.",
        )
    if (file.size or 0) > settings.KEYSTAGE_API_VALIDATE_MAX_BYTES:
        try:
            check = services.queue_check(request.user, source=file, kind=kind, year=year, school=school)
        except services.TooManyChecks as refused:
            raise _too_many(refused) from None
        return _check_answer(request, check, offset, limit)
    try:
        with services.check_in_request(request.user):
            report = upload_checks.check_file(file.read(), kind, year, school)
    except services.TooManyChecks as refused:
        raise _too_many(refused) from None
    except results.CollectionError as error:
        raise ApiError(409, "collection_unavailable", str(error)) from None
    body = _paged(report.as_dict(), offset, limit)
    if not report.readable:
        message = report.issues[0].message if report.issues else "The file cannot be read."
        return JsonResponse({**body, "error": {"code": "unreadable_file", "message": message}}, status=422)
    return JsonResponse(body)


def _check_answer(request: HttpRequest, check: ApiCheck, offset: int, limit: int) -> JsonResponse:
    """202 while the check waits or runs, then its answer: a page of its issues, or its error (a
    collection not open: 409; a file unreadable, or refused after its checks failed or died: 422).

    A check whose worker died is run again by the worker's sweep, and refused after three deaths
    (services.API_CHECKS), so it ends with an answer; one still unfinished after CHECK_STUCK_AFTER
    (no worker running, or a backlog that long) is answered as stopped, a last resort."""
    if check.status == ApiCheck.Status.CHECKING:
        if check.started_at < timezone.now() - services.CHECK_STUCK_AFTER:
            raise ApiError(
                422, "check_failed", "The check of this file stopped part way through. Send the file again."
            )
        response = JsonResponse({"id": check.pk, "status": "checking"}, status=202)
        response["Location"] = _absolute(request, "api:validate_result", check.pk)
        response["Retry-After"] = "2"
        return response
    outcome = check.outcome or {}
    if "issues" not in outcome:  # the collection was not open: an error answer
        return JsonResponse(outcome, status=check.answer_status or 422)
    body = {"id": check.pk, "status": "done", **_paged(outcome, offset, limit)}
    return JsonResponse(body, status=check.answer_status or 200)


@endpoint("GET")
def validate_result(request: HttpRequest, check_id: int) -> HttpResponse:
    """The answer of a file sent to POST /validate and checked by the background worker: 202 while
    it is being checked, then the answer (a page of its issues at a time). Only its sender sees it."""
    check = ApiCheck.objects.filter(pk=check_id, user_id=request.user.pk or 0, queued=True).first()
    if check is None:
        raise ApiError(404, "not_found", "You have no file check with this number (answers are kept a day).")
    offset, limit = _issue_page(request.GET)
    return _check_answer(request, check, offset, limit)


def _flag(request: HttpRequest, name: str) -> bool:
    value = request.GET[name].strip().lower()
    if value not in {"true", "false"}:
        raise ApiError(400, "invalid_filter", f"“{name}” is true or false, not “{value[:20]}”.")
    return value == "true"


@endpoint("GET", "POST")
def uploads(request: HttpRequest) -> HttpResponse:
    return _list_uploads(request) if request.method == "GET" else _upload(request)


def _list_uploads(request: HttpRequest) -> HttpResponse:
    """The uploads the caller may see (those of schools they submit for), newest first; each without
    its issues (GET the upload for those)."""
    found = pages.uploads_visible_to(request.user).select_related("collection", "school")
    if "collection" in request.GET:
        found = found.filter(collection__kind=_kind({"collection": request.GET["collection"]}))
    if "year" in request.GET:
        found = found.filter(collection__year=_year(request.GET["year"]))
    if "school" in request.GET:
        school = _school(request.GET["school"])
        policy.require(request.user, Action.SUBMIT_DATA, school)
        found = found.filter(school=school)
    if "in_use" in request.GET:
        found = found.filter(in_use=_flag(request, "in_use"))
    raw_limit = request.GET.get("limit", "100").strip()
    # isascii: "²".isdigit() is true, and int() refuses it.
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MOST_UPLOADS_LISTED:
        raise ApiError(
            400,
            "invalid_limit",
            f"The limit is a whole number from 1 to {MOST_UPLOADS_LISTED}, not “{raw_limit[:20]}”.",
        )
    limit = int(raw_limit)
    page = list(found.order_by("-uploaded_at", "-pk")[: limit + 1])
    listed = [{k: v for k, v in upload_json(request, u).items() if k != "issues"} for u in page[:limit]]
    return JsonResponse({"uploads": listed, "more": len(page) > limit})


def _upload(request: HttpRequest) -> HttpResponse:
    """Store the file for the school and queue its validation; poll the Location for the outcome."""
    fields, file = form_with_file(request)
    kind = _kind(fields)
    year = _year(_required(fields, "year", "academic year (e.g. 2026 for 2025/26)"))
    school = _school(_required(fields, "school", "DfE number of the school"))
    policy.require(request.user, Action.SUBMIT_DATA, school)
    collection = Collection.objects.filter(kind=kind, year=year).first()
    if collection is None:
        raise ApiError(
            404,
            "no_collection",
            f"There is no {KINDS[kind].title} collection for {academic_year_name(year)}. "
            "GET /api/v1/collections lists them.",
        )
    name = (file.name or "results").strip() or "results"
    if not file.size:
        raise ApiError(400, "empty_file", f"{name} is empty.")
    try:
        upload = uploading.upload_results(
            collection, school, file, filename=name, actor=request.user, ip=client_address(request)
        )
    except results.CollectionError as error:
        code = "upload_refused" if collection.is_open() else "collection_closed"
        raise ApiError(409, code, str(error)) from None
    response = JsonResponse(upload_json(request, upload), status=202)
    response["Location"] = _absolute(request, "api:upload", upload.pk)
    return response


@endpoint("GET")
def upload(request: HttpRequest, upload_id: int) -> HttpResponse:
    return JsonResponse(upload_json(request, _visible_upload(request, upload_id)))


@endpoint("POST")
def confirm(request: HttpRequest, upload_id: int) -> HttpResponse:
    found = _visible_upload(request, upload_id)
    if _json_body(request).get("agree_to_terms") is not True:
        raise ApiError(
            400,
            "terms_not_agreed",
            'Send {"agree_to_terms": true} to agree to the collection\'s terms and conditions '
            "(GET /api/v1/collections shows them).",
        )
    try:
        confirmed = results.confirm_upload(found, actor=request.user, agreed=True, ip=client_address(request))
    except results.CollectionError as error:
        raise ApiError(409, "cannot_confirm", str(error)) from None
    return JsonResponse(upload_json(request, confirmed))


@endpoint("GET")
def error_workbook(request: HttpRequest, upload_id: int) -> FileResponse:
    found = _visible_upload(request, upload_id)
    try:
        stream = downloads.open_stored_file(
            found, which="errors", actor=request.user, ip=client_address(request)
        )
    except results.CollectionError as error:
        raise ApiError(404, "no_error_workbook", str(error)) from None
    stem = found.filename.rsplit(".", 1)[0] or "upload"
    return FileResponse(
        stream,
        as_attachment=True,
        filename=f"{stem}-errors.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@endpoint("GET")
def upload_results(request: HttpRequest, upload_id: int) -> HttpResponse:
    """Each pupil and their results as kept from a checked, valid upload (audited: it names pupils)."""
    found = _visible_upload(request, upload_id)
    try:
        pupils = downloads.submitted_results(found, actor=request.user, ip=client_address(request))
    except results.CollectionError as error:
        raise ApiError(409, "no_results", str(error)) from None
    school = found.school
    return JsonResponse(
        {
            "upload": found.pk,
            "collection": found.collection.kind,
            "year": found.collection.year,
            "school": {"dfe_number": school.dfe_number, "name": school.name} if school else None,
            "in_use": found.in_use,
            "pupils": pupils,
        }
    )


@endpoint("GET")
def school_measures(request: HttpRequest, dfe: str) -> HttpResponse:
    """A school's headline measures for a key stage and year beside national, as its dashboard shows
    them: school-level figures, small groups suppressed, for every reader of its reports."""
    school = _school(dfe)
    if not policy.reads_reports(request.user, school):
        raise ApiError(403, "forbidden", f"You may not read the reports of {school.name}.")
    full = policy.can(request.user, Action.VIEW_REPORTS, school)
    offered = {
        key_stage: [y for y, _name in years]
        for key_stage, _label, years in report_figures.key_stages_of(school)
    }
    wanted = request.GET.get("key_stage", "").strip().lower()
    if "key_stage" in request.GET and wanted not in KEY_STAGE_LABELS:
        raise ApiError(
            400,
            "unknown_key_stage",
            f"There is no key stage “{wanted[:20]}”; use one of {', '.join(KEY_STAGE_LABELS)}.",
        )
    key_stage = wanted or next(iter(offered), "")
    if key_stage not in offered:
        what = KEY_STAGE_LABELS.get(key_stage, "")
        raise ApiError(404, "no_figures", f"{school.name} has no {what + ' ' if what else ''}figures yet.")
    year = _year(request.GET["year"]) if "year" in request.GET else offered[key_stage][0]
    try:
        report = dashboards.dashboard(school, key_stage, year)
    except report_figures.NoFigures as error:
        raise ApiError(404, "no_figures", str(error)) from None
    return JsonResponse(
        {
            "school": {"dfe_number": school.dfe_number, "name": school.name},
            "key_stage": key_stage,
            "year": year,
            "academic_year": academic_year_name(year),
            "provisional": report.source.provisional,
            "source": report.source.words,
            "cohort": report.cohort,
            "measures": [_headline_json(h, places=full) for h in report.headlines],
            # Results that count in no figure, by reason: never dropped without a word.
            "not_counted": [
                {"reason": n.reason, "results": n.results, "pupils": n.pupils} for n in report.not_counted
            ],
            "years": offered[key_stage],
        }
    )


def _headline_json(headline: report_figures.Headline, *, places: bool) -> dict[str, Any]:
    info = headline.info
    return {
        "key": info.key,
        "name": info.label,
        "kind": info.kind,
        "figure": headline.figure,
        "text": headline.text,
        "national": headline.national,
        "national_text": headline.national_text,
        "pupils": headline.pupils,
        "suppressed": headline.suppressed,
        "ci_low": headline.ci_low,
        "ci_high": headline.ci_high,
        "significance": headline.significance or None,
        "banding": headline.banding or None,
        # A school's place among schools is for full reports; governors see the figures.
        "percentile": headline.percentile if places else None,
        "quintile": headline.quintile if places else None,
        "note": headline.note or None,
    }


@endpoint("GET")
def school_estimates(request: HttpRequest, dfe: str) -> HttpResponse:
    """A school's estimates (KS4, or KS2 for a primary school; ``stage`` chooses): year groups for every
    reader of its reports, pupils for named roles."""
    school = _school(dfe)
    if not policy.can(request.user, Action.VIEW_REPORTS, school):
        raise ApiError(403, "forbidden", f"You may not read the reports of {school.name}.")
    raw_level = request.GET.get("level", "50").strip()
    if raw_level not in {str(level) for level in LEVELS}:
        raise ApiError(
            400,
            "invalid_level",
            f"The level must be one of {', '.join(map(str, LEVELS))}, not “{raw_level[:10]}”.",
        )
    contextual = request.GET.get("contextual", "false").strip().lower() in {"1", "true", "yes"}
    stages = estimates.stages_for(school)
    wanted = request.GET.get("stage", "").strip().lower()
    stage = next((each for each in stages if each.target.lower() == wanted), None) if wanted else stages[0]
    if stage is None:
        offered = " or ".join(each.target.lower() for each in stages)
        raise ApiError(
            404, "no_such_stage", f"{school.name}'s estimates are for stage {offered}, not “{wanted[:10]}”."
        )
    found = estimates.school_estimates(school, contextual=contextual, transition=stage.transition)
    if found is None:
        raise ApiError(
            404,
            "no_estimates",
            "No estimates have been fitted yet"
            + (" that take disadvantage into account." if contextual else "."),
        )
    named = policy.can(request.user, Action.VIEW_PUPIL_DATA, school)
    if named:
        record(
            AuditAction.REPORT_DOWNLOADED,
            actor=request.user,
            organisation=school,
            subject=f"{stage.title} (API)",
            ip_address=client_address(request),
        )
    return JsonResponse(estimates.estimates_document(found, level=int(raw_level), named=named))


@endpoint(*ALL_METHODS, auth=False)
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    message = f"There is no API endpoint at {request.path}. /api/v1/openapi.json describes them all."
    if request.path.endswith("/"):
        try:
            resolved = resolve(request.path.rstrip("/"))
        except Resolver404:
            resolved = None
        if resolved is not None and resolved.url_name != "not_found":
            message = f"There is no API endpoint at {request.path}: leave off the final “/”."
    raise ApiError(404, "not_found", message)
