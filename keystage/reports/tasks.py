"""Background work of the reports, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.reports import exports, summaries


@task()
def draw_report_export(export_id: int) -> str:
    """Draw a report's PDF too big for a request (queued when someone asks for it)."""
    return exports.draw_export(export_id)


@task()
def publish_summaries(publication_id: int) -> str:
    """Draw each school's summary report of an LA return round and publish it to the school."""
    return summaries.publish(publication_id)
