"""Background work of the measures, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.measures import refresh
from keystage.measures.models import KeyStage, RunStatus
from keystage.web import task_priorities


def _refresh(key_stage: str, year: int) -> str:
    run = refresh.run_queued_refresh(key_stage, year)
    if run is None:
        return "nothing queued: another worker took the refresh"
    if run.status != RunStatus.COMPLETE:
        return f"run {run.pk} {run.status}: {run.message}"
    return f"run {run.pk} complete: {run.pupils} pupils in {run.schools} schools, {run.estimates}"


@task(priority=task_priorities.FIGURES)
def refresh_measures(key_stage: str, year: int) -> str:
    """Recompute and store a key stage's figures for the year (queued, debounced, when an upload of
    that key stage is confirmed or the one in use deleted)."""
    return _refresh(key_stage, year)


@task(priority=task_priorities.FIGURES)
def refresh_ks4_measures(year: int) -> str:
    """KS4's refresh as it was queued before every key stage had one: kept so that refreshes already
    waiting in the queue under this name still run."""
    return _refresh(KeyStage.KS4.value, year)
