"""`keystage worker`: the database task worker, reporting a heartbeat for /healthz.

It outlives its faults. A task a worker took and never finished (the worker was killed, or lost the
database mid-task) is queued again by the next worker to start and by every worker's sweep, and so
is one that failed only because the database went away; every task is safe to run twice. When the
database goes away the worker waits for it and carries on, rather than exiting."""

from __future__ import annotations

import functools
import itertools
import os
import socket
import threading
import time
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connection, connections
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import TaskResultStatus
from django_tasks.signals import task_finished
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand
from django_tasks_db.models import DBTaskResult

from keystage.api.services import requeue_stalled_checks as requeue_stalled_api_checks
from keystage.privacy.retention import queue_daily_purge
from keystage.results.upload_checks import requeue_stalled_validations
from keystage.returns.checking import requeue_stalled_validations as requeue_stalled_return_checks
from keystage.web.faults import DATABASE_UNAVAILABLE
from keystage.web.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10
SWEEP_EVERY_BEATS = 6  # look for checks a dead worker left unfinished once a minute
# A task is taken at most this many times: one that kills its worker, or fails each time because
# the database is away, is not run for ever. A task failed by the database is retried a little later.
ATTEMPTS = 3
RETRY_DELAY = timedelta(seconds=5)
WAIT_FOR_DATABASE_SECONDS = (1, 2, 5, 10, 30)
_DATABASE_ERRORS = [f"{e.__module__}.{e.__qualname__}" for e in DATABASE_UNAVAILABLE]


def _requeue_stalled(worker_id: str) -> int:
    return (
        requeue_orphaned_tasks(worker_id=worker_id)
        + requeue_stalled_validations()
        + requeue_stalled_return_checks()
        + requeue_stalled_api_checks()
    )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@functools.cache
def process_space() -> str:
    """This process's kernel boot and pid namespace ("" where unknown, e.g. not Linux): two workers with
    the same value see the same processes, so a pid means the same process to both."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}:{namespace}"[:80]


def _worker_gone(beat: WorkerHeartbeat | None, stale_before: datetime, taken_at: datetime | None) -> bool:
    """Whether another worker, the one that took a task, will never finish it."""
    if beat is None:
        # Every `keystage worker` beats before it takes a task and stops beating only once its task
        # is done; a worker with no heartbeat (a bare db_worker) gets the heartbeat's grace.
        return taken_at is None or taken_at < stale_before
    if beat.last_seen < stale_before:
        return True
    # Among the same processes (this machine, this container) a dead worker is known at once; one with
    # this process's pid is its previous life (a restarted service). Elsewhere only staleness tells.
    here = process_space()
    if not here or beat.process_space != here or beat.hostname != socket.gethostname():
        return False
    return beat.pid == os.getpid() or not _process_alive(beat.pid)


def requeue_orphaned_tasks(*, worker_id: str, idle: bool = False, now: datetime | None = None) -> int:
    """Queue again the tasks no worker will finish: those taken by a worker that died, those this
    worker took before it lost the database (``idle``: it runs nothing now), and those that failed
    only because the database went away. A task taken ATTEMPTS times is failed instead. Dead
    workers' heartbeats on this machine are removed, so /healthz counts only the living."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.KEYSTAGE_WORKER_STALE_SECONDS)
    beats = {b.worker_id: b for b in WorkerHeartbeat.objects.exclude(worker_id=worker_id)}
    orphans: list[DBTaskResult[..., Any]] = []
    for task in DBTaskResult.objects.running().only("id", "worker_ids", "started_at"):
        taker = task.worker_ids[-1] if task.worker_ids else ""
        mine = taker == worker_id
        if (mine and idle) or (not mine and _worker_gone(beats.get(taker), stale_before, task.started_at)):
            orphans.append(task)
    again = [t.pk for t in orphans if len(t.worker_ids) < ATTEMPTS]
    requeued = DBTaskResult.objects.filter(pk__in=again, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY, started_at=None
    )
    DBTaskResult.objects.filter(
        pk__in=[t.pk for t in orphans if len(t.worker_ids) >= ATTEMPTS], status=TaskResultStatus.RUNNING
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path="keystage.worker.WorkerLost",
        traceback=f"The worker running this task stopped before it finished, {ATTEMPTS} times.",
    )
    failed_by_database = [
        t.pk
        for t in DBTaskResult.objects.failed()
        .filter(exception_class_path__in=_DATABASE_ERRORS, finished_at__gte=now - timedelta(hours=1))
        .only("id", "worker_ids")
        if len(t.worker_ids) < ATTEMPTS
    ]
    requeued += _retry_later(failed_by_database, now)
    here = socket.gethostname()
    dead = [b.pk for b in beats.values() if b.hostname == here and _worker_gone(b, stale_before, None)]
    WorkerHeartbeat.objects.filter(pk__in=dead).delete()
    return requeued


def _retry_later(task_ids: list[Any], now: datetime) -> int:
    return DBTaskResult.objects.filter(pk__in=task_ids, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY,
        started_at=None,
        finished_at=None,
        run_after=now + RETRY_DELAY,
        exception_class_path="",
        traceback="",
    )


def _retry_if_failed_by_database(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """A task that failed because the database went away goes back in the queue at once."""
    if task_result.status != TaskResultStatus.FAILED or not task_result.errors:
        return
    if task_result.errors[-1].exception_class_path not in _DATABASE_ERRORS:
        return
    if len(task_result.worker_ids) >= ATTEMPTS:
        return
    with suppress(DatabaseError):  # still away: the next sweep does it
        _retry_later([task_result.id], timezone.now())


def _lower_priority(niceness: int) -> None:
    """Checking a large file is CPU for seconds: on a machine shared with the web server, its
    requests go first. Set, not added to, so a worker started twice in one process is not lowered twice."""
    if niceness > 0 and hasattr(os, "setpriority"):
        with suppress(OSError):  # not allowed here: run at the priority given
            os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), niceness))


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


class Command(DatabaseWorkerCommand):
    help = "Run a background worker that takes queued tasks (uploads, reports, emails) from the database."

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options.get("worker_id") or f"{socket.gethostname()}-{os.getpid()}-{get_random_string(6)}"
        options["worker_id"] = worker_id = worker_id[:64]
        batch = bool(options.get("batch"))
        if not batch:
            _lower_priority(settings.KEYSTAGE_WORKER_NICENESS)
        self._until_database(lambda: self._start(worker_id), batch=batch)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(worker_id, stop), daemon=True)
        beat.start()
        task_finished.connect(_retry_if_failed_by_database)
        try:
            while True:
                try:
                    super().handle(*args, **options)
                    return
                except DATABASE_UNAVAILABLE as error:
                    self._close_connections(error, batch=batch)
                    self.stderr.write(f"Lost the database ({_reason(error)}); waiting for it.")
                    # What this worker was running when the database went away is run again.
                    self._until_database(
                        lambda: requeue_orphaned_tasks(worker_id=worker_id, idle=True), batch=batch
                    )
        finally:
            task_finished.disconnect(_retry_if_failed_by_database)
            stop.set()
            beat.join(timeout=HEARTBEAT_SECONDS)  # so a beat in flight cannot bring the row back
            with suppress(DatabaseError):  # a database that is down keeps the row; it goes stale
                WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()

    def _start(self, worker_id: str) -> None:
        # Rows of workers that were killed without saying goodbye; an hour is far past stale.
        WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(hours=1)).delete()
        self._beat(worker_id, started=True)
        # Tasks and uploads a killed worker left half-done are queued again; every task is safe to re-run.
        requeued = _requeue_stalled(worker_id)
        if requeued:
            self.stdout.write(f"Queued {requeued} unfinished task(s) or check(s) again.")

    def _until_database(self, action: Any, *, batch: bool) -> None:
        """Run ``action``, waiting for the database while it is unavailable (not in --batch mode)."""
        for attempt in itertools.count():
            try:
                action()
                return
            except DATABASE_UNAVAILABLE as error:
                self._close_connections(error, batch=batch)
                wait = WAIT_FOR_DATABASE_SECONDS[min(attempt, len(WAIT_FOR_DATABASE_SECONDS) - 1)]
                self.stderr.write(
                    f"The database is unavailable ({_reason(error)}); trying again in {wait} s."
                )
                time.sleep(wait)

    def _close_connections(self, error: BaseException, *, batch: bool) -> None:
        with suppress(DatabaseError):
            connections.close_all()  # the next query connects afresh
        if batch:  # a one-off run (cron, CI) says so and stops rather than waiting
            raise CommandError(f"The database is unavailable ({_reason(error)}).") from error

    def _beat(self, worker_id: str, *, started: bool = False) -> None:
        now = timezone.now()
        defaults: dict[str, Any] = {
            "last_seen": now,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "process_space": process_space(),
        }
        if started:
            defaults["started_at"] = now
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id, defaults=defaults, create_defaults={**defaults, "started_at": now}
        )

    def _heartbeat(self, worker_id: str, stop: threading.Event) -> None:
        beats = 0
        while not stop.wait(HEARTBEAT_SECONDS):
            beats += 1
            try:
                close_old_connections()
                self._beat(worker_id)
                if beats % SWEEP_EVERY_BEATS == 0:
                    _requeue_stalled(worker_id)  # a worker that died while others run: its tasks go on
                    queue_daily_purge()  # data past its retention period, once a day
            except Exception:  # a missed beat shows as a stale worker in /healthz; keep beating
                self.stderr.write("worker heartbeat failed; retrying")
        connection.close()
