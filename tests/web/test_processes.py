"""The real processes: the `keystage` command, the worker and the web server, run as a person would."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from keystage.accounts.models import Invitation
from keystage.accounts.services import invite_user

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    """The test database, as a URL another process can open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "keystage.settings"}
    env.update(extra)
    return env


def _keystage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keystage.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", ["demo", "serve", "worker", "migrate"])
def test_every_subcommand_explains_itself(tmp_path, command):
    result = _keystage(command, "--help", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "usage: keystage " + command in result.stdout


def test_keystage_with_no_arguments_lists_the_subcommands(tmp_path):
    result = _keystage(env=_env(tmp_path))
    assert result.returncode == 0
    for name in ("demo", "serve", "worker"):
        assert name in result.stdout


def test_a_separate_worker_process_sends_the_queued_invitation_email(world, tmp_path):
    invite_user(
        actor=world.person("school_admin"),
        organisation=world.s1,
        email="far@example.org",
        full_name="Far Away",
        roles=["governor"],
    )
    outbox = tmp_path / "mail"
    env = _env(
        tmp_path,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    result = _keystage("worker", "--batch", "--interval", "0", env=env)
    assert result.returncode == 0, result.stderr
    sent = "".join(p.read_text() for p in outbox.iterdir())
    assert "To: far@example.org" in sent and "/invitations/" in sent
    assert Invitation.objects.get().emailed_at is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_keystage_serve_answers_pages_health_and_static_files(db, tmp_path):
    port = _free_port()
    env = _env(tmp_path, KEYSTAGE_VAR_DIR=str(tmp_path / "var"))  # its collected static files stay here
    server = subprocess.Popen(
        [sys.executable, "-m", "keystage.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90  # collectstatic and gunicorn start: slow on a loaded machine
        while True:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert health.status == 200
        # Someone's large upload is still arriving on one connection: with one worker process, the
        # next person's page is still answered (threads), not queued behind it.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow_upload:
            slow_upload.sendall(
                b"POST /api/v1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                b"boundary=x\r\nContent-Length: 10000000\r\n\r\n--x\r\n"
            )
            time.sleep(0.5)
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "Sign in" in page
        css = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/dist/keystage.css", timeout=5)
        assert css.status == 200 and b"govuk-header" in css.read()
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_a_worker_reports_its_heartbeat_while_it_runs_and_removes_it_when_it_stops(db):
    from django.core.management import call_command

    from keystage.web.models import WorkerHeartbeat
    from tests.web.tasks import count_live_workers

    result = count_live_workers.enqueue()
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    result.refresh()
    assert result.return_value == 1  # seen from inside: this worker's own heartbeat row
    assert WorkerHeartbeat.objects.count() == 0


def test_the_demo_serves_with_a_live_worker_and_takes_both_down_on_sigterm(tmp_path):
    """The README's first command, end to end, on its own embedded database."""
    import json
    import signal

    port = _free_port()
    env = {
        **os.environ,
        "KEYSTAGE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "keystage.settings",
    }
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "keystage.cli", "demo", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Not a speed check: the demo works out its figures and fits its estimates before it serves,
        # which on a busy two-core machine can take minutes.
        deadline = time.monotonic() + 300
        health: dict = {}
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                health = json.loads(body)
                if health["worker"]["ok"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health.get("status") == "ok", health
        # Its worker runs at a lower CPU priority than the web server, so checks never slow the pages.
        priorities = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                command = (stat.parent / "cmdline").read_bytes().split(b"\0")
                if int(fields[1]) == demo.pid and b"keystage.cli" in command:
                    priorities[command[command.index(b"keystage.cli") + 1].decode()] = int(fields[16])
        assert priorities["worker"] >= 10 and priorities["worker"] > priorities.get("serve", 0), priorities
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0
    assert "keystage-demo-2026" in output and "head@oakfield-academy.example" in output
    assert "Stopped." in output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "keystage.sqlite3") as database:
        # The worker stopped cleanly too: it removes its own heartbeat on the way out.
        assert database.execute("SELECT COUNT(*) FROM web_workerheartbeat").fetchone() == (0,)
