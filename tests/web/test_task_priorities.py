"""On deadline day a free worker takes a school's check before figures waiting to be recomputed, and
a deadline's collection before either (bench/deadline_surge shows the figures take most of the time)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from keystage.measures.tasks import refresh_measures
from keystage.results.tasks import collect_at_deadline, validate_upload_task
from keystage.returns.tasks import validate_return_task


def _status(result) -> str:
    return DBTaskResult.objects.get(pk=result.id).status


@pytest.mark.django_db(transaction=True)
def test_a_free_worker_takes_the_deadline_then_checks_then_figures_whatever_the_order_queued():
    figures = refresh_measures.enqueue("phonics", 2026)  # queued first: the oldest
    check = validate_upload_task.enqueue(987654)  # no such upload: the check finds it gone
    ctf_check = validate_return_task.enqueue(987654)
    deadline = collect_at_deadline.enqueue(987654, "provisional")

    call_command("worker", "--batch", "--interval", "0", "--max-tasks", "1", verbosity=0)
    assert _status(deadline) == TaskResultStatus.SUCCESSFUL
    assert {_status(t) for t in (figures, check, ctf_check)} == {TaskResultStatus.READY}

    call_command("worker", "--batch", "--interval", "0", "--max-tasks", "2", verbosity=0)
    assert _status(check) == _status(ctf_check) == TaskResultStatus.SUCCESSFUL
    assert _status(figures) == TaskResultStatus.READY  # waited for both checks, though queued first
