"""What every API endpoint shares: token authentication, JSON errors, and the request size limit.

Every answer is JSON, errors included: ``{"error": {"code": "...", "message": "..."}}`` with a
stable code a script can test and a message a person can read. Session cookies are ignored (the
API takes only tokens), so the views are exempt from CSRF checks: a browser cannot send a token
on someone's behalf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from keystage.api import services
from keystage.audit.log import client_address
from keystage.web import faults
from keystage.web.uploads import max_upload_bytes, upload_refused_for_size

logger = logging.getLogger(__name__)

# Room for the form fields and multipart framing around a file of the largest accepted size.
FORM_OVERHEAD_BYTES = 64 * 1024

View = Callable[..., HttpResponseBase]


class ApiError(Exception):
    """Answer the request with this error: HTTP status, stable code, plain message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JsonResponse:
    response = JsonResponse({**extra, "error": {"code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def too_large(size: int | None = None) -> ApiError:
    limit = max_upload_bytes() / 1024 / 1024
    sent = f"The request is {size / 1024 / 1024:.1f} MB; " if size else ""
    return ApiError(
        413,
        "too_large",
        f"{sent}the largest file accepted is {limit:.0f} MB. A template with every pupil is well under "
        "5 MB: check it is the right file.",
    )


def _authenticate(request: HttpRequest) -> None:
    try:
        token = services.authenticate(
            str(request.META.get("HTTP_AUTHORIZATION", "")), ip_address=client_address(request)
        )
    except services.AuthenticationFailed as failed:
        raise ApiError(
            401, failed.code, failed.message, {"WWW-Authenticate": 'Bearer realm="keystage"'}
        ) from None
    request.user = token.user
    request.api_token = token  # type: ignore[attr-defined]


def endpoint(*methods: str, auth: bool = True) -> Callable[[View], View]:
    """An API view: allowed methods, a token unless ``auth=False``, and JSON for every failure."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response: HttpResponseBase
            try:
                # Whatever session cookie came with the request, the API never acts on it.
                request.user = AnonymousUser()
                if request.method not in methods:
                    raise ApiError(
                        405,
                        "method_not_allowed",
                        f"{request.path} accepts {' and '.join(methods)}, not {request.method}.",
                        {"Allow": ", ".join(methods)},
                    )
                if auth:
                    _authenticate(request)
                response = view(request, *args, **kwargs)
            except ApiError as error:
                response = error.response()
            except PermissionDenied:
                response = error_response(
                    403, "forbidden", "You do not have permission to do that for this organisation."
                )
            except Http404:
                response = error_response(404, "not_found", "There is nothing at this address.")
            except RequestDataTooBig:
                response = too_large().response()
            except (SuspiciousOperation, MultiPartParserError, UnreadablePostError):
                response = error_response(
                    400, "malformed_request", "The request body could not be read: check its format."
                )
            except Exception as error:  # an API answers in JSON even when something unforeseen goes wrong
                response = _unforeseen(request, error)
            response["Cache-Control"] = "no-store"
            return response

        wrapper.api_methods = methods  # type: ignore[attr-defined]
        return csrf_exempt(wrapper)

    return decorate


def _unforeseen(request: HttpRequest, error: Exception) -> JsonResponse:
    """A database restarting or a full disk is worth retrying (503); anything else is our fault (500)."""
    logger.exception("API request %s %s failed", request.method, request.path)
    retry = {"Retry-After": str(faults.RETRY_AFTER_SECONDS)}
    if faults.storage_full(error):
        return error_response(503, "storage_unavailable", faults.NOT_STORED_MESSAGE, retry)
    if faults.database_unavailable(error):
        return error_response(
            503,
            "service_unavailable",
            "The service cannot reach its database just now. Try again in a few minutes.",
            retry,
        )
    return error_response(500, "internal_error", "Something went wrong on our side. Try again later.")


def form_with_file(request: HttpRequest) -> tuple[dict[str, str], UploadedFile]:
    """The fields and the one ``file`` of a multipart request, refusing a body that is too large
    before reading it."""
    length_text = str(request.META.get("CONTENT_LENGTH") or "0")
    try:
        length = int(length_text)
    except ValueError:
        raise ApiError(400, "malformed_request", "The Content-Length header is not a number.") from None
    if length > max_upload_bytes() + FORM_OVERHEAD_BYTES:
        raise too_large(length)
    if request.content_type != "multipart/form-data":
        raise ApiError(
            400,
            "expected_multipart",
            "Send the file and fields as multipart/form-data (for example curl -F file=@results.xlsx).",
        )
    if upload_refused_for_size(request):  # keystage.web.uploads stopped reading past the limit
        raise too_large(length)
    fields = {key: request.POST.get(key, "") for key in request.POST}
    files = request.FILES.getlist("file")
    if not files:
        raise ApiError(400, "missing_file", "Attach the results file as the form field “file”.")
    if len(files) > 1:
        raise ApiError(400, "too_many_files", "Send one file per request in the form field “file”.")
    upload = files[0]
    if upload.size is not None and upload.size > max_upload_bytes():
        raise too_large(upload.size)
    return fields, upload
