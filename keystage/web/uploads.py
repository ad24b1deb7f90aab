"""Uploads are refused as they stream in, once a file passes the size limit: nothing past the limit
is kept in memory or on disk, and the view is told why the file is missing."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest

TOO_LARGE_ATTR = "keystage_upload_too_large"

# How much of a request body each read takes while a file is parsed (Django's default is 64 KiB; the
# parser reads in the smallest chunk any handler asks for, so every handler here asks for this).
# gunicorn's body reader copies all it holds on each read, so small reads of a large file cost
# quadratic copying under the GIL: a 10 MB file took ~110 ms of it at 64 KiB, ~40 ms at 1 MiB.
UPLOAD_READ_BYTES = 1024 * 1024


class SizeLimitedUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: counts each file's bytes and stops the upload past the limit.

    The rest of the request body is read and dropped (no connection reset), so the browser gets the
    page that explains the refusal rather than a network error."""

    chunk_size = UPLOAD_READ_BYTES

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    @property
    def limit(self) -> int:
        return max_upload_bytes()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            if self.request is not None:
                setattr(self.request, TOO_LARGE_ATTR, self.file_name or "The file")
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler keeps the file


class InMemoryUploadHandler(MemoryFileUploadHandler):
    """Django's: a small file kept in memory, read in large chunks."""

    chunk_size = UPLOAD_READ_BYTES


class OnDiskUploadHandler(TemporaryFileUploadHandler):
    """Django's: a larger file written to a temporary file, read in large chunks."""

    chunk_size = UPLOAD_READ_BYTES


def upload_refused_for_size(request: HttpRequest) -> str | None:
    """The name of the file the handler refused for its size, if any. Reading it parses the body."""
    request.POST  # noqa: B018  (parsing the body runs the handlers)
    return getattr(request, TOO_LARGE_ATTR, None)


def max_upload_bytes() -> int:
    """The largest file any upload accepts (KEYSTAGE_MAX_UPLOAD_MB)."""
    return int(settings.KEYSTAGE_MAX_UPLOAD_BYTES)


def max_upload_mb() -> int:
    return max_upload_bytes() // (1024 * 1024)


def too_large_message(name: str, *, done: str = "uploaded") -> str:
    return (
        f"{name} is larger than {max_upload_mb()} MB, the largest file accepted, so it was not {done}. "
        "Check it is the right file: a results template with every pupil is well under 5 MB."
    )


def file_digest(source: File[Any]) -> tuple[str, int]:
    """The SHA-256 (hex) and size of an uploaded file, read in chunks; the file is left at its start."""
    digest = hashlib.sha256()
    size = 0
    source.seek(0)
    for chunk in source.chunks():
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return digest.hexdigest(), size
