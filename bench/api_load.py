"""The API's file checks under load: several scripts send large files to POST /api/v1/validate at
once while /healthz is timed, against gunicorn and a background worker on a SQLite database of the
bench's own (the demo's organisations, rosters and open collections). The baseline is /healthz timed
in the same run with nothing else sent.

    keystage bench api_load [--senders 6] [--size-mb 10] [--duration 20] [--workers 2]

Each sender has its own person and token (the limits are per person), and sends a phonics CSV of
about --size-mb, over and over, waiting as Retry-After says when refused. Goal: /healthz's 99th
percentile under load within 2x of the unloaded one. Exit 1 if a check is answered with a 5xx, 2 if
the goal is missed. Everything it starts is stopped, and its folder deleted, at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

SETUP = """
import csv, io, json, sys
import django
django.setup()
from python_calamine import CalamineWorkbook
from keystage.accounts.models import Membership, User
from keystage.api.services import create_token
from keystage.core.roles import Role
from keystage.organisations.models import School
from keystage.results import downloads
from keystage.results.models import Collection
from keystage.web.demo import current_academic_year, load_demo, load_demo_collections, load_demo_rosters

senders, size = int(sys.argv[1]), int(float(sys.argv[2]) * 1024 * 1024)
load_demo()
year = current_academic_year()
load_demo_rosters(year)
load_demo_collections(year)
school = School.objects.get(dfe_number="9903001")
collection = Collection.objects.get(kind="phonics", year=year)
template = downloads.download_template(collection, school, actor=None)
sheet = CalamineWorkbook.from_filelike(io.BytesIO(template)).get_sheet_by_name("Results").to_python()
heading = next(i for i, row in enumerate(sheet) if "UPN" in [str(c) for c in row])
out = io.StringIO()
writer = csv.writer(out)
writer.writerows(sheet[: heading + 1])
pupils = [row for row in sheet[heading + 1 :] if any(str(c) for c in row)]
while out.tell() < size:
    for row in pupils:
        writer.writerow([*row[:-1], "35"])
tokens = []
for n in range(senders):
    email = f"script{n}@st-marys.example"
    user = User.objects.create_user(email=email, password=None, full_name=f"Script {n}")
    Membership.objects.create(user=user, organisation=school, role=Role.MANAGE_DATA.value)
    tokens.append(create_token(user=user, name="bench", expires_in_days=1)[1])
print(json.dumps({"year": year, "dfe": school.dfe_number, "tokens": tokens, "csv": out.getvalue()}))
"""


# /healthz is timed from a process of its own, as a person's browser would be: not sharing a Python
# interpreter (and its lock) with the threads sending the files.
TIMER = """
import http.client, json, sys, time
port, count, every, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + seconds if seconds else None
found = []
while (deadline is None and len(found) < count) or (deadline is not None and time.monotonic() < deadline):
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status == 200:
        found.append((time.perf_counter() - start) * 1000)
    time.sleep(every)
print(json.dumps(found))
"""


def _timed_healthz(port: int, *, count: int = 0, every: float = 0.0, seconds: float = 0.0) -> list[float]:
    """/healthz answer times in ms: `count` of them, or as many as `seconds` allows."""
    timed = subprocess.run(
        [sys.executable, "-c", TIMER, str(port), str(count), str(every), str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    return [float(ms) for ms in json.loads(timed.stdout)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _get(port: int, path: str) -> tuple[int, float]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - start) * 1000
    finally:
        connection.close()


def _multipart(fields: dict[str, str], data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="results.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
    )
    body.write(data + f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


@contextlib.contextmanager
def _started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _get(port, "/healthz")[0] == 200:
                return
        time.sleep(0.3)
    raise SystemExit("The server did not answer /healthz.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=6)
    parser.add_argument("--size-mb", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn web workers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keystage-api-load-") as folder:
        base = Path(folder)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{base / 'db.sqlite3'}",
            "KEYSTAGE_VAR_DIR": str(base / "var"),
            "KEYSTAGE_STORAGE_ROOT": str(base / "storage"),
            "DJANGO_SETTINGS_MODULE": "keystage.settings",
            "SECRET_KEY": "bench-api-load-" + uuid.uuid4().hex,
            "KEYSTAGE_TWO_FACTOR": "off",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("KEYSTAGE_SQLITE_TIMEOUT", None)
        keystage = [sys.executable, "-m", "keystage.cli"]
        subprocess.run([*keystage, "migrate", "--no-input", "-v0"], env=env, cwd=ROOT, check=True)
        made = subprocess.run(
            [sys.executable, "-c", SETUP, str(args.senders), str(args.size_mb)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        setup = json.loads(made.stdout.strip().splitlines()[-1])
        data = setup["csv"].encode()
        fields = {"collection": "phonics", "year": str(setup["year"]), "school": setup["dfe"]}
        port = _free_port()
        serve = [*keystage, "serve", "--bind", f"{HOST}:{port}", "--workers", str(args.workers)]
        with (
            _started([*serve, "--no-collectstatic"], env, base / "serve.log"),
            _started([*keystage, "worker", "--no-startup-delay"], env, base / "worker.log"),
        ):
            _wait_for(port)
            for _ in range(20):
                _get(port, "/healthz")  # warm the workers
            unloaded = _timed_healthz(port, count=300)

            stop, answers, lock = threading.Event(), Counter[int](), threading.Lock()

            def send(token: str) -> None:
                body, content_type = _multipart(fields, data)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
                while not stop.is_set():
                    connection = http.client.HTTPConnection(HOST, port, timeout=120)
                    try:
                        connection.request("POST", "/api/v1/validate", body=body, headers=headers)
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                        retry_after = float(response.getheader("Retry-After") or 1)
                    except OSError:
                        status, retry_after = 0, 1.0
                    finally:
                        connection.close()
                    with lock:
                        answers[status] += 1
                    if status == 429:
                        stop.wait(retry_after)  # as a well-behaved script does

            senders = [threading.Thread(target=send, args=(t,), daemon=True) for t in setup["tokens"]]
            for thread in senders:
                thread.start()
            time.sleep(1)  # the files are on their way
            busy = _timed_healthz(port, every=0.02, seconds=args.duration)
            stop.set()
            for thread in senders:
                thread.join(timeout=130)

    base_p99, busy_p99 = _percentile(unloaded, 0.99), _percentile(busy, 0.99)
    ratio = busy_p99 / base_p99
    print(
        f"{args.senders} senders, each a {len(data) / 1024 / 1024:.1f} MB CSV, for {args.duration:g} s; "
        f"{args.workers} web workers and one background worker"
    )
    print(f"validate answers by status: {dict(sorted(answers.items()))}")
    for label, times, p99 in (("unloaded    ", unloaded, base_p99), ("under checks", busy, busy_p99)):
        p50 = _percentile(times, 0.5)
        print(f"/healthz p99 {label} : {p99:8.1f} ms  (p50 {p50:.1f} ms, {len(times)} requests)")
    print(f"ratio loaded / unloaded   : {ratio:8.2f}x  (goal: within 2x)")
    if any(status >= 500 or status == 0 for status in answers):
        sys.exit(1)
    if ratio > 2:
        sys.exit(2)


if __name__ == "__main__":
    main()
