"""Background work of data protection, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.privacy import retention


@task()
def purge_expired_data() -> str:
    """The daily retention purge (queued by the worker's sweep: retention.queue_daily_purge)."""
    if retention.purged_recently():
        return "not due: a purge ran within the last day"
    purge = retention.purge_expired()
    return ", ".join(f"{count} {kind}" for kind, count in purge.counts.items() if count) or "nothing was due"
