"""The refresh: a change to the results in use queues the figures of its key stage and year (and of the
later years that read them) to be worked out again by the worker, once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.core import key_stages
from keystage.core.measures.pipeline import (
    MeasuresError,
)
from keystage.measures.loading import KS4
from keystage.measures.models import (
    MeasureRun,
    RunStatus,
)
from keystage.measures.services import compute_and_store_ks4, compute_and_store_primary
from keystage.results.models import Upload

logger = logging.getLogger(__name__)
# A queued refresh whose task cannot be found and that has waited this long was lost: queue another.
LOST_AFTER = timedelta(minutes=30)


def results_in_use_changed(upload: Upload) -> None:
    """Called by keystage.results when the results in use change: an upload confirmed (services.py), or
    the one in use deleted (uploading.py). The figures of its key stage and year are refreshed once the
    change is committed, and those of a later year that read these results and have been computed
    already (phonics the year after: Year 2's "met by the end of Year 2"; KS2 four years after: progress)."""
    collection = upload.collection
    key_stage = key_stages.key_stage_of(collection.kind)
    if key_stage is None:
        return
    year = collection.year
    later = key_stages.later_readers(key_stage, year)

    def refresh() -> None:
        queue_refresh(key_stage, year)
        for stage, later_year in later:
            if MeasureRun.objects.filter(key_stage=stage, year=later_year).exists():
                queue_refresh(stage, later_year)

    transaction.on_commit(refresh)


def _still_waiting(run: MeasureRun) -> bool:
    """Whether a queued refresh's task is still to start (if it was lost, another is queued)."""
    from django_tasks import TaskResultStatus

    from keystage.measures.tasks import refresh_measures

    if run.task_id:
        try:
            status = refresh_measures.get_result(run.task_id).status
        except Exception:  # the backend keeps no results, or lost this one: judge by age
            logger.debug("task result %s not found", run.task_id)
        else:
            return status in (TaskResultStatus.READY, TaskResultStatus.RUNNING)
    return run.queued_at is not None and run.queued_at > timezone.now() - LOST_AFTER


def queue_refresh(key_stage: str, year: int) -> MeasureRun | None:
    """Queue a refresh of the key stage's figures for the year, unless one is already queued and not
    started (debounced: many confirmations in a row make one refresh). Returns the queued run, or None."""
    from keystage.measures.tasks import refresh_measures

    waiting = MeasureRun.objects.filter(key_stage=key_stage, year=year, status=RunStatus.QUEUED).first()
    if waiting is not None:
        if _still_waiting(waiting):
            return None
        MeasureRun.objects.filter(pk=waiting.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, message="The queued refresh never started, so another was queued."
        )
    try:
        with transaction.atomic():
            run = MeasureRun.objects.create(
                key_stage=key_stage,
                year=year,
                status=RunStatus.QUEUED,
                source="refresh",
                queued_at=timezone.now(),
            )
    except IntegrityError:  # another confirmation queued one at the same moment
        return None
    result = refresh_measures.enqueue(key_stage, year)
    MeasureRun.objects.filter(pk=run.pk).update(task_id=str(result.id)[:64])
    run.task_id = str(result.id)[:64]
    return run


def run_queued_refresh(key_stage: str, year: int) -> MeasureRun | None:
    """The task's work: take the queued refresh of the key stage and year (so later confirmations
    queue a new one) and compute and store the figures. None when nothing is queued (another worker
    took it)."""
    with transaction.atomic():
        run = (
            MeasureRun.objects.select_for_update()
            .filter(key_stage=key_stage, year=year, status=RunStatus.QUEUED)
            .order_by("pk")
            .first()
        )
        if run is None:
            return None
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        if key_stage == KS4:
            stored = compute_and_store_ks4(year, run=run, source="refresh")[0]
        else:
            stored = compute_and_store_primary(key_stage, year, run=run, source="refresh")[0]
    except MeasuresError:
        run.refresh_from_db()
        return run
    return stored
