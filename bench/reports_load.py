"""Report pages under load: the KS4 dashboard of the demo's Oakfield Academy, signed in as its head
teacher, with 20 users at once (wrk, 20 connections, no think time) against gunicorn on 127.0.0.1 and
the demo on a PostgreSQL 15 server of its own, compared in the same run and under the same load with
/healthz (one query, no template) and the glossary (a signed-in template page with no report queries).
Explore (A8 by pupil group) and a primary school's KS2 dashboard (as the trust's named user) are
measured too.

    keystage bench reports_load [--background mid|national|small] [--users 20] [--duration 30]
                                [--warmup 5] [--workers N] [--database-url URL]
                                [--two-factor required|off] [--cold 12]

People sign in as a browser does, with a code from their authenticator when two-factor is required
(the installation default; the bench gives each person an authenticator and works out its code).
The dashboard is measured twice: from the per-process cache under load, and worked out cold, the
first view after a refresh: one request at a time, each after a new complete run is recorded (a
refresh's new run changes every dashboard's cache key), with the cached median as its ratio.

Goal: the dashboard's 95th percentile under 300 ms with the national background (--background
national; the demo's default is mid). Exit 1 if any response is not 2xx or a socket fails, 2 if the
goal is missed. Everything it starts (PostgreSQL in a temporary folder, unless --database-url names a
server, the demo load, gunicorn) is stopped and deleted at the end; wrk is installed with apt-get when
missing and running as root.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from keystage.web.demo import DEMO_PASSWORD

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HEAD = "head@oakfield-academy.example"  # school (named) role at Oakfield Academy, a secondary
TRUST_NAMED = "trust-named@oakfield-trust.example"  # reaches Oakfield Primary Academy
SECONDARY_DFE, PRIMARY_DFE = "9904001", "9902001"
HOST = "127.0.0.1"

# Prints one parseable line at the end of a run: latency percentiles in ms, and every response that is
# not 2xx counted by the threads (wrk itself counts only 4xx and 5xx).
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s1xx, s3xx, s4xx, s5xx = 0, 0, 0, 0 end
function response(status, headers, body)
  if status < 200 then s1xx = s1xx + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  elseif status >= 300 then s3xx = s3xx + 1 end
end
function done(summary, latency, requests)
  local c = {s1xx = 0, s3xx = 0, s4xx = 0, s5xx = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(c) do c[name] = c[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format(
    "KEYSTAGE-WRK requests=%d duration_us=%d p50=%.3f p90=%.3f p95=%.3f p99=%.3f max=%.3f "
      .. "s1xx=%d s3xx=%d s4xx=%d s5xx=%d connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    c.s1xx, c.s3xx, c.s4xx, c.s5xx, e.connect, e.read, e.write, e.timeout))
end
"""

# Run in the demo's environment: where the pages are (printed as JSON).
FIND_PAGES = """
import json, sys, django
django.setup()
from keystage.organisations.models import School
from keystage.measures import services as measures
from keystage.reports.figures import years_with_figures
found = {}
for key, dfe, stage in (("secondary", sys.argv[1], "ks4"), ("primary", sys.argv[2], "ks2")):
    school = School.objects.filter(dfe_number=dfe).first()
    years = years_with_figures(stage)
    if school is None or not years:
        continue
    run = measures.latest_run(stage, years[0])
    found[key] = {
        "org_id": school.pk, "name": school.name, "stage": stage, "year": years[0],
        "national_pupils": run.national_pupils, "national_schools": run.national_schools,
        "background": run.background,
    }
print(json.dumps(found))
"""


# Run in the demo's environment: give each person named an authenticator (a confirmed TOTP device)
# and print its key, so the bench can work out the code a phone would show.
AUTHENTICATORS = """
import json, sys, django
django.setup()
from django_otp.plugins.otp_totp.models import TOTPDevice
from keystage.accounts.models import User
keys = {}
for email in sys.argv[1:]:
    user = User.objects.get(email=email)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    keys[email] = device.key
print(json.dumps(keys))
"""

# Run in the demo's environment: the dashboard worked out cold, N times. Each time a complete KS4 run
# of a year long gone is recorded first (as a refresh records its run: a dashboard's cache key names
# its key stage's newest complete run), so every cached KS4 dashboard is out of date; then one
# request. Then, once every worker has it cached, N requests from the cache, one at a time as well.
# The runs are deleted at the end. Prints the times in ms as JSON.
COLD_VIEWS = """
import http.client, json, sys, time, django
django.setup()
from django.utils import timezone
from keystage.measures.models import MeasureRun, RunStatus
port, path, cookie, count, workers = (int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]),
    int(sys.argv[5]))

def view():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return (time.perf_counter() - started) * 1000, answer.status

made, cold, warm, statuses = [], [], [], []
try:
    for _ in range(count):
        made.append(MeasureRun.objects.create(
            key_stage="ks4", year=1901, status=RunStatus.COMPLETE, source="bench",
            computed_at=timezone.now(),
        ).pk)
        took, status = view()
        cold.append(took)
        statuses.append(status)
    for _ in range(4 * workers):  # every worker has it cached now (requests are shared among them)
        statuses.append(view()[1])
    for _ in range(count):
        took, status = view()
        warm.append(took)
        statuses.append(status)
finally:
    MeasureRun.objects.filter(pk__in=made).delete()
print(json.dumps({"cold": cold, "warm": warm, "statuses": statuses}))
"""


@dataclass
class Result:
    page: str
    path: str
    requests: int
    seconds: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    non2xx: int
    socket_errors: int
    by_class: str  # e.g. "3xx 0, 4xx 0, 5xx 12"

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def quiet(command: list[str], *, check: bool = True, cwd: Path | None = None) -> int:
    """Run a command, its output unshown unless it fails."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise subprocess.CalledProcessError(done.returncode, command)
    return done.returncode


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        sys.exit(
            "wrk is not installed: install it (Debian/Ubuntu: sudo apt-get install -y wrk), then run again."
        )
    print("Installing wrk with apt-get…", flush=True)
    if quiet([apt, "install", "-y", "-qq", "wrk"], check=False) != 0:
        quiet([apt, "update", "-qq"])
        quiet([apt, "install", "-y", "-qq", "wrk"])
    found = shutil.which("wrk")
    if not found:
        sys.exit("apt-get did not install wrk.")
    return found


# PostgreSQL ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """A throwaway PostgreSQL 15 server (fsync off) with a database "keystage"; yields its URL. As CI
    does (.ci/run): PostgreSQL refuses to run as root, so as root it runs as the postgres user."""
    if not (PG_BIN / "initdb").is_file():
        sys.exit(f"No PostgreSQL 15 at {PG_BIN}: apt-get install postgresql-15, or give --database-url.")
    data = folder / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                [shutil.which("useradd") or "useradd", "--system", "--no-create-home", user], check=True
            )
        shutil.chown(data, user)
        su = shutil.which("su") or "su"

        def as_pg(*command: str) -> list[str]:
            return [su, user, "-s", "/bin/sh", "-c", shlex.join(command)]
    else:

        def as_pg(*command: str) -> list[str]:
            return list(command)

    port = free_port()
    quiet(
        as_pg(
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "keystage",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        ),
        cwd=data,
    )
    options = f"-h {HOST} -p {port} -k {data} -c fsync=off"
    pg_ctl = str(PG_BIN / "pg_ctl")
    started = False
    try:
        quiet(
            as_pg(pg_ctl, "-D", str(data), "-o", options, "-l", str(data / "server.log"), "-w", "start"),
            cwd=data,
        )
        started = True
        quiet([str(PG_BIN / "createdb"), "-h", HOST, "-p", str(port), "-U", "keystage", "keystage"])
        yield f"postgres://keystage@{HOST}:{port}/keystage"
    finally:
        if started:
            quiet(as_pg(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"), check=False, cwd=data)


# The demo and the server ------------------------------------------------------------------------


def load_demo(env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "keystage.cli", "demo", "--no-serve"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit(f"The demo load failed (exit {done.returncode}).")
    for line in done.stdout.splitlines():
        if "Reports worked out" in line or "synthetic pupils" in line:
            print("  " + line.strip())
    return took


def find_pages(env: dict[str, str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = in_demo(
        env, FIND_PAGES, [SECONDARY_DFE, PRIMARY_DFE], "Could not find the demo schools' report pages."
    )
    if "secondary" not in found:
        sys.exit(
            "The demo has no KS4 figures for Oakfield Academy "
            "(is DfE's KS4 catalogue in the reference folder?)."
        )
    return found


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-m", "keystage.cli", "serve", "--bind", f"{HOST}:{port}"]
    command += ["--workers", str(workers), "--no-collectstatic"]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            env=env,
            cwd=settings.BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if server.poll() is not None:
                    sys.stderr.write(log.read_text(errors="replace")[-4000:])
                    sys.exit(f"gunicorn stopped (exit {server.returncode}).")
                with contextlib.suppress(OSError):
                    if get(port, "/healthz")[0] == 200:
                        break
                if time.monotonic() > deadline:
                    sys.exit("gunicorn did not answer /healthz within 90 s.")
                time.sleep(0.3)
            yield port
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


# HTTP --------------------------------------------------------------------------------------------


def get(port: int, path: str, cookie: str = "") -> tuple[int, str, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response
    finally:
        connection.close()


def _cookies(response: http.client.HTTPResponse) -> SimpleCookie:
    found: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        found.load(header)
    return found


def _post_form(port: int, path: str, cookie: str, fields: dict[str, str]) -> http.client.HTTPResponse:
    """A form's fields posted with its page's CSRF token, as a browser posts it."""
    status, body, response = get(port, path, cookie)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    csrf = _cookies(response).get(settings.CSRF_COOKIE_NAME)
    if status != 200 or token is None:
        sys.exit(f"{path} answered {status} without a form to fill in.")
    jar = [part for part in (cookie, f"{settings.CSRF_COOKIE_NAME}={csrf.value}" if csrf else "") if part]
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            body=urlencode({"csrfmiddlewaretoken": token.group(1), **fields}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(jar)},
        )
        answer = connection.getresponse()
        answer.read()
        return answer
    finally:
        connection.close()


def sign_in(port: int, email: str, authenticator_key: str | None) -> str:
    """Sign in through the sign-in form, as a browser does, then give the authenticator's code if the
    site asks for one; returns the Cookie header to send."""
    answer = _post_form(port, "/sign-in/", "", {"email": email, "password": DEMO_PASSWORD})
    signed = _cookies(answer)
    if answer.status != 302 or settings.SESSION_COOKIE_NAME not in signed:
        sys.exit(f"Signing in as {email} failed (HTTP {answer.status}).")
    cookie = f"{settings.SESSION_COOKIE_NAME}={signed[settings.SESSION_COOKIE_NAME].value}"
    where = answer.headers.get("Location") or ""
    if where.startswith("/sign-in/two-factor/"):
        if authenticator_key is None:
            sys.exit(f"{email} is asked for a two-factor code ({where}) and has no authenticator.")
        from django_otp.oath import totp

        code = f"{totp(bytes.fromhex(authenticator_key)):06d}"
        answer = _post_form(port, "/sign-in/two-factor/", cookie, {"code": code})
        if answer.status != 302:
            sys.exit(f"{email}'s two-factor code was refused (HTTP {answer.status}).")
        verified = _cookies(answer)
        if settings.SESSION_COOKIE_NAME in verified:
            cookie = f"{settings.SESSION_COOKIE_NAME}={verified[settings.SESSION_COOKIE_NAME].value}"
    return cookie


def in_demo(env: dict[str, str], script: str, args: list[str], failure: str) -> Any:
    """Run ``script`` in the demo's environment; what it printed last, read as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        sys.exit(failure)
    return json.loads(done.stdout.strip().splitlines()[-1])


def authenticators(env: dict[str, str], emails: list[str]) -> dict[str, str]:
    keys: dict[str, str] = in_demo(
        env, AUTHENTICATORS, emails, "Could not give the bench's people authenticators."
    )
    return keys


def cold_views(
    env: dict[str, str], port: int, path: str, cookie: str, count: int, workers: int
) -> tuple[list[float], list[float]]:
    """The dashboard's times worked out cold and from the cache, one request at a time, in ms."""
    args = [str(port), path, cookie, str(count), str(workers)]
    found = in_demo(env, COLD_VIEWS, args, "Could not measure the dashboard worked out cold.")
    if any(status != 200 for status in found["statuses"]):
        sys.exit(f"A cold dashboard view answered {found['statuses']}.")
    return [float(ms) for ms in found["cold"]], [float(ms) for ms in found["warm"]]


def check_page(port: int, path: str, cookie: str, must_contain: str) -> None:
    status, body, response = get(port, path, cookie)
    if status != 200 or must_contain not in body:
        to = f" (to {response.headers.get('Location')})" if 300 <= status < 400 else ""
        sys.exit(f"GET {path} answered {status}{to}{'' if status != 200 else f' without {must_contain!r}'}.")


# Load --------------------------------------------------------------------------------------------


def run_wrk(
    wrk: str, script: Path, url: str, cookie: str, users: int, threads: int, seconds: float
) -> dict[str, float]:
    command = [wrk, "-t", str(min(threads, users)), "-c", str(users), "-d", f"{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-s", str(script), "-H", f"Cookie: {cookie}", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("KEYSTAGE-WRK ")), None)
    if done.returncode != 0 or line is None:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"wrk failed on {url} (exit {done.returncode}).")
    return {key: float(value) for key, value in (part.split("=") for part in line.split()[1:])}


def measure(
    wrk: str, script: Path, port: int, page: str, path: str, cookie: str, args: argparse.Namespace
) -> Result:
    url = f"http://{HOST}:{port}{path}"
    if args.warmup > 0:
        run_wrk(wrk, script, url, cookie, args.users, args.threads, args.warmup)
    got = run_wrk(wrk, script, url, cookie, args.users, args.threads, args.duration)
    result = Result(
        page,
        path,
        int(got["requests"]),
        got["duration_us"] / 1e6,
        got["p50"],
        got["p90"],
        got["p95"],
        got["p99"],
        got["max"],
        int(got["s1xx"] + got["s3xx"] + got["s4xx"] + got["s5xx"]),
        int(got["connect"] + got["read"] + got["write"] + got["timeout"]),
        ", ".join(f"{c} {int(got['s' + c])}" for c in ("1xx", "3xx", "4xx", "5xx")),
    )
    print(
        f"  {page:<22} {result.per_second:7.1f} req/s  p95 {result.p95:7.1f} ms"
        + (
            f"  ({result.non2xx} non-2xx: {result.by_class}; {result.socket_errors} socket errors)"
            if result.non2xx or result.socket_errors
            else ""
        ),
        flush=True,
    )
    return result


def report(results: list[Result], goal_ms: float) -> int:
    healthz, glossary = results[0], results[1]
    print()
    print(
        f"{'page':<24}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}{'p95/healthz':>13}{'p95/glossary':>14}"
    )
    for r in results:
        print(
            f"{r.page:<24}{r.per_second:8.1f}{r.p50:9.1f}{r.p90:9.1f}{r.p95:9.1f}{r.p99:9.1f}{r.max:9.1f}"
            f"{r.non2xx + r.socket_errors:8d}{r.p95 / healthz.p95:12.1f}x{r.p95 / glossary.p95:13.1f}x"
        )
    dashboard = results[2]
    print()
    for r in results:
        if r.non2xx or r.socket_errors:
            print(
                f"ERRORS on {r.path}: {r.non2xx} responses not 2xx ({r.by_class}), "
                f"{r.socket_errors} socket errors"
            )
    verdict = "PASS" if dashboard.p95 < goal_ms else "FAIL"
    print(f"{verdict}: KS4 dashboard p95 {dashboard.p95:.1f} ms (goal: under {goal_ms:.0f} ms)")
    if any(r.non2xx or r.socket_errors for r in results):
        return 1
    return 0 if verdict == "PASS" else 2


def server_errors(log: Path) -> None:
    """What the server said about the failures: a few of the failed requests and its last error."""
    lines = log.read_text(errors="replace").splitlines()
    failed = [x for x in lines if re.search(r'" [13-5]\d\d ', x)]
    other = [x for x in lines if not x.startswith(HOST) and "Booting worker" not in x]
    print(f"gunicorn's log: {len(failed)} failed requests, e.g.")
    for line in failed[:3]:
        print("  " + line)
    if other:
        print("and its last other lines:")
        for line in other[-30:]:
            print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--background", choices=("small", "mid", "national"), default="mid")
    parser.add_argument("--users", type=int, default=20, help="concurrent connections (default 20)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--duration", type=float, default=30, help="seconds measured per page (default 30)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before each (default 5)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=2 * cores + 1, help="gunicorn workers (2 x cores + 1)")
    parser.add_argument("--goal-ms", type=float, default=300)
    parser.add_argument("--database-url", help="an existing PostgreSQL database to load the demo into")
    parser.add_argument(
        "--two-factor",
        choices=("required", "off"),
        default="required",
        help="the site's KEYSTAGE_TWO_FACTOR (default required, as installations run)",
    )
    parser.add_argument("--cold", type=int, default=12, help="dashboard views worked out cold (default 12)")
    args = parser.parse_args()
    wrk = find_wrk()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a kill still stops the servers and deletes the folders
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keystage-reports-load-")))
        folder.chmod(0o711)  # PostgreSQL's own user reaches its folder inside
        if args.database_url:
            database = args.database_url
            where = "the given database"
        else:
            database = stack.enter_context(postgres(folder))
            where = f"PostgreSQL 15 at {database.rsplit('@', 1)[1]} (temporary)"
        (folder / "var").mkdir()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "keystage.settings",
            "DATABASE_URL": database,
            "KEYSTAGE_VAR_DIR": str(folder / "var"),
            "KEYSTAGE_DEMO_BACKGROUND": args.background,
            "DEBUG": "0",
            "KEYSTAGE_HTTPS": "0",
            "KEYSTAGE_TWO_FACTOR": args.two_factor,
        }
        print(f"Loading the demo (background: {args.background}) into {where}…", flush=True)
        took = load_demo(env)
        print(f"  demo load: {took:.1f} s")
        pages = find_pages(env)
        secondary = pages["secondary"]
        base = f"/reports/{secondary['org_id']}/ks4/{secondary['year']}/"
        print(
            f"  national figures from {secondary['national_pupils']:,} pupils at "
            f"{secondary['national_schools']:,} schools ({secondary['background'] or 'no background'})"
        )
        script = folder / "report.lua"
        script.write_text(WRK_SCRIPT)
        port = stack.enter_context(gunicorn(env, args.workers, folder / "gunicorn.log"))
        keys = authenticators(env, [HEAD, TRUST_NAMED]) if args.two_factor == "required" else {}
        head = sign_in(port, HEAD, keys.get(HEAD))
        check_page(port, base, head, 'data-figure="p8"')
        check_page(port, base + "explore/?measure=a8", head, "Attainment 8")
        check_page(port, "/reports/glossary/", head, "Progress 8")
        plan = [
            ("/healthz (baseline)", "/healthz", head),
            ("glossary (baseline)", "/reports/glossary/", head),
            (f"KS4 dashboard {secondary['year']}", base, head),
            ("KS4 explore a8", base + "explore/?measure=a8", head),
        ]
        primary = pages.get("primary")
        if primary:
            trust = sign_in(port, TRUST_NAMED, keys.get(TRUST_NAMED))
            path = f"/reports/{primary['org_id']}/ks2/{primary['year']}/"
            check_page(port, path, trust, 'id="headlines"')
            plan.append((f"KS2 dashboard {primary['year']}", path, trust))
        print(
            f"Load: wrk, {args.users} connections, {min(args.threads, args.users)} threads, "
            f"{args.warmup:g} s warm-up then {args.duration:g} s per page; gunicorn {args.workers} workers "
            f"on {cores} cores; {secondary['name']} as {HEAD}; load average before: "
            f"{os.getloadavg()[0]:.1f} (other work on the machine skews the figures)",
            flush=True,
        )
        results = [measure(wrk, script, port, page, path, cookie, args) for page, path, cookie in plan]
        status = report(results, args.goal_ms)
        if args.cold > 0:
            cold, warm = (
                sorted(times) for times in cold_views(env, port, base, head, args.cold, args.workers)
            )
            cold_median, warm_median = cold[len(cold) // 2], warm[len(warm) // 2]
            print(
                f"KS4 dashboard one view at a time, {len(cold)} each: worked out cold (the first view "
                f"after a refresh) median {cold_median:.1f} ms, max {cold[-1]:.1f} ms; from the cache "
                f"median {warm_median:.1f} ms; cold is {cold_median / warm_median:.1f}x the cached"
            )
        if status == 1:
            server_errors(folder / "gunicorn.log")
    sys.exit(status)


if __name__ == "__main__":
    main()
