"""Background work of organisations, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.organisations import services
from keystage.web import task_priorities


@task(priority=task_priorities.IMPORT)
def import_gias_task(import_id: int) -> str:
    upload = services.run_gias_import(import_id)
    return "gone" if upload is None else f"{upload.status}: {upload.progress}"
