"""Deadline surge: hundreds of schools upload their results through the API in the last minutes before
a collection's deadline, against gunicorn and two `keystage worker` processes on a PostgreSQL 15
server of the benchmark's own, all on 127.0.0.1.

    keystage bench deadline_surge [--schools 300] [--minutes 3] [--concurrency 100] [--kind phonics]
                                  [--web-workers 4] [--workers 2] [--error-share 0.2]
                                  [--replace-share 0.1] [--double-share 0.1] [--last-second-share 0.1]
                                  [--seed 2026] [--save FILE.json]

Before the clock starts: a synthetic world of N primary schools with their rosters, an open
collection of the current year, a user with an API token for each school (made by the token
service), and each school's template (downloaded through the template service) filled with
synthetic results. Then each school starts at its planned moment, more of them as the deadline
nears, and does what schools do: upload, poll until the check has finished, confirm. Some first
send a file with mistakes and upload the corrected file once they see the errors; some confirm an
upload and later replace it; some double-submit (the same file twice at once, then both confirmed
at once, as two tabs would); some upload early and confirm in the last second, a few just after the
deadline. Every client makes a bounded number of requests, each with a timeout. The provisional
deadline is at the end of the window and is collected by a worker from the collection's schedule
while late schools are still confirming; when every school is done, the final deadline is moved to
now, as the admin page does, and a worker collects it.

Checks (PASS/FAIL each; exit 1 on any failure): no 5xx and no failed connection; every answer as a
school expects; every accepted upload stored and validated (none left processing), files with
mistakes refused and the others valid; each school's upload in use is its latest confirmed one and
the history's times agree; each deadline froze exactly the latest upload each school had confirmed
by then. Figures: uploads/s accepted, validations/s, latency p50/p95/p99 per endpoint, queue delay
(accepted to check started, to check finished), the drain time against a baseline measured in the
same run (one file checked in-process, times the uploads, over the workers), the workers' time by
task, and /healthz idle and under the load. No time is asserted. Everything it starts (PostgreSQL
in a temporary folder, gunicorn, the workers) is stopped and deleted at the end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings

from bench.reports_load import HOST, get, gunicorn, postgres, server_errors

CLEAN, FIX, REPLACE, DOUBLE, LAST = "clean", "fix", "replace", "double", "last"
SCENARIOS = {
    CLEAN: "upload, wait for the check, confirm",
    FIX: "a file with mistakes first, then the corrected file, confirmed",
    REPLACE: "confirm one file, later upload and confirm another",
    DOUBLE: "the same file sent twice at once, both confirmed at once",
    LAST: "upload early, confirm in the last second (some just after the deadline)",
}
GOOD, BAD, SECOND = "good", "bad", "second"  # the files a school may send
MISTAKES = 3  # planted in a file with mistakes: at least one is an error, so the check refuses it
ENDPOINTS = ("upload", "poll", "confirm", "healthz")
TERMS = "The results in this file are complete and accurate for every pupil. (keystage deadline surge)"


# Figures -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between the closest ranks, as numpy's
    default; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """p50, p95 and max of the values (times ``scale``), or "none" when there are none."""
    if not values:
        return "none"
    p50, p95, top = (x * scale for x in (percentile(values, 50), percentile(values, 95), max(values)))
    return f"p50 {p50:.{digits}f}  p95 {p95:.{digits}f}  max {top:.{digits}f}"


def timetable(
    scenarios: Sequence[str], window: float, rng: random.Random
) -> list[tuple[float, float | None]]:
    """When each school starts, in seconds from the start of the window (the deadline at its end),
    and when a LAST school confirms. Most start more often as the deadline nears (the density grows
    linearly), so the last start seconds before it and confirm after it while a worker collects
    the deadline; a LAST school starts in the first half and confirms within a second or so of the
    deadline, on either side."""
    times: list[tuple[float, float | None]] = []
    for scenario in scenarios:
        if scenario == LAST:
            times.append((0.5 * window * rng.random(), window - rng.uniform(-0.5, 1.5)))
        else:
            times.append((window * math.sqrt(rng.random()), None))
    return times


def assign_scenarios(count: int, shares: dict[str, float], rng: random.Random) -> list[str]:
    """Each school's scenario: the given share of schools for each, rounded, the rest CLEAN; shuffled."""
    chosen: list[str] = []
    for scenario, share in shares.items():
        chosen += [scenario] * min(round(count * share), count - len(chosen))
    chosen += [CLEAN] * (count - len(chosen))
    rng.shuffle(chosen)
    return chosen


# What the clients saw ----------------------------------------------------------------------------


@dataclass
class Call:
    endpoint: str
    status: int  # 0: the connection failed or timed out
    seconds: float
    at: float  # seconds from the start of the surge


@dataclass
class SentUpload:
    file: str  # GOOD, BAD or SECOND
    id: int | None = None  # None: not accepted
    answer: int = 0
    outcome: str = ""  # its status when the polling stopped


@dataclass
class Confirmation:
    upload_id: int
    answer: int
    code: str = ""  # the error code of a refusal
    confirmed_at: str | None = None  # as the server gave it


@dataclass
class SchoolRecord:
    dfe: str
    scenario: str
    planned: float  # when it starts, seconds from the start of the surge
    confirm_at: float | None = None  # LAST: when it confirms
    started: float = 0.0
    finished: float = 0.0
    uploads: list[SentUpload] = field(default_factory=list)
    confirmations: list[Confirmation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def latest_confirmed(records: Sequence[SchoolRecord], by: datetime | None = None) -> dict[str, int]:
    """Each school's upload whose accepted confirmation was the latest, by the time the server gave
    it (only those confirmed by ``by``, when given): what the school expects to be its submission."""
    found: dict[str, tuple[datetime, int]] = {}
    for record in records:
        for confirmation in record.confirmations:
            if confirmation.answer != 200 or confirmation.confirmed_at is None:
                continue
            at = datetime.fromisoformat(confirmation.confirmed_at)
            if by is not None and at > by:
                continue
            if record.dfe not in found or at > found[record.dfe][0]:
                found[record.dfe] = (at, confirmation.upload_id)
    return {dfe: upload_id for dfe, (_, upload_id) in found.items()}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _some(items: Sequence[object], limit: int = 5) -> str:
    shown = "; ".join(str(x) for x in items[:limit])
    return shown + (f"; … {len(items) - limit} more" if len(items) > limit else "")


def _frozen_check(name: str, expected: dict[str, int], frozen: dict[str, int] | None) -> Check:
    if frozen is None:
        return Check(name, False, "the deadline's collection did not run")
    wrong = [
        f"{dfe}: frozen {frozen.get(dfe)}, latest confirmed {expected.get(dfe)}"
        for dfe in sorted(set(expected) | set(frozen))
        if frozen.get(dfe) != expected.get(dfe)
    ]
    return Check(name, not wrong, _some(wrong) if wrong else f"{len(frozen)} schools frozen")


def verify(records: Sequence[SchoolRecord], calls: Sequence[Call], facts: dict[str, Any]) -> list[Check]:
    """Compare what the clients saw with what the database holds at the end."""
    checks: list[Check] = []
    failed = [c for c in calls if c.status == 0 or c.status >= 500]
    by_kind = Counter(f"{c.endpoint} {c.status or 'no answer'}" for c in failed)
    checks.append(
        Check(
            "no 5xx answer and no failed connection",
            not failed,
            ", ".join(f"{n} x {k}" for k, n in by_kind.items()) or f"{len(calls)} requests",
        )
    )
    problems = [f"{r.dfe} ({r.scenario}): {p}" for r in records for p in r.problems]
    checks.append(Check("every answer as the school expected", not problems, _some(problems)))

    rows = {int(u["id"]): u for u in facts["uploads"]}
    sent = {u.id: (r, u) for r in records for u in r.uploads if u.id is not None}
    lost = sorted(set(sent) - set(rows))
    unknown = sorted(set(rows) - set(sent))
    checks.append(
        Check(
            "every accepted upload stored, and no other",
            not lost and not unknown,
            f"lost {lost[:10]}, unknown {unknown[:10]}" if lost or unknown else f"{len(rows)} uploads",
        )
    )
    stuck = [i for i, u in rows.items() if u["status"] == "processing" or not u["validated_at"]]
    checks.append(
        Check(
            "every upload ended validated (none left queued or running)",
            not stuck,
            f"{len(stuck)} not validated: {stuck[:10]}" if stuck else f"{len(rows)} validated",
        )
    )
    misjudged = [
        f"upload {i} ({sent[i][1].file} file of {sent[i][0].dfe}) ended {rows[i]['status']}"
        for i in sorted(set(sent) & set(rows))
        if rows[i]["status"] != "processing" and (rows[i]["status"] == "error") != (sent[i][1].file == BAD)
    ]
    checks.append(Check("files with mistakes refused, the others valid", not misjudged, _some(misjudged)))

    expected = latest_confirmed(records)
    in_use = {u["school"]: int(u["id"]) for u in facts["uploads"] if u["in_use"]}
    wrong_use = [
        f"{dfe}: in use {in_use.get(dfe)}, latest confirmed {expected.get(dfe)}"
        for dfe in sorted(set(expected) | set(in_use))
        if in_use.get(dfe) != expected.get(dfe)
    ]
    doubled = Counter(u["school"] for u in facts["uploads"] if u["in_use"])
    wrong_use += [f"{dfe}: {n} uploads in use" for dfe, n in doubled.items() if n > 1]
    checks.append(
        Check(
            "each school's upload in use is its latest confirmed",
            not wrong_use,
            _some(wrong_use) if wrong_use else f"{len(in_use)} schools",
        )
    )
    checks.append(Check("the history's times agree", *_history_in_order(facts["uploads"])))

    provisional = datetime.fromisoformat(facts["deadlines"]["provisional"])
    checks.append(
        _frozen_check(
            "the provisional deadline froze each school's latest upload confirmed by then",
            latest_confirmed(records, by=provisional),
            facts["frozen"].get("provisional"),
        )
    )
    checks.append(
        _frozen_check(
            "the final deadline froze each school's latest confirmed upload",
            expected,
            facts["frozen"].get("final"),
        )
    )
    return checks


def _history_in_order(uploads: Sequence[dict[str, Any]]) -> tuple[bool, str]:
    """Per school, the upload in use was confirmed last, and no upload was overwritten before it was
    confirmed: the history page lists them in the order they happened."""
    wrong: list[str] = []
    by_school: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for upload in uploads:
        if upload["confirmed_at"]:
            by_school[upload["school"]].append(upload)
    for dfe, confirmed in sorted(by_school.items()):
        latest = max(confirmed, key=lambda u: (datetime.fromisoformat(u["confirmed_at"]), u["id"]))
        if not latest["in_use"]:
            wrong.append(f"{dfe}: upload {latest['id']} was confirmed last but is not the one in use")
        for upload in confirmed:
            if upload["overwritten_at"] and upload["overwritten_at"] < upload["confirmed_at"]:
                wrong.append(f"{dfe}: upload {upload['id']} was overwritten before it was confirmed")
    return not wrong, _some(wrong) if wrong else f"{len(by_school)} schools"


# The clients: schools on 127.0.0.1 --------------------------------------------------------------


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the fields and one file; returns it and its content type."""
    boundary = f"keystage-surge-{secrets.token_hex(12)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Recorder:
    """Every request's endpoint, answer and time, from any client thread."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def request(
        self,
        port: int,
        endpoint: str,
        method: str,
        path: str,
        *,
        token: str = "",
        body: bytes = b"",
        content_type: str = "",
        timeout: float = 60,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        began = time.monotonic()
        connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        status, answer = 0, {}
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            text = response.read()
            status = response.status
            with contextlib.suppress(ValueError):
                answer = json.loads(text)
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            connection.close()
        with self._lock:
            self.calls.append(Call(endpoint, status, time.monotonic() - began, began - self.started))
        return status, answer if isinstance(answer, dict) else {}


@dataclass(frozen=True)
class SchoolPlan:
    dfe: str
    token: str
    scenario: str
    files: dict[str, str]  # GOOD, BAD, SECOND -> path


@dataclass(frozen=True)
class SurgeSettings:
    port: int
    kind: str
    year: int
    poll_seconds: float
    max_polls: int
    timeout: float


class School:
    """One school's client: its scenario's requests, each recorded, polling bounded by max_polls."""

    def __init__(
        self,
        plan: SchoolPlan,
        record: SchoolRecord,
        how: SurgeSettings,
        recorder: Recorder,
        stop: threading.Event,
    ) -> None:
        self.plan, self.record, self.how, self.recorder, self.stop = plan, record, how, recorder, stop

    def run(self) -> None:
        if self.stop.wait(max(0.0, self.record.planned - (time.monotonic() - self.recorder.started))):
            return
        self.record.started = time.monotonic() - self.recorder.started
        try:
            getattr(self, f"_{self.plan.scenario}")()
        finally:
            self.record.finished = time.monotonic() - self.recorder.started

    def _clean(self) -> None:
        upload = self._upload(GOOD)
        if self._checked(upload, "successful"):
            self._confirm(upload)

    def _fix(self) -> None:
        first = self._upload(BAD)
        if not self._checked(first, "error"):
            return
        fixed = self._upload(GOOD)
        if self._checked(fixed, "successful"):
            self._confirm(fixed)

    def _replace(self) -> None:
        first = self._upload(GOOD)
        if not (self._checked(first, "successful") and self._confirm(first)):
            return
        second = self._upload(SECOND)
        if self._checked(second, "successful"):
            self._confirm(second)

    def _last(self) -> None:
        upload = self._upload(GOOD)
        if not self._checked(upload, "successful") or self.record.confirm_at is None:
            return
        if self.stop.wait(max(0.0, self.record.confirm_at - (time.monotonic() - self.recorder.started))):
            return
        self._confirm(upload)

    def _double(self) -> None:
        first, second = self._both(lambda: self._upload(GOOD), lambda: self._upload(GOOD))
        ready = [u for u in (first, second) if self._checked(u, "successful")]
        if len(ready) == 2:
            self._both(lambda: self._confirm(first, double=True), lambda: self._confirm(second, double=True))

    def _both(self, one: Callable[[], Any], other: Callable[[], Any]) -> tuple[Any, Any]:
        """Two requests at once, as a double click or two tabs send them."""
        box: list[Any] = [None]

        def second() -> None:
            box[0] = other()

        thread = threading.Thread(target=second)
        thread.start()
        first = one()
        thread.join()
        return first, box[0]

    def _upload(self, which: str) -> SentUpload:
        sent = SentUpload(which)
        self.record.uploads.append(sent)
        path = Path(self.plan.files[which])
        body, content_type = multipart(
            {"collection": self.how.kind, "year": str(self.how.year), "school": self.plan.dfe},
            path.name,
            path.read_bytes(),
        )
        sent.answer, answer = self.recorder.request(
            self.how.port,
            "upload",
            "POST",
            "/api/v1/uploads",
            token=self.plan.token,
            body=body,
            content_type=content_type,
            timeout=self.how.timeout,
        )
        if sent.answer == 202 and isinstance(answer.get("id"), int):
            sent.id = answer["id"]
        else:
            self.record.problems.append(f"upload of the {which} file answered {sent.answer or 'nothing'}")
        return sent

    def _checked(self, sent: SentUpload, expected: str) -> bool:
        """Poll until the check has finished (at most max_polls times); whether it ended as expected."""
        if sent.id is None:
            return False
        for _ in range(self.how.max_polls):
            if self.stop.wait(self.how.poll_seconds):
                return False
            status, answer = self.recorder.request(
                self.how.port,
                "poll",
                "GET",
                f"/api/v1/uploads/{sent.id}",
                token=self.plan.token,
                timeout=self.how.timeout,
            )
            if status != 200:
                self.record.problems.append(f"polling upload {sent.id} answered {status or 'nothing'}")
                continue
            sent.outcome = str(answer.get("status"))
            if sent.outcome != "processing":
                break
        if sent.outcome != expected:
            self.record.problems.append(
                f"upload {sent.id} ({sent.file} file) ended {sent.outcome or 'unanswered'}, not {expected}"
            )
            return False
        return True

    def _confirm(self, sent: SentUpload, *, double: bool = False) -> bool:
        assert sent.id is not None
        status, answer = self.recorder.request(
            self.how.port,
            "confirm",
            "POST",
            f"/api/v1/uploads/{sent.id}/confirm",
            token=self.plan.token,
            body=b'{"agree_to_terms": true}',
            content_type="application/json",
            timeout=self.how.timeout,
        )
        code = str((answer.get("error") or {}).get("code", "")) if status != 200 else ""
        confirmed_at = answer.get("confirmed_at") if status == 200 else None
        self.record.confirmations.append(Confirmation(sent.id, status, code, confirmed_at))
        if status == 200 and answer.get("in_use") is True and confirmed_at:
            return True
        # Of two uploads confirmed at once, the earlier is refused once the later has been confirmed.
        if double and status == 409 and code == "cannot_confirm":
            return False
        self.record.problems.append(
            f"confirming upload {sent.id} answered {status or 'nothing'} {code}".strip()
        )
        return False


@dataclass(frozen=True)
class QueueSample:
    at: float  # seconds from the start of the surge
    queued: int  # tasks ready and not yet taken


def probe_healthz(
    port: int, recorder: Recorder, stop: threading.Event, every: float, limit: int
) -> list[QueueSample]:
    """/healthz once a second (at most ``limit`` times) while the schools are at work; the queue as
    it reports it."""
    samples: list[QueueSample] = []
    for _ in range(limit):
        if stop.wait(every):
            break
        at = time.monotonic() - recorder.started
        status, answer = recorder.request(port, "healthz", "GET", "/healthz", timeout=30)
        worker = answer.get("worker") or {}
        if status == 200 and isinstance(worker.get("queued_tasks"), int):
            samples.append(QueueSample(at, worker["queued_tasks"]))
    return samples


@dataclass
class SurgeOutcome:
    records: list[SchoolRecord]
    recorder: Recorder
    seconds: float
    queue: list[QueueSample]


def surge(
    plans: Sequence[SchoolPlan],
    times: Sequence[tuple[float, float | None]],
    how: SurgeSettings,
    concurrency: int,
) -> SurgeOutcome:
    """Every school's scenario, each starting at its offset, with /healthz probed meanwhile. Ctrl-C
    stops the clients before their next request."""
    recorder = Recorder(time.monotonic())
    stop, done = threading.Event(), threading.Event()
    records = [SchoolRecord(p.dfe, p.scenario, *when) for p, when in zip(plans, times, strict=True)]
    probes = int(max((t for t, _ in times), default=0.0) + how.max_polls * how.poll_seconds * 2) + 60
    pool = ThreadPoolExecutor(max_workers=concurrency + 1, thread_name_prefix="school")
    try:
        probe = pool.submit(probe_healthz, how.port, recorder, done, 1.0, probes)
        # In the order they start: the pool's threads take them first come, first served.
        futures = [
            pool.submit(School(plan, record, how, recorder, stop).run)
            for plan, record in sorted(zip(plans, records, strict=True), key=lambda pair: pair[1].planned)
        ]
        for future in futures:
            future.result()
        done.set()
        queue = probe.result()
    finally:
        stop.set()
        done.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return SurgeOutcome(records, recorder, time.monotonic() - recorder.started, queue)


# Steps run inside the benchmark's database (a `keystage bench deadline_surge --step …` process) --


def step_prepare(args: argparse.Namespace, folder: Path) -> None:
    """The synthetic world, the collection, a token per school, every school's files, and the
    baseline: files checked in-process, one at a time, before anything else runs."""
    from django.utils import timezone

    from keystage.accounts.models import Membership, User
    from keystage.api.services import create_token
    from keystage.core.results.fill import fill_template
    from keystage.core.roles import Role
    from keystage.core.synth import SynthSpec, generate
    from keystage.core.synth.output import rosters_by_school
    from keystage.organisations.models import LocalAuthority
    from keystage.organisations.models import School as SchoolRow
    from keystage.pupils.services import import_roster
    from keystage.results import downloads, services, upload_checks
    from keystage.web.demo import current_academic_year

    started = time.perf_counter()
    year = current_academic_year()
    spec = SynthSpec(year=year, seed=args.seed, secondary_schools=0, primary_schools=args.schools)
    world = generate(spec)
    rosters = rosters_by_school(world)
    schools: list[Any] = []
    pupils = 0
    for row in world.schools.iter_rows(named=True):
        la, _ = LocalAuthority.objects.get_or_create(
            code=row["la_code"], defaults={"name": f"Synthetic LA {row['la_code']}"}
        )
        school = SchoolRow.objects.create(
            dfe_number=row["dfe_number"],
            urn=str(row["urn"]),
            name=row["name"],
            phase=row["phase"],
            school_type="maintained",
            la=la,
        )
        roster = rosters[row["dfe_number"]].pupils
        import_roster(school=school, academic_year=year, pupils=roster, full=True, source="synth")
        pupils += len(roster)
        schools.append(school)
    now = timezone.now()
    # Open now; the deadlines are moved to the surge's window just before it starts (--step open).
    collection = services.create_collection(
        kind=args.kind,
        year=year,
        opens_at=now - timedelta(days=1),
        provisional_deadline=now + timedelta(days=30),
        final_deadline=now + timedelta(days=60),
        terms=TERMS,
    )
    world_seconds = time.perf_counter() - started

    started = time.perf_counter()
    layout = services.layout_for(args.kind, year)
    rng = random.Random(args.seed)
    scenarios = assign_scenarios(
        len(schools),
        {
            FIX: args.error_share,
            REPLACE: args.replace_share,
            DOUBLE: args.double_share,
            LAST: args.last_second_share,
        },
        rng,
    )
    files_dir = folder / "files"
    files_dir.mkdir()
    plans: list[dict[str, Any]] = []
    for number, (school, scenario) in enumerate(zip(schools, scenarios, strict=True)):
        user = User.objects.create_user(
            f"data@{school.dfe_number}.surge.example", None, full_name="Data manager"
        )
        Membership.objects.create(user=user, organisation=school, role=Role.MANAGE_DATA.value)
        _, token = create_token(user=user, name="deadline surge", expires_in_days=1)
        template = downloads.download_template(collection, school, actor=user)
        wanted = (
            {GOOD: 0}
            | ({BAD: MISTAKES} if scenario == FIX else {})
            | ({SECOND: 0} if scenario == REPLACE else {})
        )
        files: dict[str, str] = {}
        for which, mistakes in wanted.items():
            seed = args.seed + 10 * number + (2 if which == SECOND else 0)
            path = files_dir / f"{school.dfe_number}-{which}.xlsx"
            path.write_bytes(fill_template(template, layout, seed=seed, errors=mistakes).data)
            files[which] = str(path)
        plans.append({"dfe": school.dfe_number, "token": token, "scenario": scenario, "files": files})
    files_seconds = time.perf_counter() - started

    # The baseline: a sample of the files checked in-process against the school's roster, one at a time.
    sample = [(p, which) for p in plans for which in p["files"]]
    sample = random.Random(args.seed + 1).sample(sample, min(args.baseline_files, len(sample)))
    by_dfe = {s.dfe_number: s for s in schools}
    timings: list[float] = []
    for plan, which in sample:
        data = Path(plan["files"][which]).read_bytes()
        began = time.perf_counter()
        report = upload_checks.check_file(data, args.kind, year, by_dfe[plan["dfe"]])
        timings.append(time.perf_counter() - began)
        if report.valid == (which == BAD):
            sys.exit(
                f"The {which} file of {plan['dfe']} was judged {'valid' if report.valid else 'invalid'}."
            )
    (folder / "plans.json").write_text(
        json.dumps(
            {
                "year": year,
                "collection": str(collection),
                "plans": plans,
                "pupils": pupils,
                "template_pupils": statistics.median(
                    len(downloads.roster_for(s, year, args.kind)) for s in schools[:50]
                ),
                "world_seconds": world_seconds,
                "files_seconds": files_seconds,
                "baseline": timings,
            }
        )
    )


def step_open(args: argparse.Namespace, folder: Path) -> None:
    """Move the provisional deadline to the end of the surge's window and the final a day after, as
    the admin page does: the deadline collections are queued for the workers at their new times."""
    from django.db import transaction

    from keystage.results import services
    from keystage.results.models import Collection

    deadline = datetime.fromisoformat(args.deadline)
    with transaction.atomic():
        collection = Collection.objects.get(kind=args.kind)
        collection.provisional_deadline = deadline
        collection.final_deadline = deadline + timedelta(days=1)
        collection.save(update_fields=["provisional_deadline", "final_deadline"])
        transaction.on_commit(lambda: services.schedule_deadlines(collection))


def step_close(args: argparse.Namespace, folder: Path) -> None:
    """Every school is done: move the final deadline to now (as the admin page does), wait for the
    workers to collect both deadlines, and write down what the database holds."""
    from django.db import transaction
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from keystage.measures.models import MeasureRun
    from keystage.results import services
    from keystage.results.models import Collection, DeadlineRun, FrozenSubmission, Upload

    with transaction.atomic():
        collection = Collection.objects.get(kind=args.kind)
        collection.final_deadline = max(timezone.now(), collection.provisional_deadline)
        collection.save(update_fields=["final_deadline"])
        transaction.on_commit(lambda: services.schedule_deadlines(collection))
    waited_until = time.monotonic() + args.close_wait
    while DeadlineRun.objects.filter(collection=collection).count() < 2 and time.monotonic() < waited_until:
        time.sleep(0.5)
    # The refreshes of the figures that the confirmations queued, so the task times are complete.
    while (
        DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists()
    ) and time.monotonic() < waited_until:
        time.sleep(0.5)

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    uploads = [
        {
            "id": u.pk,
            "school": u.school.dfe_number if u.school else None,
            "status": u.status,
            "in_use": u.in_use,
            "error_count": u.error_count,
            **{
                name: when(getattr(u, name))
                for name in (
                    "uploaded_at",
                    "validation_queued_at",
                    "validation_started_at",
                    "validated_at",
                    "confirmed_at",
                    "overwritten_at",
                )
            },
        }
        for u in Upload.objects.filter(collection=collection).select_related("school").order_by("pk")
    ]
    frozen: dict[str, dict[str, int]] = defaultdict(dict)
    for submission in FrozenSubmission.objects.filter(collection=collection).select_related("school"):
        frozen[submission.deadline][submission.school.dfe_number] = submission.upload_id
    runs = {
        run.deadline: {"ran_at": run.ran_at.isoformat(), "schools": run.schools}
        for run in DeadlineRun.objects.filter(collection=collection)
    }
    tasks = [
        {
            "task": t.task_path.rsplit(".", 1)[-1],
            "status": t.status,
            "enqueued_at": when(t.enqueued_at),
            "started_at": when(t.started_at),
            "finished_at": when(t.finished_at),
        }
        for t in DBTaskResult.objects.exclude(status="READY")
    ]
    (folder / "facts.json").write_text(
        json.dumps(
            {
                "deadlines": {
                    "provisional": collection.provisional_deadline.isoformat(),
                    "final": collection.final_deadline.isoformat(),
                },
                "uploads": uploads,
                "frozen": frozen,
                "runs": runs,
                "tasks": tasks,
                "refreshes": Counter(
                    MeasureRun.objects.filter(source="refresh").values_list("status", flat=True)
                ),
            }
        )
    )


STEPS = {"prepare": step_prepare, "open": step_open, "close": step_close}


# The orchestra: servers, steps, surge, report ------------------------------------------------------


def run_in(env: dict[str, str], *arguments: str) -> None:
    """A keystage command in the benchmark's environment, its output shown only if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "keystage.cli", *arguments],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit(f"keystage {' '.join(arguments[:4])} failed (exit {done.returncode}).")


def run_step(env: dict[str, str], step: str, folder: Path, *options: str) -> None:
    """One of the steps above, in a process of its own against the benchmark's database."""
    run_in(env, "bench", "deadline_surge", "--step", step, "--folder", str(folder), *options)


@contextlib.contextmanager
def task_workers(env: dict[str, str], count: int, folder: Path) -> Iterator[list[Path]]:
    """``count`` `keystage worker` processes; stopped (SIGTERM, then SIGKILL after 20 s) on the way out."""
    started: list[subprocess.Popen[bytes]] = []
    logs = [folder / f"worker-{n}.log" for n in range(1, count + 1)]
    try:
        for log in logs:
            with log.open("wb") as output:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "keystage.cli", "worker"],
                        env=env,
                        cwd=settings.BASE_DIR,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield logs
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _gaps(rows: Sequence[dict[str, Any]], start: str, end: str) -> list[float]:
    return [x for x in (_seconds(r[start], r[end]) for r in rows) if x is not None]


def peak_rate(moments: Sequence[float], width: float = 10.0) -> float:
    """The most events in any ``width``-second stretch, per second."""
    ordered = sorted(moments)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] > width:
            first += 1
        most = max(most, last - first + 1)
    return most / width


def report(
    prepared: dict[str, Any],
    outcome: SurgeOutcome,
    facts: dict[str, Any],
    idle_healthz: Sequence[float],
    args: argparse.Namespace,
) -> None:
    calls, records, uploads = outcome.recorder.calls, outcome.records, facts["uploads"]
    print()
    print(f"{'endpoint':<10}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  answers")
    for endpoint in ENDPOINTS:
        these = [c for c in calls if c.endpoint == endpoint]
        if not these:
            continue
        times = [c.seconds * 1000 for c in these]
        answers = ", ".join(
            f"{n} x {s or 'none'}" for s, n in sorted(Counter(c.status for c in these).items())
        )
        print(
            f"{endpoint:<10}{len(these):>9}{percentile(times, 50):>9.1f}{percentile(times, 95):>9.1f}"
            f"{percentile(times, 99):>9.1f}{max(times):>9.1f}  {answers}"
        )
    healthz = [c.seconds * 1000 for c in calls if c.endpoint == "healthz"]
    idle = [x * 1000 for x in idle_healthz]
    if healthz and idle:
        print(
            f"/healthz idle before the surge: p50 {percentile(idle, 50):.1f} ms, "
            f"p95 {percentile(idle, 95):.1f} ms; "
            f"under the surge: p50 {percentile(healthz, 50) / percentile(idle, 50):.1f}x, "
            f"p95 {percentile(healthz, 95) / percentile(idle, 95):.1f}x idle"
        )

    accepted = [c.at + c.seconds for c in calls if c.endpoint == "upload" and c.status == 202]
    validated = [u for u in uploads if u["validated_at"]]
    print()
    if accepted:
        span = max(accepted) - min(accepted)
        print(
            f"Uploads accepted: {len(accepted)} from {len(records)} schools in {span:.1f} s = "
            f"{len(accepted) / span if span else math.nan:.2f}/s on average, "
            f"{peak_rate(accepted):.2f}/s at the busiest 10 s"
        )
    if validated:
        finished = [datetime.fromisoformat(u["validated_at"]).timestamp() for u in validated]
        span = max(finished) - min(finished)
        print(
            f"Validations completed: {len(validated)} in {span:.1f} s = "
            f"{len(validated) / span if span else math.nan:.2f}/s on average, "
            f"{peak_rate(finished):.2f}/s at the busiest 10 s"
        )
    if outcome.queue:
        busiest = max(outcome.queue, key=lambda q: q.queued)
        print(
            f"Task queue (/healthz each second): at most {busiest.queued} tasks waiting, "
            f"{busiest.at:.0f} s in"
        )
    print("Queue delay, seconds from the upload accepted:")
    print(
        f"  to its check started   {spread(_gaps(uploads, 'uploaded_at', 'validation_started_at'), digits=2)}"
    )
    print(f"  to its check finished  {spread(_gaps(uploads, 'uploaded_at', 'validated_at'), digits=2)}")
    checking = _gaps(uploads, "validation_started_at", "validated_at")
    print(f"  the check itself       {spread(checking, digits=2)}")

    baseline = statistics.median(prepared["baseline"])
    print(
        f"\nBaseline, in the same run: one file checked in-process (check_file against the school's roster, "
        f"median of {len(prepared['baseline'])}, nothing else running) {baseline * 1000:.0f} ms"
    )
    if uploads and checking and accepted:
        first = min(datetime.fromisoformat(u["uploaded_at"]) for u in uploads)
        last = max(datetime.fromisoformat(u["validated_at"]) for u in validated)
        drain = (last - first).total_seconds()
        arrivals = max(accepted) - min(accepted)
        ideal = max(arrivals, baseline * len(uploads) / args.workers) + baseline
        per_upload = sum(checking) / len(checking)
        print(
            f"Drain: first upload accepted to last check finished {drain:.1f} s; ideal {ideal:.1f} s "
            f"(the uploads arrived over {arrivals:.1f} s; {len(uploads)} files x {baseline * 1000:.0f} ms / "
            f"{args.workers} workers = {baseline * len(uploads) / args.workers:.1f} s); "
            f"drain/ideal {drain / ideal:.2f}x"
        )
        print(
            f"A check in a worker under the surge: {per_upload * 1000:.0f} ms on average, "
            f"{per_upload / baseline:.1f}x the baseline; {args.workers} workers would keep up with "
            f"{args.workers / per_upload:.1f} uploads/s"
        )
    per_task: dict[str, list[float]] = defaultdict(list)
    for task in facts["tasks"]:
        took = _seconds(task["started_at"], task["finished_at"])
        if took is not None:
            per_task[task["task"]].append(took)
    print(
        "Worker tasks run: "
        + "; ".join(f"{name} {len(t)} ({sum(t):.1f} s)" for name, t in sorted(per_task.items()))
        + "; figures refreshes by outcome "
        + ", ".join(f"{k} {v}" for k, v in facts["refreshes"].items())
    )

    provisional = datetime.fromisoformat(facts["deadlines"]["provisional"])
    by_deadline = latest_confirmed(records, by=provisional)
    everyone = latest_confirmed(records)
    uploaded_at = {int(u["id"]): datetime.fromisoformat(u["uploaded_at"]) for u in uploads}
    uploaded_in_time = {
        r.dfe for r in records for u in r.uploads if u.id in uploaded_at and uploaded_at[u.id] <= provisional
    }
    run = facts["runs"].get("provisional")
    collected = (
        f"; a worker collected it {_seconds(facts['deadlines']['provisional'], run['ran_at']):.1f} s "
        f"after the deadline ({run['schools']} schools frozen)"
        if run
        else ""
    )
    print(
        f"\nProvisional deadline at the end of the window: {len(by_deadline)} of {len(everyone)} schools had "
        f"confirmed by it; {len(uploaded_in_time - set(by_deadline))} had uploaded before it but confirmed "
        f"after it{collected}"
    )
    lags = [r.started - r.planned for r in records if r.started]
    print(
        f"Schools' start behind plan (s): {spread(lags, digits=2)} ({args.concurrency} client threads); "
        f"every school done {outcome.seconds:.0f} s after the start"
    )


def idle_healthz(port: int, workers: int) -> list[float]:
    """Once every worker has said it is alive (at most 60 s): /healthz's time, 20 requests one after
    another after 5 to warm up, with nothing else to do."""
    waited_until = time.monotonic() + 60
    while time.monotonic() < waited_until:
        _, body, _ = get(port, "/healthz")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            if json.loads(body)["worker"]["alive"] >= workers:
                break
        time.sleep(0.5)
    times = []
    for number in range(25):
        began = time.monotonic()
        get(port, "/healthz")
        if number >= 5:
            times.append(time.monotonic() - began)
        time.sleep(0.05)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=300, help="schools taking part (default 300)")
    parser.add_argument("--minutes", type=float, default=3, help="the window before the deadline (default 3)")
    parser.add_argument("--concurrency", type=int, default=100, help="client threads (default 100)")
    parser.add_argument("--kind", default="phonics", help="the collection (default phonics)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="keystage worker processes (default 2)")
    parser.add_argument("--error-share", type=float, default=0.2, help="schools sending mistakes first (0.2)")
    parser.add_argument("--replace-share", type=float, default=0.1, help="schools replacing a confirmed file")
    parser.add_argument("--double-share", type=float, default=0.1, help="schools double-submitting (0.1)")
    parser.add_argument(
        "--last-second-share", type=float, default=0.1, help="schools confirming in the last second (0.1)"
    )
    parser.add_argument("--poll-seconds", type=float, default=2, help="between status polls (default 2)")
    parser.add_argument("--max-wait", type=float, default=900, help="most seconds a school polls one upload")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a request is given up")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--baseline-files", type=int, default=20, help="files checked for the baseline")
    parser.add_argument("--close-wait", type=float, default=180, help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help="also write the clients' records and the facts as JSON")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        STEPS[args.step](args, args.folder)
        return
    if args.schools < 1 or args.minutes <= 0 or args.concurrency < 1 or args.workers < 1:
        parser.error("--schools, --minutes, --concurrency and --workers must be positive")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a kill still stops the servers and deletes the folders
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keystage-deadline-surge-")))
        folder.chmod(0o711)  # PostgreSQL's own user reaches its folder inside
        database = stack.enter_context(postgres(folder))
        (folder / "var").mkdir()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "keystage.settings",
            "DATABASE_URL": database,
            "KEYSTAGE_VAR_DIR": str(folder / "var"),
            "KEYSTAGE_STORAGE_ROOT": str(folder / "var" / "storage"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "DEBUG": "0",
            "KEYSTAGE_HTTPS": "0",
        }
        print(f"PostgreSQL 15 at {database.rsplit('@', 1)[1]} (temporary); migrating…", flush=True)
        run_in(env, "migrate", "--no-input")
        print(f"Preparing {args.schools} schools, their rosters, tokens and files ({args.kind})…", flush=True)
        options = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in _PREPARE_OPTIONS]
        run_step(env, "prepare", folder, *options)
        prepared = json.loads((folder / "plans.json").read_text())
        plans = [SchoolPlan(**p) for p in prepared["plans"]]
        scenarios = Counter(p.scenario for p in plans)
        print(
            f"  {prepared['collection']}: {len(plans)} schools, {prepared['pupils']:,} pupils on roll "
            f"(median {prepared['template_pupils']:.0f} in a template); "
            f"world {prepared['world_seconds']:.1f} s, "
            f"files {prepared['files_seconds']:.1f} s"
        )
        for scenario, count in scenarios.most_common():
            print(f"  {count:4d} {scenario:8} {SCENARIOS[scenario]}")

        port = stack.enter_context(gunicorn(env, args.web_workers, folder / "gunicorn.log"))
        worker_logs = stack.enter_context(task_workers(env, args.workers, folder))
        idle = idle_healthz(port, args.workers)

        window = args.minutes * 60
        deadline = datetime.now(UTC) + timedelta(seconds=window + 3)  # the open step takes a moment
        run_step(env, "open", folder, f"--kind={args.kind}", f"--deadline={deadline.isoformat()}")
        times = timetable(
            [p.scenario for p in plans],
            (deadline - datetime.now(UTC)).total_seconds(),
            random.Random(args.seed),
        )
        how = SurgeSettings(
            port=port,
            kind=args.kind,
            year=prepared["year"],
            poll_seconds=args.poll_seconds,
            max_polls=max(1, math.ceil(args.max_wait / args.poll_seconds)),
            timeout=args.timeout,
        )
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        print(
            f"Surge: {len(plans)} schools over {window:.0f} s to the provisional deadline at "
            f"{deadline:%H:%M:%S} UTC; {args.concurrency} client threads; "
            f"gunicorn {args.web_workers} workers, "
            f"{args.workers} task workers, on {cores} cores; load average before {os.getloadavg()[0]:.1f} "
            "(other work on the machine skews the figures)",
            flush=True,
        )
        outcome = surge(plans, times, how, args.concurrency)
        print(
            f"  every school done after {outcome.seconds:.1f} s; collecting the final deadline…", flush=True
        )
        run_step(env, "close", folder, f"--kind={args.kind}", f"--close-wait={args.close_wait}")
        facts = json.loads((folder / "facts.json").read_text())
        if args.save:
            args.save.write_text(
                json.dumps(
                    {
                        "records": [asdict(r) for r in outcome.records],
                        "calls": [asdict(c) for c in outcome.recorder.calls],
                        "queue": [asdict(q) for q in outcome.queue],
                        "facts": facts,
                    },
                    indent=1,
                )
            )
        report(prepared, outcome, facts, idle, args)
        checks = verify(outcome.records, outcome.recorder.calls, facts)
        print()
        for check in checks:
            print(
                f"{'PASS' if check.ok else 'FAIL'}: {check.name}"
                + (f" ({check.detail})" if check.detail else "")
            )
        failed = not all(c.ok for c in checks)
        if failed:
            server_errors(folder / "gunicorn.log")
            for log in worker_logs:
                lines = [
                    x
                    for x in log.read_text(errors="replace").splitlines()
                    if "Error" in x or "Traceback" in x
                ]
                if lines:
                    print(f"{log.name}: {len(lines)} error lines, e.g. " + _some(lines, 3))
            database_errors(folder / "pg" / "server.log")
    sys.exit(1 if failed else 0)


def database_errors(log: Path) -> None:
    """What PostgreSQL said about failed statements (a deadlock names both statements)."""
    with contextlib.suppress(OSError):
        lines = log.read_text(errors="replace").splitlines()
        said = [x for x in lines if any(k in x for k in ("ERROR:", "DETAIL:", "CONTEXT:", "STATEMENT:"))]
        if said:
            print(f"PostgreSQL's log: {sum('ERROR:' in x for x in said)} errors; the last lines:")
            for line in said[-12:]:
                print("  " + line[:300])


_PREPARE_OPTIONS = (
    "schools",
    "kind",
    "seed",
    "error_share",
    "replace_share",
    "double_share",
    "last_second_share",
    "baseline_files",
)


if __name__ == "__main__":
    main()
