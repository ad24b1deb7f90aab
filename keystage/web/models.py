"""What the site itself keeps: the heartbeat of each background worker, for /healthz."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    # Which processes ``pid`` is counted among (the kernel's boot and the pid namespace): containers that
    # share a host name do not see each other's processes, so only a worker in the same space may judge
    # another dead by its pid. Blank where it cannot be known: then only a stale heartbeat tells.
    process_space = models.CharField(max_length=80, blank=True, default="")
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.hostname} (pid {self.pid})"
