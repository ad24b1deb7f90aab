"""Background work of the API, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.api import services
from keystage.web import task_priorities


@task(priority=task_priorities.CHECK)
def check_api_file_task(check_id: int) -> str:
    check = services.run_queued_check(check_id)
    return "gone" if check is None else f"{check.status} ({check.answer_status})"
