"""What the task queue (django-tasks-db) holds, for the sweeps that look for lost work."""

from __future__ import annotations

from typing import Any

from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult


def first_args_pending(task: Any) -> set[Any]:
    """The first argument (an upload's or a return's id) of each run of ``task`` still queued or
    running: work a worker will do, so not to be queued a second time."""
    pending = DBTaskResult.objects.filter(
        task_path=task.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    ).values_list("args_kwargs", flat=True)
    return {args["args"][0] for args in pending if args.get("args")}
