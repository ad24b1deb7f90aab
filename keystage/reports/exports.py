"""PDFs too big to draw within a request (a trust's or LA's schools side by side, a year group's pupil
list, a scatter plot's table of every pupil): the request queues an export, the worker draws it, and
the requester downloads it from the export's own page, which updates itself when it is ready.

The worker draws the report through its own view, as the requester: the role and organisation are
checked again at that moment, and the PDF is the very page the person asked for.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import Http404
from django.test import RequestFactory
from django.urls import resolve
from django.utils import timezone

from keystage.accounts import policy
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.roles import Action
from keystage.organisations.models import Organisation
from keystage.reports.models import ExportStatus, ReportExport
from keystage.web.faults import FileNotStored, save_whole

# Exports are copies of reports the person can draw again at any time; kept a week, then deleted.
KEEP_EXPORTS = timedelta(days=7)
# The longest report address kept for the worker (the column's size): longer ones are refused.
LONGEST_ADDRESS = 2000
# A second click on the same download while the first is still fresh gets the first one.
REUSE_WITHIN = timedelta(minutes=10)
logger = logging.getLogger(__name__)
# Marked on the request the worker builds, so the view draws the PDF instead of queueing it again.
DRAWING_EXPORT = "keystage_drawing_export"


def heavy(rows: int) -> bool:
    """Beyond settings.KEYSTAGE_PDF_ROWS_IN_REQUEST table rows (100 by default) a PDF is drawn by the
    worker: WeasyPrint lays out about 200 rows a second on one core, so a page waits at most about
    half a second for the PDFs drawn within a request."""
    rows_in_request: int = settings.KEYSTAGE_PDF_ROWS_IN_REQUEST
    return rows > rows_in_request


def queued(rows: int, *, drawing: bool) -> bool:
    """Whether a PDF of ``rows`` table rows goes to the worker rather than being drawn now: a heavy one,
    unless this is the worker ``drawing`` it (as its requester, through the report's own view)."""
    return heavy(rows) and not drawing


def request_export(
    user: Any,
    organisation: Organisation,
    path: str,
    *,
    title: str,
    filename: str,
    personal: bool,
    ip: str | None,
) -> ReportExport:
    """Queue the PDF of the report at ``path`` for ``user`` (or hand back the same one asked for moments
    ago: a double click queues nothing twice)."""
    from keystage.reports.tasks import draw_report_export

    _prune()
    with transaction.atomic():
        # The person's row is the lock: two clicks at once wait for each other, so one export is made.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        earlier = ReportExport.objects.filter(
            requested_by=user,
            path=path,
            status__in=[ExportStatus.QUEUED, ExportStatus.READY],
            created_at__gte=timezone.now() - REUSE_WITHIN,
        ).first()
        if earlier is not None:
            return earlier
        export = ReportExport.objects.create(
            requested_by=user,
            organisation=organisation,
            path=path,
            title=title[:300],
            filename=filename[:255],
            personal=personal,
            ip_address=ip,
        )
        transaction.on_commit(lambda: draw_report_export.enqueue(export.pk))
    return export


def draw_export(export_id: int) -> str:
    """The worker's part: draw the report as its requester and keep the PDF."""
    _prune()
    export = ReportExport.objects.select_related("requested_by").filter(pk=export_id).first()
    if export is None or export.status != ExportStatus.QUEUED:
        return "nothing to draw"
    request = RequestFactory().get(
        export.path, REMOTE_ADDR=export.ip_address or "127.0.0.1", SERVER_NAME=_server_name()
    )
    request.user = export.requested_by
    setattr(request, DRAWING_EXPORT, True)
    try:
        match = resolve(request.path_info)
        response = match.func(request, *match.args, **match.kwargs)
    except (PermissionDenied, Http404):
        return _failed(export, "You can no longer read this report, so its PDF was not prepared.")
    except Exception:  # never left "being prepared" for ever: the person is told, and the log has why
        logger.exception("Drawing report export %s failed", export.pk)
        return _failed(export, "Something went wrong preparing this PDF. Download the report again.")
    if response.status_code != 200 or response.get("Content-Type") != "application/pdf":
        return _failed(export, "This report has no figures now, so its PDF was not prepared.")
    content = response.content
    try:
        save_whole(export.file, export.filename, ContentFile(content))
    except FileNotStored:  # a full disk: said on the export's page, not left "being prepared"
        return _failed(export, "The server could not store this PDF. Download the report again later.")
    export.size = len(content)
    export.status = ExportStatus.READY
    export.finished_at = timezone.now()
    export.save(update_fields=["file", "size", "status", "finished_at"])
    return f"export {export.pk}: {len(content):,} bytes"


def _failed(export: ReportExport, message: str) -> str:
    export.status = ExportStatus.FAILED
    export.message = message
    export.finished_at = timezone.now()
    export.save(update_fields=["status", "message", "finished_at"])
    return f"export {export.pk} failed: {message}"


def _server_name() -> str:
    base = getattr(settings, "KEYSTAGE_BASE_URL", "") or "http://localhost"
    return urlsplit(base).hostname or "localhost"


def export_of(user: Any, export_id: int) -> ReportExport:
    """One of the person's own exports, less than a week old; anyone else's is not there for them."""
    export = ReportExport.objects.filter(
        pk=export_id, requested_by=user, created_at__gte=timezone.now() - KEEP_EXPORTS
    ).first()
    if export is None:
        raise Http404("No such download.")
    return export


def export_to_download(user: Any, export_id: int, *, ip: str | None = None) -> ReportExport:
    """One of the person's exports to download. A ready one is read again as the person now (a role
    taken away since the PDF was drawn takes the PDF away too), and a PDF of pupils is audited."""
    export = export_of(user, export_id)
    if not export.downloadable:
        return export
    organisation = export.organisation.specific()
    policy.require(user, Action.VIEW_REPORTS, organisation)
    if export.personal:
        policy.require(user, Action.VIEW_PUPIL_DATA, organisation)
        record(
            AuditAction.REPORT_DOWNLOADED,
            actor=user,
            organisation=export.organisation,
            subject=f"{export.title} (pdf)",
            ip_address=ip,
        )
    return export


def _prune() -> None:
    """Exports older than a week go, files and all (run whenever an export is asked for or drawn)."""
    for old in ReportExport.objects.filter(created_at__lt=timezone.now() - KEEP_EXPORTS):
        old.delete()  # its file goes with it: models.ReportExport's post_delete
