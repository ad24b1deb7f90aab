"""The life of the worker's check of a stored file: a school's results upload, a CTF a school sent
its LA, or a file sent to the API's POST /validate. Each follows it, and each kind says only what is
its own (StoredFileKind).

Queued (``queue``), then claimed by the task (``run_check``: each start counted under the row's lock),
checked by the kind's check, finished (``finish``: the outcome stored, or the file refused, by
whichever run gets there first). A check whose task was lost is queued again by the worker's sweep
(``requeue_stalled``); a file whose every check died with its worker (out of memory, a reader that
crashes the process) is refused as uncheckable rather than tried for ever. Files the kind writes for
an outcome (an error workbook) are kept only if the outcome that names them is the one stored; a file
kept only to be checked (the API's) is deleted once its check has ended.

A kind's model has ``validation_queued_at``, ``validation_started_at`` and ``validation_attempts``."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Coalesce
from django.utils import timezone

from keystage.core.results.rules import Rule
from keystage.web.faults import DATABASE_UNAVAILABLE, discard_unrecorded
from keystage.web.queue import first_args_pending

logger = logging.getLogger(__name__)

# A check takes seconds. One with no task queued or running for it (the task was lost, or failed) is
# queued again once this long has passed since it started, or since it was queued if it never
# started, or since the file came if it was never queued: a check is safe to run twice.
STALLED_AFTER = timedelta(minutes=2)
# Checks of one file that may start without finishing before the file is refused as uncheckable.
CHECK_ATTEMPTS = 3

Row = TypeVar("Row", bound=Model)
Outcome = TypeVar("Outcome")
Issues = list[dict[str, Any]]


def _no_files(pk: int, outcome: Any) -> list[FieldFile]:
    return []


@dataclass(frozen=True)
class StoredFileKind(Generic[Row, Outcome]):
    """What one kind of stored file brings to the shared check."""

    name: str  # in the log: "upload", "LA return", "API check"
    model: type[Row]
    # The row's field and value while its check is waiting or running (status "processing").
    waiting_field: str
    waiting_value: str
    arrived_field: str  # when the file came: the stall's clock for a check never queued
    task: Callable[[], Any]  # the django-tasks task that runs ``run_check`` (imported late: it imports this)
    rows: Callable[[], QuerySet[Row]]  # the rows with what the check reads joined
    check: Callable[[Row], Outcome]  # the kind's own check of the stored file
    refusal: Callable[[Issues], Outcome]  # an outcome that refuses the file with these issues
    uncheckable: Rule  # the refusal once every check died with its worker
    check_failed: Callable[[], dict[str, Any]]  # the issue of a check that failed on its own
    # Writes the outcome onto the row, locked and still waiting; ``made`` are the files ``prepare`` wrote.
    store: Callable[[Row, Outcome, list[FieldFile]], None]
    # Files written for an outcome before the row is locked, so no lock is held while storage writes.
    prepare: Callable[[int, Outcome], list[FieldFile]] = _no_files
    # Other fields and values that hold too while it waits: an API check is waiting only if queued
    # (one checked in the web request has the same status, and no worker's check to sweep).
    waiting_also: Mapping[str, object] = field(default_factory=dict)
    # The field of a file kept only to be checked (an API check's), deleted once the check has ended;
    # "" for a kind that keeps its file (an upload's, a return's).
    file_kept_until_checked: str = ""

    def _waiting_values(self) -> dict[str, object]:
        return {self.waiting_field: self.waiting_value, **self.waiting_also}

    def waiting(self) -> Q:
        return Q(**self._waiting_values())

    def is_waiting(self, row: Row) -> bool:
        return all(getattr(row, name) == value for name, value in self._waiting_values().items())


def queue(kind: StoredFileKind[Any, Any], pk: int) -> None:
    """Queue a check of the file: its clock starts again from now."""
    kind.model._default_manager.filter(pk=pk).update(
        validation_queued_at=timezone.now(), validation_started_at=None
    )
    kind.task().enqueue(pk)


class _Claim(enum.Enum):
    DONE = "done"  # gone, or no longer waiting: another run finished it
    SPENT = "spent"  # every check of it so far died with its worker
    CLAIMED = "claimed"  # this run checks it, counted


def _claim(kind: StoredFileKind[Any, Any], pk: int) -> _Claim:
    # Under the row's lock, so the attempt is counted against what the row says now: a run that
    # finished meanwhile is seen, and two runs at once count two attempts.
    with transaction.atomic():
        row = kind.model._default_manager.select_for_update().filter(pk=pk).first()
        if row is None or not kind.is_waiting(row):
            return _Claim.DONE
        if row.validation_attempts >= CHECK_ATTEMPTS:
            return _Claim.SPENT
        kind.model._default_manager.filter(pk=pk).update(
            validation_started_at=timezone.now(), validation_attempts=F("validation_attempts") + 1
        )
    return _Claim.CLAIMED


def run_check(kind: StoredFileKind[Row, Outcome], pk: int) -> Row | None:
    """The task's part: claim the check, run the kind's check, finish. Safe to run twice (a worker
    restarted after being killed re-runs it): only the first to finish writes, and a file no longer
    waiting is left alone. Returns the row as it is now (None when it is gone)."""
    claim = _claim(kind, pk)
    if claim is _Claim.SPENT:
        attempts = kind.model._default_manager.filter(pk=pk).values_list("validation_attempts", flat=True)
        logger.error("%s %s refused after %s unfinished checks", kind.name, pk, attempts.first())
        return finish(kind, pk, kind.refusal([kind.uncheckable.issue().as_dict()]))
    row = kind.rows().filter(pk=pk).first()
    if claim is _Claim.DONE or row is None:
        return row
    try:
        outcome = kind.check(row)
    except DATABASE_UNAVAILABLE:
        raise  # not the file's fault: it stays waiting, and the task is run again (keystage worker)
    except Exception:  # never leave a file being checked for ever; the log has the details
        logger.exception("%s %s could not be checked", kind.name, pk)
        outcome = kind.refusal([kind.check_failed()])
    return finish(kind, pk, outcome)


def finish(kind: StoredFileKind[Row, Outcome], pk: int, outcome: Outcome) -> Row | None:
    """Store the outcome if the file is still waiting; a run that finished first keeps its own."""
    made = [f for f in kind.prepare(pk, outcome) if f.name]
    row: Row | None = None
    try:
        with transaction.atomic():
            row = kind.model._default_manager.select_for_update().filter(pk=pk).first()
            if row is not None and kind.is_waiting(row):
                kind.store(row, outcome, made)
            # else another run finished first (or the row is gone), and this run's files are not used
    except BaseException:
        for file in made:
            discard_unrecorded(file, kind.model._default_manager.filter(**{file.field.name: file.name}))
        raise
    for file in made:
        if file.name and (row is None or getattr(row, file.field.name).name != file.name):
            file.storage.delete(file.name)
    if row is not None and kind.file_kept_until_checked:
        _discard_checked_file(kind, row)
    return row


def _discard_checked_file(kind: StoredFileKind[Row, Any], row: Row) -> None:
    """The file of a check that has ended (stored by this run or one before it), for a kind that
    keeps the file only to be checked."""
    kept = getattr(row, kind.file_kept_until_checked)
    if kind.is_waiting(row) or not kept.name:
        return
    name = kept.name
    # The row first: a finished check naming no file is right whether or not the delete then works.
    kind.model._default_manager.filter(pk=row.pk).update(**{kind.file_kept_until_checked: ""})
    setattr(row, kind.file_kept_until_checked, "")
    kept.storage.delete(name)


def requeue_stalled(kind: StoredFileKind[Any, Any], now: datetime | None = None) -> int:
    """Files left waiting with no check queued or running for them (the task was lost, or failed)
    are queued again, and one whose every check died with its worker is refused by the sweep that
    finds it, with no wait (it is not counted in what is returned: the number queued again). A
    check still queued or running is left alone, however long it takes: a dead worker's task is
    queued again by the worker itself (requeue_orphaned_tasks)."""
    now = now or timezone.now()
    waiting = (
        kind.model._default_manager.filter(kind.waiting())
        .exclude(pk__in=first_args_pending(kind.task()))
        .order_by()
    )
    for pk in waiting.filter(validation_attempts__gte=CHECK_ATTEMPTS).values_list("pk", flat=True):
        run_check(kind, pk)
    stalled = (
        waiting.filter(validation_attempts__lt=CHECK_ATTEMPTS)
        .alias(last_news=Coalesce("validation_started_at", "validation_queued_at", kind.arrived_field))
        .filter(last_news__lt=now - STALLED_AFTER)
    )
    ids = list(stalled.values_list("pk", flat=True))
    for pk in ids:
        queue(kind, pk)
    return len(ids)
