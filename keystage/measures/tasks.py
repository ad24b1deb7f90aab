"""Background work of the measures, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.measures import services
from keystage.measures.models import RunStatus


@task()
def refresh_ks4_measures(year: int) -> str:
    """Recompute and store the year's KS4 figures (queued, debounced, when a KS4 upload is confirmed)."""
    run = services.run_queued_ks4_refresh(year)
    if run is None:
        return "nothing queued: another worker took the refresh"
    if run.status != RunStatus.COMPLETE:
        return f"run {run.pk} {run.status}: {run.message}"
    return f"run {run.pk} complete: {run.pupils} pupils in {run.schools} schools, {run.estimates}"
