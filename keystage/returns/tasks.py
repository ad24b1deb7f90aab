"""Background work of LA returns, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.returns.checking import validate_return
from keystage.web import task_priorities


@task(priority=task_priorities.CHECK)
def validate_return_task(return_id: int) -> str:
    sent = validate_return(return_id)
    return "gone" if sent is None else f"{sent.validation}: {sent.error_count} errors"
