"""`keystage worker`: the database task worker, reporting a heartbeat for /healthz."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from keystage.results.services import requeue_stalled_validations
from keystage.returns.services import requeue_stalled_validations as requeue_stalled_return_checks
from keystage.web.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10
SWEEP_EVERY_BEATS = 6  # look for checks a dead worker left unfinished once a minute


def _requeue_stalled() -> int:
    return requeue_stalled_validations() + requeue_stalled_return_checks()


class Command(DatabaseWorkerCommand):
    help = "Run a background worker that takes queued tasks (uploads, reports, emails) from the database."

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options.get("worker_id") or f"{socket.gethostname()}-{os.getpid()}-{get_random_string(6)}"
        options["worker_id"] = worker_id[:64]
        # Rows of workers that were killed without saying goodbye; an hour is far past stale.
        WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(hours=1)).delete()
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(options["worker_id"], stop), daemon=True)
        self._beat(options["worker_id"], started=True)
        beat.start()
        # Uploads a killed worker left half-validated are queued again; the task is safe to re-run.
        requeued = _requeue_stalled()
        if requeued:
            self.stdout.write(f"Queued {requeued} stalled validation(s) again.")
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
            beat.join(timeout=HEARTBEAT_SECONDS)  # so a beat in flight cannot bring the row back
            WorkerHeartbeat.objects.filter(worker_id=options["worker_id"]).delete()

    def _beat(self, worker_id: str, *, started: bool = False) -> None:
        now = timezone.now()
        defaults: dict[str, Any] = {"last_seen": now, "hostname": socket.gethostname(), "pid": os.getpid()}
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
                    _requeue_stalled()  # a worker that died while others run: its checks go on
            except Exception:  # a missed beat shows as a stale worker in /healthz; keep beating
                self.stderr.write("worker heartbeat failed; retrying")
        connection.close()
