"""Background work of the reports, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.reports import exports


@task()
def draw_report_export(export_id: int) -> str:
    """Draw a report's PDF too big for a request (queued when someone asks for it)."""
    return exports.draw_export(export_id)
