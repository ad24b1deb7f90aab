"""The files a return keeps: the checks on a file sent or published, the name it is stored under, and
opening one to download (for those who may see the school's files, audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models.fields.files import FieldFile
from django.utils.crypto import get_random_string

from keystage.accounts import policy
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core import file_kinds
from keystage.organisations.models import School
from keystage.returns.errors import RETENTION_ENDED, ReturnsError
from keystage.returns.models import PublishedReport, Return
from keystage.web.uploads import max_upload_bytes, too_large_message


def check_size(filename: str, size: int) -> None:
    if size == 0:
        raise ReturnsError(
            f"{filename} is empty. Choose the file again, or export it again from your MIS.", "file"
        )
    if size > max_upload_bytes():
        raise ReturnsError(too_large_message(filename, done="sent"), "file")


def stored_name(prefix: str, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    suffix = "".join(c for c in suffix if c.isalnum())[:5] or "bin"
    return f"{prefix}-{get_random_string(16)}.{suffix}"


def open_audited(
    stored: FieldFile,
    school: School,
    *,
    missing: str,
    actor: Any,
    check: Callable[[FieldFile], None] | None = None,
    **audit: Any,
) -> FieldFile:
    """A stored file of a school's, for someone who may see the school's files; audited once it
    passes ``check`` (which raises ReturnsError to refuse it)."""
    if not policy.may_read_school_files(actor, school):
        raise PermissionDenied("You do not have permission to see this school's files.")
    if not stored:
        raise ReturnsError(RETENTION_ENDED)
    try:
        stored.open("rb")
    except FileNotFoundError:
        raise ReturnsError(missing) from None
    if check is not None:
        try:
            check(stored)
        except BaseException:
            stored.close()
            raise
    log.record(AuditAction.RETURN_DOWNLOADED, actor=actor, organisation=school, **audit)
    return stored


def open_return_file(sent: Return, *, actor: Any, ip: str | None = None) -> FieldFile:
    """The file a school sent, for the school or its LA."""
    return open_audited(
        sent.file,
        sent.school,
        missing="The stored file is missing; ask the school to send it again.",
        actor=actor,
        subject=f"{sent.round}: {sent.filename}",
        ip_address=ip,
        sent_return=sent.pk,
    )


def open_report_file(
    report: PublishedReport, *, actor: Any, ip: str | None = None
) -> tuple[FieldFile, file_kinds.FileKind]:
    """A report the LA published to a school, and its kind, read from its content. A file published
    before kinds were checked that is of no kind served is refused, not served."""
    kinds: list[file_kinds.FileKind] = []

    def served_kind(stored: FieldFile) -> None:
        kind = file_kinds.kind_of(stored)
        if kind is None:
            raise ReturnsError(
                f"“{report.title}” is not a {file_kinds.ALLOWED_KINDS} file, so keystage does not serve "
                "it. Ask your LA to publish it again as one of these."
            )
        kinds.append(kind)

    stored = open_audited(
        report.file,
        report.school,
        missing="The stored report is missing; ask your LA to publish it again.",
        actor=actor,
        check=served_kind,
        subject=f"{report.round}: report “{report.title}”",
        ip_address=ip,
        report=report.pk,
        file="published_report",
    )
    return stored, kinds[0]
