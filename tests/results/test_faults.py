"""Faults, and the state each leaves: a worker killed mid-task, the database going away (and a real
PostgreSQL 15 restarted under the web server and a worker), the disk filling while an upload or an
error workbook is stored, and a request cancelled mid-upload. Each ends in a true, visible state, with
no lost work, no half-written file and no row pointing at a missing one."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from keystage.audit import log
from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import downloads, services, upload_checks, uploading
from keystage.results.models import (
    DeadlineRun,
    FrozenSubmission,
    Result,
    SubmittedPupil,
    Upload,
    UploadStatus,
)
from keystage.results.tasks import collect_at_deadline
from keystage.web import stored_checks
from keystage.web.management.commands import worker
from keystage.web.models import WorkerHeartbeat
from tests.api.conftest import token_text
from tests.conftest import signed_in
from tests.results.conftest import YEAR, as_file, filled, open_collection, roster

ROOT = Path(__file__).resolve().parents[2]
MARK = "Phonics screening check mark"
NOT_STORED = "The server could not store your file, so nothing was saved"


def _template(world, collection, pupils: int = 3) -> bytes:
    roster(world.s1, count=pupils)
    return downloads.download_template(collection, world.s1, actor=world.person("manage_data"))


def _uploaded(world, mark: int = 30) -> Upload:
    """School One's data person uploads a three-pupil phonics file (one mark given) to an open collection."""
    collection = open_collection()
    template = _template(world, collection)
    return uploading.upload_results(
        collection,
        world.s1,
        as_file(filled(template, "phonics", {(1, MARK): mark})),
        filename="r.xlsx",
        actor=world.person("manage_data"),
    )


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# The disk fills ----------------------------------------------------------------------------------


class _WriteHalfThenFail:
    """A file whose first half is written before the disk is found full, as a real full disk does."""

    def __init__(self, content: Any) -> None:
        self.content = content

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        self.content.seek(0)
        data = self.content.read()
        yield data[: len(data) // 2]
        raise OSError(errno.ENOSPC, "No space left on device")


class FullDisk(FileSystemStorage):
    """Storage whose disk is full for files under ``full_under`` (every file when it is empty)."""

    def __init__(self, full_under: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.full_under = full_under

    def _save(self, name: str, content: Any) -> str:
        if name.startswith(self.full_under):
            return super()._save(name, _WriteHalfThenFail(content))
        return super()._save(name, content)


@pytest.fixture
def full_disk(settings):
    def fill(under: str = "") -> None:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": f"{__name__}.FullDisk", "OPTIONS": {"full_under": under}},
        }

    return fill


def _nothing_kept(settings) -> None:
    assert not Upload.objects.exists()
    assert _files_under(Path(settings.MEDIA_ROOT)) == []  # not even the half written before the disk filled
    assert not DBTaskResult.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.RESULTS_UPLOADED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_full_disk_while_storing_an_upload_says_so_and_keeps_nothing(world, settings, full_disk):
    collection = open_collection()
    data = _template(world, collection)
    full_disk()
    client = signed_in(world.person("manage_data"))
    address = reverse("results:upload", args=[collection.pk, world.s1.pk])
    response = client.post(address, {"file": SimpleUploadedFile("results.xlsx", data)})
    assert response.status_code == 503
    assert NOT_STORED in response.content.decode()
    assert b"Upload and check" in response.content  # the form again, to try once there is room
    _nothing_kept(settings)

    full_disk("nothing-is-full/")  # room again: the same upload goes through
    response = client.post(address, {"file": SimpleUploadedFile("results.xlsx", data)})
    upload = Upload.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "results:upload_detail", args=[upload.pk]
    )
    assert _files_under(Path(settings.MEDIA_ROOT)) == [Path(upload.file.path)]


@pytest.mark.django_db(transaction=True)
def test_a_trusts_bulk_upload_names_the_file_a_full_disk_refused(world, settings, full_disk):
    collection = open_collection()
    full_disk()
    _batch, uploads, refused = uploading.bulk_upload(
        collection, world.trust, [as_file(b"UPN\n", "one.csv")], actor=world.person("trust_admin")
    )
    assert uploads == [] and len(refused) == 1
    assert refused[0].startswith("one.csv: ") and NOT_STORED in refused[0]
    _nothing_kept(settings)


@pytest.mark.django_db(transaction=True)
def test_the_database_lost_after_the_file_is_stored_leaves_no_file(world, settings, monkeypatch):
    collection = open_collection()
    data = _template(world, collection)

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(log, "record", database_gone)  # after the row is written, before the commit
    client = signed_in(world.person("manage_data"))
    client.raise_request_exception = False
    response = client.post(
        reverse("results:upload", args=[collection.pk, world.s1.pk]),
        {"file": SimpleUploadedFile("results.xlsx", data)},
    )
    assert response.status_code == 503 and response["Retry-After"]
    assert "Sorry, the service is unavailable" in response.content.decode()
    assert "cannot reach its database" in response.content.decode()
    _nothing_kept(settings)


def test_a_full_temporary_folder_while_an_upload_streams_in_gets_the_storage_page(
    world, settings, monkeypatch
):
    from django.core.files import uploadhandler

    collection = open_collection()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # every file goes to a temporary file as it arrives

    def disk_full(self: Any, raw_data: bytes, start: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploadhandler.TemporaryFileUploadHandler, "receive_data_chunk", disk_full)
    client = signed_in(world.person("manage_data"))
    client.raise_request_exception = False
    response = client.post(
        reverse("results:upload", args=[collection.pk, world.s1.pk]),
        {"file": SimpleUploadedFile("results.csv", b"UPN,Mark\n" * 20)},
    )
    assert response.status_code == 503
    assert NOT_STORED in response.content.decode()
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_error_workbook_a_full_disk_refused_leaves_the_upload_with_its_errors_shown(
    world, settings, full_disk
):
    user = world.person("manage_data")
    upload = _uploaded(world, mark=41)
    full_disk("error-workbooks/")
    checked = upload_checks.validate_stored_upload(upload.pk)
    assert checked.status == UploadStatus.ERROR and checked.error_count == 1  # not stuck "processing"
    assert not checked.error_workbook
    assert _files_under(Path(settings.MEDIA_ROOT) / "error-workbooks") == []
    page = signed_in(user).get(reverse("results:upload_detail", args=[upload.pk])).content.decode()
    assert "1 error found: this file was not accepted" in page
    assert "Download the error workbook" not in page


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_the_same_file_at_once_each_end_whole(world, settings):
    """A double click that gets past the button's own guard: two uploads, each complete on its own."""
    collection = open_collection()
    template = _template(world, collection)
    data = filled(template, "phonics", {(1, MARK): 30, (2, MARK): 31})
    user = world.person("manage_data")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            barrier.wait()
            uploading.upload_results(collection, world.s1, as_file(data), filename="r.xlsx", actor=user)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    first, second = Upload.objects.order_by("pk")
    assert first.file.name != second.file.name
    assert _files_under(Path(settings.MEDIA_ROOT)) == sorted([Path(first.file.path), Path(second.file.path)])
    for upload in (first, second):
        assert upload.status == UploadStatus.SUCCESSFUL and Result.objects.filter(upload=upload).count() == 2
    # The later one confirmed is used, and the earlier, never confirmed, is overwritten.
    later = max((first, second), key=lambda u: (u.uploaded_at, u.pk))
    services.confirm_upload(later, actor=user, agreed=True)
    statuses = sorted(Upload.objects.values_list("status", "in_use"))
    assert statuses == [(UploadStatus.OVERWRITTEN, False), (UploadStatus.SUCCESSFUL, True)]


# The database goes away --------------------------------------------------------------------------


def test_a_page_while_the_database_is_down_is_a_503_not_a_500(world, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    client = signed_in(world.person("manage_data"))
    client.raise_request_exception = False

    def database_gone(self: Any) -> None:
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(SessionStore, "load", database_gone)
    response = client.get("/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    page = response.content.decode()
    assert "Sorry, the service is unavailable" in page and "Try again in a few minutes" in page
    assert response["Cache-Control"] == "no-store"


def _as_django_raises(driver_error: Exception) -> OperationalError:
    """The driver's error wrapped as Django's database layer wraps it (``raise … from`` the driver's)."""
    try:
        try:
            raise driver_error
        except Exception as error:
            raise OperationalError(str(error)) from error
    except OperationalError as wrapped:
        return wrapped


def _sqlite_error(tmp_path: Path, *, locked: bool) -> sqlite3.OperationalError:
    """A real SQLite error: the file locked by another writer, or a query that is wrong."""
    path = tmp_path / "faults.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    if locked:
        holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("SELECT * FROM t" if locked else "SELECT * FROM no_such_table")
    except sqlite3.OperationalError as error:
        return error
    finally:
        other.close()
        holder.close()
    raise AssertionError("the query did not fail")


def test_only_a_database_away_or_restarting_counts_as_unavailable_not_a_query_that_fails(tmp_path):
    import psycopg.errors

    from keystage.web import faults

    away = [
        OperationalError("server closed the connection unexpectedly"),  # psycopg's own: no SQLSTATE
        _as_django_raises(
            psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        ),
        _as_django_raises(psycopg.errors.CannotConnectNow("the database system is starting up")),
        _as_django_raises(psycopg.errors.ConnectionFailure("connection failure")),
        _as_django_raises(_sqlite_error(tmp_path, locked=True)),  # database is locked
    ]
    failing = [
        _as_django_raises(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        _as_django_raises(_sqlite_error(tmp_path, locked=False)),  # no such table
    ]
    assert [faults.database_unavailable(e) for e in away] == [True] * len(away)
    assert [faults.database_unavailable(e) for e in failing] == [False] * len(failing)


def test_a_query_that_fails_on_its_own_is_a_500_not_a_503(world, monkeypatch):
    import psycopg.errors
    from django.contrib.sessions.backends.db import SessionStore

    client = signed_in(world.person("manage_data"))
    client.raise_request_exception = False

    def times_out(self: Any) -> None:
        raise _as_django_raises(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))

    monkeypatch.setattr(SessionStore, "load", times_out)
    response = client.get("/")
    # Not "come back in a few minutes": the database is there, and the log has what went wrong.
    assert response.status_code == 500 and "Retry-After" not in response


@pytest.mark.django_db(transaction=True)
def test_a_check_that_loses_the_database_stays_processing_and_is_run_again(world, monkeypatch):
    upload = _uploaded(world)
    real_check = upload_checks.check_file
    calls = []

    def check_once_the_database_is_back(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_check(*args, **kwargs)

    monkeypatch.setattr(upload_checks, "check_file", check_once_the_database_is_back)
    monkeypatch.setattr(worker, "RETRY_DELAY", timedelta(0))
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    upload.refresh_from_db()
    # Not "This file could not be checked": the database, not the file, failed; the task ran again.
    assert upload.status == UploadStatus.SUCCESSFUL and upload.pupil_count == 3
    task = DBTaskResult.objects.get(task_path__endswith="validate_upload_task")
    assert task.status == TaskResultStatus.SUCCESSFUL and len(task.worker_ids) == 2


class _WorkerDied(BaseException):
    """Stands in for a check that takes its worker down with it (out of memory, a crashing reader)."""


@pytest.mark.django_db(transaction=True)
def test_a_file_that_kills_every_check_is_refused_after_three_not_checked_for_ever(world, monkeypatch):
    user = world.person("manage_data")
    upload = _uploaded(world)
    checks = []

    def dies(*args: Any, **kwargs: Any) -> Any:
        checks.append(1)
        raise _WorkerDied

    monkeypatch.setattr(upload_checks, "check_file", dies)
    task = DBTaskResult.objects.get()
    for attempt in range(1, worker.ATTEMPTS + 1):
        # A worker takes the task and dies in the middle of the check: the task stays RUNNING.
        DBTaskResult.objects.filter(pk=task.pk).update(
            status=TaskResultStatus.RUNNING,
            worker_ids=[f"dead-{n}" for n in range(1, attempt + 1)],
            started_at=timezone.now() - timedelta(minutes=5),
        )
        with pytest.raises(_WorkerDied):
            upload_checks.validate_stored_upload(upload.pk)
        # While a task for it is queued or running, the upload is not queued a second time.
        later = timezone.now() + stored_checks.STALLED_AFTER + timedelta(seconds=1)
        assert upload_checks.requeue_stalled_validations(now=later) == 0
        # A living worker's sweep finds the dead one's task: queued again, and failed on its third death.
        assert worker.requeue_orphaned_tasks(worker_id="me") == (1 if attempt < worker.ATTEMPTS else 0)
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    # The task failed on its third death; the same sweep (a worker's, once a minute, or a new worker's
    # at start) refuses the upload, with no wait for it to look stalled and no fourth check.
    assert upload_checks.requeue_stalled_validations(now=timezone.now()) == 0
    upload.refresh_from_db()
    assert upload.status == UploadStatus.ERROR
    call_command("worker", "--batch", "--interval", "0", verbosity=0)

    assert len(checks) == stored_checks.CHECK_ATTEMPTS  # not a fourth time
    upload.refresh_from_db()
    assert upload.status == UploadStatus.ERROR and not upload.in_use
    page = signed_in(user).get(reverse("results:upload_detail", args=[upload.pk])).content.decode()
    assert "the check stopped part way through each time it was tried" in page
    assert upload_checks.requeue_stalled_validations(now=timezone.now() + timedelta(hours=1)) == 0


# Orphaned tasks ----------------------------------------------------------------------------------


def _running_task(taken_by: str, *, minutes_ago: float = 0) -> DBTaskResult:
    result = collect_at_deadline.enqueue(1, "provisional")
    started = timezone.now() - timedelta(minutes=minutes_ago)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=[taken_by], started_at=started
    )
    return DBTaskResult.objects.get(pk=result.id)


def _beat(
    worker_id: str, *, pid: int, seconds_ago: float = 0, hostname: str | None = None, space: str | None = None
) -> None:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname=hostname or socket.gethostname(),
        pid=pid,
        process_space=worker.process_space() if space is None else space,
        started_at=seen,
        last_seen=seen,
    )


def test_tasks_of_dead_workers_are_queued_again_and_those_of_living_ones_are_not(db):
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    _beat("killed-here", pid=int(dead_pid.stdout))  # beat a moment ago, but its process is gone
    _beat("silent-elsewhere", pid=1, seconds_ago=120, hostname="another-machine")
    _beat("busy-elsewhere", pid=1, hostname="another-machine")
    _beat("busy-here", pid=os.getppid())
    # Another container with the same host name: its pids are not this one's, dead here or not.
    _beat("busy-next-door", pid=int(dead_pid.stdout), space="another-boot:4026531836")
    killed = _running_task("killed-here")
    silent = _running_task("silent-elsewhere")
    busy = [
        _running_task("busy-elsewhere"),
        _running_task("busy-here"),
        _running_task("busy-next-door"),
        _running_task("me"),
    ]
    assert worker.requeue_orphaned_tasks(worker_id="me") == 2
    for task in (killed, silent):
        task.refresh_from_db()
        assert task.status == TaskResultStatus.READY and task.started_at is None
    assert {t.status for t in DBTaskResult.objects.filter(pk__in=[t.pk for t in busy])} == {
        TaskResultStatus.RUNNING
    }
    # The dead worker here no longer counts in /healthz; the one elsewhere goes stale on its own.
    assert set(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == {
        "silent-elsewhere",
        "busy-elsewhere",
        "busy-here",
        "busy-next-door",
    }
    assert worker.process_space()  # on Linux, as CI is: the pid check above was really made
    # A worker that lost the database runs nothing now: what it had taken is queued again.
    assert worker.requeue_orphaned_tasks(worker_id="me", idle=True) == 1


def test_a_task_that_kills_its_worker_every_time_is_failed_after_three_tries(db):
    task = _running_task("third-victim", minutes_ago=2)  # no heartbeat, and long past its grace
    DBTaskResult.objects.filter(pk=task.pk).update(worker_ids=["first", "second", "third-victim"])
    assert worker.requeue_orphaned_tasks(worker_id="me") == 0
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED and "stopped before it finished, 3 times" in task.traceback


def test_a_task_failed_by_the_database_is_retried_until_its_third_try(db):
    result = collect_at_deadline.enqueue(1, "provisional")
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.FAILED,
        worker_ids=["a"],
        finished_at=timezone.now(),
        exception_class_path="django.db.utils.OperationalError",
    )
    assert worker.requeue_orphaned_tasks(worker_id="me") == 1
    task = DBTaskResult.objects.get(pk=result.id)
    assert task.status == TaskResultStatus.READY and task.run_after > timezone.now()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.FAILED, worker_ids=["a", "b", "c"], finished_at=timezone.now()
    )
    assert worker.requeue_orphaned_tasks(worker_id="me") == 0
    DBTaskResult.objects.filter(pk=result.id).update(
        worker_ids=["a"], exception_class_path="builtins.ValueError"
    )
    assert worker.requeue_orphaned_tasks(worker_id="me") == 0  # a real failure is not retried


# Real processes: a worker killed mid-task ---------------------------------------------------------

# A worker that stops at a known point inside a task's transaction, once: it writes the marker file
# and waits there until the release file appears (or it is killed). Only the tests run it.
STOPPING_WORKER = r"""
import pathlib, sys, time, types
import django

django.setup()
from keystage.audit import log as audit
from keystage.audit.models import AuditAction
from keystage.results import services, upload_checks

marker, release, where = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]


def stop_here():
    if marker.exists():
        return  # once: a second run goes through
    marker.write_text("stopped")
    while not release.exists():
        time.sleep(0.05)


store_results = upload_checks._store_results


def stopping_store_results(*args, **kwargs):
    store_results(*args, **kwargs)  # pupils and results written, not yet committed
    if where == "check":
        stop_here()


def record(action, *args, **kwargs):
    audit.record(action, *args, **kwargs)
    if where == "deadline" and action == AuditAction.DEADLINE_COLLECTED:
        stop_here()  # every school frozen, not yet committed


upload_checks._store_results = stopping_store_results
services.log = types.SimpleNamespace(record=record)
from django.core.management import call_command

call_command("worker", "--interval", "0.1", "--no-startup-delay")
"""


def _database_url() -> str:
    """The test database, as a URL another process can open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {
        **os.environ,
        "SECRET_KEY": settings.SECRET_KEY,  # so the server reads the sessions this process makes
        "KEYSTAGE_TWO_FACTOR": "off",  # a session made by force_login, with no code asked
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "keystage.settings",
        "KEYSTAGE_VAR_DIR": str(tmp_path / "var"),
        "KEYSTAGE_STORAGE_ROOT": str(tmp_path / "storage"),
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


class _Process:
    """A process of ours, its output in a file, always stopped at the end."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> int:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


@contextlib.contextmanager
def _running(command: list[str], env: dict[str, str], log: Path) -> Iterator[_Process]:
    process = _Process(command, env, log)
    try:
        yield process
    finally:
        process.kill()


def _wait_for(
    what: str, done: Callable[[], Any], *, timeout: float = 60, watch: _Process | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = done()
        if found:
            return found
        if watch is not None and not watch.alive():
            pytest.fail(
                f"{what}: the process stopped (exit {watch.popen.returncode}):\n{watch.output()[-4000:]}"
            )
        if time.monotonic() > deadline:
            extra = f"\n{watch.output()[-4000:]}" if watch is not None else ""
            pytest.fail(f"{what}: not within {timeout:.0f} s{extra}")
        time.sleep(0.05)


def _stopping_worker(tmp_path: Path, env: dict[str, str], where: str) -> tuple[list[str], Path, Path]:
    marker, release = tmp_path / "stopped", tmp_path / "release"
    command = [sys.executable, "-c", STOPPING_WORKER, str(marker), str(release), where]
    return command, marker, release


def _batch_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystage.cli", "worker", "--batch", "--interval", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_check_leaves_a_true_state_and_the_next_worker_finishes_it(world, tmp_path):
    collection = open_collection()
    template = _template(world, collection, pupils=25)
    user = world.person("manage_data")
    data = filled(template, "phonics", {(n, MARK): 15 + n for n in range(1, 26)})
    upload = uploading.upload_results(collection, world.s1, as_file(data), filename="r.xlsx", actor=user)
    env = _env(tmp_path, _database_url())
    command, marker, _release = _stopping_worker(tmp_path, env, "check")
    with _running(command, env, tmp_path / "killed-worker.log") as killed:
        _wait_for("the worker reaches the middle of the check", marker.exists, watch=killed)
        killed.kill()  # SIGKILL: no handler runs, the transaction is never committed

    # Meanwhile the person sees the truth: the file is still being checked, and nothing of it is used.
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PROCESSING
    assert not Result.objects.exists() and not SubmittedPupil.objects.exists()
    client = signed_in(user)
    assert (
        "Checking your file"
        in client.get(reverse("results:upload_detail", args=[upload.pk])).content.decode()
    )
    assert client.get(reverse("results:upload_status", args=[upload.pk])).json()["done"] is False
    task = DBTaskResult.objects.get()
    assert task.status == TaskResultStatus.RUNNING  # the queue still thinks it runs

    # The next worker to start knows the first is dead (same machine, its process gone) and runs it.
    done = _batch_worker(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Queued 1 unfinished task(s)" in done.stdout
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCESSFUL and upload.pupil_count == 25
    # One set of results: the killed run's rows were never committed.
    assert SubmittedPupil.objects.filter(upload=upload).count() == 25
    assert Result.objects.filter(upload=upload).count() == 25
    task.refresh_from_db()
    assert task.status == TaskResultStatus.SUCCESSFUL and len(task.worker_ids) == 2
    assert not WorkerHeartbeat.objects.exists()  # neither the dead worker nor the finished one counts
    page = client.get(reverse("results:upload_detail", args=[upload.pk])).content.decode()
    assert "Your file passed the checks: 25 pupils" in page


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_deadline_collection_is_collected_once_by_the_next(world, tmp_path):
    collection = open_collection()
    template = _template(world, collection)
    user = world.person("manage_data")
    data = filled(template, "phonics", {(1, MARK): 30})
    upload = uploading.upload_results(collection, world.s1, as_file(data), filename="r.xlsx", actor=user)
    services.confirm_upload(upload_checks.validate_stored_upload(upload.pk), actor=user, agreed=True)
    collection.provisional_deadline = timezone.now()  # passed, with the upload confirmed before it
    collection.save(update_fields=["provisional_deadline"])
    DBTaskResult.objects.all().delete()  # the validation task, run above by hand
    collect_at_deadline.enqueue(collection.pk, "provisional")
    env = _env(tmp_path, _database_url())
    command, marker, _release = _stopping_worker(tmp_path, env, "deadline")
    with _running(command, env, tmp_path / "killed-worker.log") as killed:
        _wait_for("the worker reaches the end of the collection", marker.exists, watch=killed)
        killed.kill()
    assert not DeadlineRun.objects.exists() and not FrozenSubmission.objects.exists()

    done = _batch_worker(env)
    assert done.returncode == 0, done.stdout + done.stderr
    run = DeadlineRun.objects.get()
    assert run.deadline == "provisional" and run.schools == 1
    assert list(FrozenSubmission.objects.values_list("upload", flat=True)) == [upload.pk]
    assert AuditEvent.objects.filter(action=AuditAction.DEADLINE_COLLECTED).count() == 1


# Real processes: a request cancelled mid-upload ---------------------------------------------------

BOUNDARY = "keystage-fault-boundary"


def _multipart(fields: dict[str, str], filename: str, data: bytes, *, field: str = "file") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(
    port: int, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST" if body is not None else "GET", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _send_part_then_hang_up(
    port: int,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    sent: int,
    before_hanging_up: Callable[[], None],
) -> None:
    """Announce the whole body, send its first ``sent`` bytes, and close the connection."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(head.encode() + body[:sent])
        before_hanging_up()


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory) -> Path:
    """A folder for the servers' KEYSTAGE_VAR_DIR with the static files collected, once for the module."""
    var = tmp_path_factory.mktemp("var")
    done = subprocess.run(
        [sys.executable, "-m", "keystage.cli", "collectstatic", "--noinput", "--verbosity", "0"],
        env={**os.environ, "KEYSTAGE_VAR_DIR": str(var), "SECRET_KEY": "collecting-static-files-only"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return var


def _serve(
    tmp_path: Path, env: dict[str, str], var: Path
) -> tuple[contextlib.AbstractContextManager[_Process], int]:
    port = _free_port()
    command = [sys.executable, "-m", "keystage.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    env = {**env, "KEYSTAGE_VAR_DIR": str(var)}
    return _running([*command, "--no-collectstatic"], env, tmp_path / "server.log"), port


def _answers(port: int, path: str = "/healthz") -> bool:
    with contextlib.suppress(OSError):
        return _request(port, path)[0] in (200, 503)
    return False


@pytest.mark.django_db(transaction=True)
def test_uploads_cancelled_mid_request_leave_nothing_and_the_server_carries_on(
    world, tmp_path, collected_static
):
    collection = open_collection()
    template = _template(world, collection)
    user = world.person("manage_data")
    web = Client()
    web.force_login(user)
    session = web.cookies["sessionid"].value
    token = token_text(user)
    temporary = tmp_path / "tmp"  # the server's temporary folder, where a large upload streams to
    temporary.mkdir()
    env = _env(tmp_path, _database_url(), TMPDIR=str(temporary))
    big = os.urandom(4 * 1024 * 1024)  # past the 2.5 MB kept in memory: it goes to a temporary file
    csrf = "k" * 32
    server_cm, port = _serve(tmp_path, env, collected_static)
    with server_cm as server:
        _wait_for("the server answers", lambda: _answers(port), watch=server)

        def streaming_to_a_temporary_file() -> None:
            _wait_for(
                "the upload streams into a temporary file", lambda: _files_under(temporary), watch=server
            )

        # The web page: signed in, with its CSRF token, the browser closed half way through the file.
        body = _multipart({"csrfmiddlewaretoken": csrf}, "results.xlsx", big)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Cookie": f"sessionid={session}; csrftoken={csrf}",
        }
        page = f"/results/{collection.pk}/schools/{world.s1.pk}/upload/"
        _send_part_then_hang_up(
            port, page, headers, body, sent=3 << 20, before_hanging_up=streaming_to_a_temporary_file
        )
        # The API: a script killed half way through.
        fields = {"collection": "phonics", "year": str(YEAR), "school": world.s1.dfe_number}
        body = _multipart(fields, "results.xlsx", big)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": f"Bearer {token}",
        }
        _send_part_then_hang_up(
            port,
            "/api/v1/uploads",
            headers,
            body,
            sent=3 << 20,
            before_hanging_up=streaming_to_a_temporary_file,
        )

        # The server answers threads side by side, so a cancelled request may still be tidying up
        # while another is answered: wait (within a bound) for its temporary file to go.
        assert _request(port, "/healthz")[0] == 200
        _wait_for(
            "the cancelled uploads' temporary files are removed",
            lambda: not _files_under(temporary),
            timeout=30,
            watch=server,
        )
        assert not Upload.objects.exists()
        assert _files_under(tmp_path / "storage") == []

        # And the server carries on: a whole upload goes through.
        body = _multipart(fields, "results.xlsx", filled(template, "phonics", {(1, MARK): 30}))
        status, _headers, answer = _request(
            port, "/api/v1/uploads", body=body, headers={**headers, "Content-Length": str(len(body))}
        )
        assert status == 202, answer[:500]
        assert Upload.objects.get().pk == json.loads(answer)["id"]
        assert server.alive()
    log = server.output()
    assert "Traceback" not in log and '" 500 ' not in log, log[-4000:]


# Real processes: PostgreSQL restarted under the web server and a worker --------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")

# Run against the new database: its tables, a school, a person who submits its data, a collection
# open for uploads, a filled template; prints what the test needs to act as the person.
SET_UP = r"""
import json, sys
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from django.test import Client
from keystage.core.roles import Role
from keystage.results import downloads
from tests.api.conftest import token_text
from tests.factories import LocalAuthorityFactory, SchoolFactory, member
from tests.results.conftest import filled, open_collection, roster

school = SchoolFactory(la=LocalAuthorityFactory(code="800"), dfe_number="8004001")
user = member(Role.MANAGE_DATA.value, school, email="data@school.example")
collection = open_collection()
roster(school)
template = downloads.download_template(collection, school, actor=user)
with open(sys.argv[1], "wb") as out:
    out.write(filled(template, "phonics", {(1, "Phonics screening check mark"): 33}))
client = Client()
client.force_login(user)
person = {"session": client.cookies["sessionid"].value, "token": token_text(user), "dfe": school.dfe_number}
print(json.dumps(person))
"""


class _Postgres:
    """A throwaway PostgreSQL 15 server, as CI's (.ci/run) and bench/reports_load.py's: as root it runs
    as the postgres user, which PostgreSQL insists on."""

    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="keystage-faults-pg-"))
        self.port = _free_port()
        self.url = f"postgres://keystage@127.0.0.1:{self.port}/keystage"
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                useradd = shutil.which("useradd") or "/usr/sbin/useradd"
                subprocess.run([useradd, "--system", "--no-create-home", self.user], check=True)
            shutil.chown(self.data, self.user)

    def _run(self, *command: str) -> None:
        argv = (
            list(command)
            if self.user is None
            else ["su", self.user, "-s", "/bin/sh", "-c", shlex.join(command)]
        )
        done = subprocess.run(argv, cwd=self.data, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{command[0]}: {done.stdout}{done.stderr}"

    def create(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "keystage",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        self.start()
        self._run(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "keystage", "keystage"
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
        log = str(self.data / "server.log")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(AssertionError):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.data, ignore_errors=True)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=10) as database:
            return database.execute(sql, params).fetchall()


@pytest.fixture
def postgres() -> Iterator[_Postgres]:
    server = _Postgres()
    try:
        server.create()
        yield server
    finally:
        server.remove()


def test_a_postgresql_restart_gets_503s_while_it_is_down_then_everything_carries_on(
    postgres, tmp_path, collected_static
):
    env = _env(tmp_path, postgres.url)
    results_file = tmp_path / "results.xlsx"
    made = subprocess.run(
        [sys.executable, "-c", SET_UP, str(results_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    person = json.loads(made.stdout.strip().splitlines()[-1])
    page_headers = {"Cookie": f"sessionid={person['session']}"}
    api_headers = {"Authorization": f"Bearer {person['token']}"}
    fields = {"collection": "phonics", "year": str(YEAR), "school": person["dfe"]}
    body = _multipart(fields, "results.xlsx", results_file.read_bytes())
    upload_headers = {**api_headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    command, stopped, release = _stopping_worker(tmp_path, env, "check")
    server_cm, port = _serve(tmp_path, env, collected_static)
    with server_cm as server, _running(command, env, tmp_path / "worker.log") as worker_process:
        _wait_for("the server answers", lambda: _answers(port), watch=server)
        assert _request(port, "/", headers=page_headers)[0] == 200  # a kept connection, used
        status, _h, answer = _request(port, "/api/v1/uploads", body=body, headers=upload_headers)
        assert status == 202, answer[:500]
        upload_id = json.loads(answer)["id"]
        # The worker is in the middle of checking it, inside its transaction, when the database goes.
        _wait_for("the worker reaches the middle of the check", stopped.exists, watch=worker_process)
        postgres.stop()

        status, headers, page = _request(port, "/", headers=page_headers)
        assert status == 503 and headers["Retry-After"] == "30"
        assert b"Sorry, the service is unavailable" in page and b"Traceback" not in page
        status, _h, answer = _request(port, "/api/v1/collections", headers=api_headers)
        assert status == 503 and json.loads(answer)["error"]["code"] == "service_unavailable"
        assert _request(port, "/healthz")[0] == 503
        stored_before = _files_under(tmp_path / "storage")
        status, _h, answer = _request(port, "/api/v1/uploads", body=body, headers=upload_headers)
        assert status == 503 and json.loads(answer)["error"]["code"] == "service_unavailable"
        assert _files_under(tmp_path / "storage") == stored_before  # the refused upload left no file

        release.write_text("go on")  # the check finishes into a database that is not there
        _wait_for(
            "the worker notices",
            lambda: "Lost the database" in worker_process.output(),
            watch=worker_process,
        )
        postgres.start()

        # The first request after the restart is served: the dead connection is not reused.
        assert _request(port, "/", headers=page_headers)[0] == 200
        assert _request(port, "/api/v1/collections", headers=api_headers)[0] == 200

        def checked() -> bool:
            return (
                postgres.query("SELECT status FROM results_upload WHERE id = %s", upload_id)[0][0]
                != "processing"
            )

        _wait_for("the worker checks the upload again", checked, timeout=90, watch=worker_process)
        assert worker_process.alive()  # it waited for the database rather than exiting
        assert postgres.query("SELECT status, pupil_count FROM results_upload WHERE id = %s", upload_id) == [
            ("successful", 3)
        ]
        assert postgres.query("SELECT count(*) FROM results_result WHERE upload_id = %s", upload_id) == [(1,)]
        tasks = postgres.query("SELECT status FROM django_tasks_database_dbtaskresult")
        assert tasks == [("SUCCESSFUL",)]  # the task was not lost
        assert _request(port, "/healthz")[0] == 200
    log = server.output()
    assert '" 500 ' not in log, log[-4000:]
