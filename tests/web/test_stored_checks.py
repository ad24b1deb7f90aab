"""The life of the worker's check of a stored file (web.stored_checks), for each kind that shares it: a
school's results upload, a CTF sent to its LA, and a larger file sent to the API's POST /validate.
Claimed, stalled, queued again, refused after CHECK_ATTEMPTS checks died with their workers; never
queued twice; its files cleaned up. A test of what only some kinds do (an LA checks a CTF again, an
upload's error workbook) is parametrised over those kinds, or names the one it is about."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from keystage.api import services as api_services
from keystage.api.models import ApiCheck
from keystage.results import downloads, upload_checks, uploading
from keystage.results.models import Upload, UploadStatus
from keystage.returns import checking
from keystage.returns import services as returns_services
from keystage.returns.models import Return, Validation
from keystage.web import stored_checks
from tests.results.conftest import as_file as results_file
from tests.results.conftest import filled, open_collection, roster
from tests.returns.conftest import as_file as return_file
from tests.returns.conftest import ctf, open_round, upn

MARK = "Phonics screening check mark"


@pytest.fixture(autouse=True)
def _files_in_a_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"


def _an_upload(world: Any, mark: int = 30) -> int:
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    data = filled(template, "phonics", {(1, MARK): mark})
    return uploading.upload_results(
        collection, world.s1, results_file(data), filename="r.xlsx", actor=user
    ).pk


def _an_api_check(world: Any) -> int:
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    template = downloads.download_template(collection, world.s1, actor=user)
    data = filled(template, "phonics", {(1, MARK): 30})
    return api_services.queue_check(
        user, source=results_file(data), kind="phonics", year=collection.year, school=world.s1
    ).pk


def _a_return(world: Any) -> int:
    world.s1.statutory_low_age, world.s1.statutory_high_age = 4, 18  # phonics is asked of it
    world.s1.save(update_fields=["statutory_low_age", "statutory_high_age"])
    open_round(world.la)
    data = ctf(world.s1, [(upn(world.s1, 1), "Ann", "41")])
    return returns_services.send_return(
        world.s1,
        tag="phonics",
        source=return_file(data),
        filename="return.xml",
        actor=world.person("manage_data"),
    ).pk


@dataclass(frozen=True)
class Kind:
    kind: stored_checks.StoredFileKind[Any, Any]
    module: ModuleType  # where the kind's check finds check_file
    make: Callable[[Any], int]
    check: Callable[[int], Any]  # the task's entry point, as its tasks.py calls it
    requeue: Callable[..., int]  # the sweep, as the worker calls it
    issues: Callable[[Any], list[dict[str, Any]]] = lambda row: row.issues  # as stored
    errors: Callable[[Any], int] = lambda row: row.error_count
    keeps_file: bool = True  # the file stays once checked (an API check's is deleted)


KINDS = {
    "upload": Kind(
        upload_checks.UPLOADS,
        upload_checks,
        _an_upload,
        upload_checks.validate_stored_upload,
        upload_checks.requeue_stalled_validations,
    ),
    "LA return": Kind(
        checking.RETURNS, checking, _a_return, checking.validate_return, checking.requeue_stalled_validations
    ),
    "API check": Kind(
        api_services.API_CHECKS,
        upload_checks,  # the API checks a file as an upload's is checked
        _an_api_check,
        api_services.run_queued_check,
        api_services.requeue_stalled_checks,
        issues=lambda row: row.outcome["issues"],
        errors=lambda row: row.outcome["errors"],
        keeps_file=False,
    ),
}
each_kind = pytest.mark.parametrize("name", list(KINDS))


def _file_kept(row: Any, name: str) -> bool:
    """Whether the row still names the file, and storage still has it."""
    return bool(row.file) and default_storage.exists(name)


class _WorkerDied(BaseException):
    """Stands in for a check that takes its worker down with it (out of memory, a crashing reader)."""


def _pending(kind: Kind, pk: int) -> int:
    tasks = DBTaskResult.objects.filter(
        task_path=kind.kind.task().module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    )
    return sum(1 for t in tasks if t.args_kwargs["args"] == [pk])


@each_kind
@pytest.mark.django_db(transaction=True)  # the check is queued when the file's row commits
def test_a_check_that_dies_each_time_is_queued_again_once_stalled_then_refused(world, monkeypatch, name):
    kind = KINDS[name]
    pk = kind.make(world)
    model = kind.kind.model
    checks = []

    def dies(*args: Any, **kwargs: Any) -> Any:
        checks.append(1)
        raise _WorkerDied

    monkeypatch.setattr(kind.module, "check_file", dies)
    assert _pending(kind, pk) == 1
    stored = model.objects.get(pk=pk).file.name
    for attempt in range(1, stored_checks.CHECK_ATTEMPTS + 1):
        with pytest.raises(_WorkerDied):
            kind.check(pk)
        DBTaskResult.objects.all().delete()  # the dead worker's task is lost with it
        row = model.objects.get(pk=pk)
        assert kind.kind.is_waiting(row) and row.validation_attempts == attempt  # counted before the check
        started = row.validation_started_at
        assert started is not None
        # Just started: another worker may be checking it still.
        assert kind.requeue(now=started + timedelta(seconds=30)) == 0
        later = started + stored_checks.STALLED_AFTER + timedelta(seconds=1)
        if attempt < stored_checks.CHECK_ATTEMPTS:
            assert kind.requeue(now=later) == 1  # stalled: queued again ...
            assert kind.requeue(now=later) == 0  # ... once
            assert _pending(kind, pk) == 1
        else:
            # Its last check died: the sweep that finds it refuses it, not queued again.
            assert kind.requeue(now=later) == 0
    row = model.objects.get(pk=pk)
    assert not kind.kind.is_waiting(row)
    assert kind.errors(row) == 1
    assert [(i["code"], i["message"]) for i in kind.issues(row)] == [
        (kind.kind.uncheckable.code, kind.kind.uncheckable.message)
    ]
    assert _file_kept(row, stored) == kind.keeps_file  # an API check's file goes once refused
    assert len(checks) == stored_checks.CHECK_ATTEMPTS  # not a fourth time
    assert _pending(kind, pk) == 0
    assert kind.requeue(now=timezone.now() + timedelta(hours=1)) == 0
    assert kind.issues(kind.check(pk)) == kind.issues(row)  # a late duplicate of its task changes nothing
    assert len(checks) == stored_checks.CHECK_ATTEMPTS


@each_kind
@pytest.mark.django_db(transaction=True)
def test_a_check_whose_task_was_lost_before_it_started_is_queued_again_once_stalled(world, name):
    kind = KINDS[name]
    pk = kind.make(world)
    queued = kind.kind.model.objects.get(pk=pk).validation_queued_at
    assert kind.requeue(now=queued + timedelta(hours=1)) == 0  # its task is in the queue (a backlog)
    DBTaskResult.objects.all().delete()
    assert kind.requeue(now=queued + timedelta(seconds=30)) == 0
    assert kind.requeue(now=queued + stored_checks.STALLED_AFTER + timedelta(seconds=1)) == 1
    assert _pending(kind, pk) == 1
    row = kind.check(pk)
    assert not kind.kind.is_waiting(row) and row.validation_attempts == 1


@each_kind
def test_a_check_that_fails_on_its_own_ends_with_the_kinds_message_at_once(world, monkeypatch, name):
    kind = KINDS[name]
    pk = kind.make(world)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine fault")

    monkeypatch.setattr(kind.module, "check_file", broken)
    stored = kind.kind.model.objects.get(pk=pk).file.name
    row = kind.check(pk)
    assert not kind.kind.is_waiting(row) and kind.issues(row) == [kind.kind.check_failed()]
    assert row.validation_attempts == 1
    assert _file_kept(kind.kind.model.objects.get(pk=pk), stored) == kind.keeps_file


@each_kind
def test_a_file_gone_from_storage_is_told_it_could_not_be_checked_not_retried(world, name):
    kind = KINDS[name]
    pk = kind.make(world)
    default_storage.delete(kind.kind.model.objects.get(pk=pk).file.name)
    checked = kind.check(pk)
    assert not kind.kind.is_waiting(checked) and checked.validation_attempts == 1
    assert kind.issues(checked) == [kind.kind.check_failed()]
    assert kind.requeue(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_ctf_whose_stored_file_is_gone_says_to_send_it_again(world):
    pk = _a_return(world)
    default_storage.delete(Return.objects.get(pk=pk).file.name)
    checked = checking.validate_return(pk)
    assert checked.validation == Validation.ERRORS
    assert checked.issues[0]["message"].startswith("This file could not be checked. Send it again")


@pytest.mark.parametrize("name", ["API check"])  # the kind whose waiting is more than its status
def test_a_file_checked_in_the_web_request_is_never_swept(world, name):
    kind = KINDS[name]
    user = world.person("manage_data")
    long_ago = timezone.now() - timedelta(hours=1)
    # Its request was killed mid-check: only CHECK_STUCK_AFTER frees its slot; no worker checks it.
    in_request = ApiCheck.objects.create(user=user, started_at=long_ago)
    assert not kind.kind.is_waiting(in_request)
    assert kind.requeue() == 0 and _pending(kind, in_request.pk) == 0
    ApiCheck.objects.filter(pk=in_request.pk).update(validation_attempts=stored_checks.CHECK_ATTEMPTS)
    assert kind.requeue() == 0
    assert ApiCheck.objects.get(pk=in_request.pk).status == ApiCheck.Status.CHECKING


def test_the_la_may_check_a_ctf_again_more_often_than_the_attempt_limit(world):
    pk = _a_return(world)
    officer = world.person("la_data_officer")
    first = checking.validate_return(pk)
    for _ in range(stored_checks.CHECK_ATTEMPTS + 1):
        # Each earlier check finished: a new one is counted afresh, not refused as uncheckable.
        again = checking.check_again(first, actor=officer)
        assert again.validation == Validation.PENDING and again.validation_attempts == 0
        checked = checking.validate_return(pk)
        assert checked.issues == first.issues and checked.validation == Validation.ERRORS


@each_kind
@pytest.mark.django_db(transaction=True)
def test_a_file_whose_check_could_not_be_queued_is_still_kept_and_the_sweep_queues_it(
    world, monkeypatch, name
):
    kind = KINDS[name]

    def database_gone(*args: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(stored_checks, "queue", database_gone)
    pk = kind.make(world)
    row = kind.kind.model.objects.get(pk=pk)
    # Nothing that was sent is lost, and it waits for its check.
    assert kind.kind.is_waiting(row) and default_storage.exists(row.file.name) and _pending(kind, pk) == 0
    monkeypatch.undo()
    assert kind.requeue(now=timezone.now()) == 0  # just sent
    later = timezone.now() + stored_checks.STALLED_AFTER + timedelta(seconds=1)
    assert kind.requeue(now=later) == 1
    assert _pending(kind, pk) == 1
    checked = kind.check(pk)
    assert not kind.kind.is_waiting(checked) and checked.validation_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_ctf_whose_check_could_not_be_queued_is_still_sent(world, monkeypatch):
    def database_gone(return_id: int) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(returns_services, "queue_check", database_gone)
    sent = Return.objects.get(pk=_a_return(world))
    assert sent.being_checked and default_storage.exists(sent.file.name)  # nothing the school sent is lost


@each_kind
def test_a_late_duplicate_run_leaves_the_first_outcome(world, name):
    kind = KINDS[name]
    pk = kind.make(world)
    first = kind.check(pk)
    # A duplicate run of its task ended later, with another outcome (its check failed).
    late = stored_checks.finish(kind.kind, pk, kind.kind.refusal([kind.kind.check_failed()]))
    assert kind.issues(late) == kind.issues(first) != [kind.kind.check_failed()]
    assert kind.issues(kind.kind.model.objects.get(pk=pk)) == kind.issues(first)


def _files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_second_run_that_finishes_late_leaves_the_first_outcome_and_none_of_its_files(world, settings):
    pk = _an_upload(world, mark=99)  # out of range: an error, and an error workbook
    checked = upload_checks.validate_stored_upload(pk)
    assert checked.status == UploadStatus.ERROR and checked.error_workbook
    kept = Path(checked.error_workbook.path)
    # A duplicate run of the task got as far as its own outcome, and finishes second.
    late = stored_checks.finish(upload_checks.UPLOADS, pk, upload_checks.UPLOADS.check(checked))
    assert late.error_workbook.name == checked.error_workbook.name
    assert _files_under(Path(settings.MEDIA_ROOT) / "error-workbooks") == [kept.name]
    assert Upload.objects.get(pk=pk).issues == checked.issues
