"""The deadline surge benchmark's own arithmetic and its judge: the percentiles it prints, which upload
a school expects to be its submission, and the checks that turn the clients' records and the
database's rows into PASS or FAIL (the benchmark itself runs servers, so is not run here)."""

from __future__ import annotations

import math
from datetime import datetime

from bench.deadline_surge import (
    BAD,
    GOOD,
    Call,
    Confirmation,
    SchoolRecord,
    SentUpload,
    latest_confirmed,
    peak_rate,
    percentile,
    verify,
)

DEADLINE = "2026-07-03T17:00:00+00:00"


def test_percentiles_interpolate_between_ranks_as_numpy_does():
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 95) == 3.85
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_the_busiest_stretch_is_counted_per_second():
    assert peak_rate([0, 1, 2, 30, 31, 32, 33, 34], width=10) == 0.5
    assert peak_rate([]) == 0


def _school(dfe, confirmations, uploads=None, scenario="clean"):
    return SchoolRecord(
        dfe,
        scenario,
        0.0,
        uploads=uploads or [SentUpload(GOOD, c.upload_id, 202, "successful") for c in confirmations],
        confirmations=confirmations,
    )


def test_a_schools_submission_is_its_latest_accepted_confirmation_by_the_servers_clock():
    double = _school(
        "1112001",
        [
            Confirmation(5, 200, confirmed_at="2026-07-03T16:59:59.900+00:00"),
            Confirmation(6, 409, "cannot_confirm"),
            Confirmation(4, 200, confirmed_at="2026-07-03T16:59:59.950+00:00"),
        ],
    )
    late = _school("1112002", [Confirmation(9, 200, confirmed_at="2026-07-03T17:00:00.200+00:00")])
    assert latest_confirmed([double, late]) == {"1112001": 4, "1112002": 9}
    assert latest_confirmed([double, late], by=datetime.fromisoformat(DEADLINE)) == {"1112001": 4}


def _row(upload_id, school, status, confirmed_at=None, in_use=False, overwritten_at=None):
    return {
        "id": upload_id,
        "school": school,
        "status": status,
        "in_use": in_use,
        "error_count": 1 if status == "error" else 0,
        "uploaded_at": "2026-07-03T16:58:00+00:00",
        "validation_queued_at": "2026-07-03T16:58:00+00:00",
        "validation_started_at": "2026-07-03T16:58:01+00:00",
        "validated_at": "2026-07-03T16:58:02+00:00",
        "confirmed_at": confirmed_at,
        "overwritten_at": overwritten_at,
    }


def _world():
    """A school that fixed a file and confirmed before the deadline, and one that confirmed after it."""
    fixed = _school(
        "1112001",
        [Confirmation(2, 200, confirmed_at="2026-07-03T16:59:00+00:00")],
        uploads=[SentUpload(BAD, 1, 202, "error"), SentUpload(GOOD, 2, 202, "successful")],
        scenario="fix",
    )
    late = _school("1112002", [Confirmation(3, 200, confirmed_at="2026-07-03T17:00:01+00:00")])
    facts = {
        "deadlines": {"provisional": DEADLINE, "final": "2026-07-03T17:05:00+00:00"},
        "uploads": [
            _row(1, "1112001", "error"),
            _row(2, "1112001", "successful", "2026-07-03T16:59:00+00:00", in_use=True),
            _row(3, "1112002", "successful", "2026-07-03T17:00:01+00:00", in_use=True),
        ],
        "frozen": {"provisional": {"1112001": 2}, "final": {"1112001": 2, "1112002": 3}},
    }
    calls = [Call("upload", 202, 0.05, 1.0), Call("confirm", 200, 0.04, 2.0)]
    return [fixed, late], calls, facts


def test_a_surge_where_everything_held_passes_every_check():
    records, calls, facts = _world()
    assert [c.name for c in verify(records, calls, facts) if not c.ok] == []


def test_a_confirmation_the_deadline_did_not_freeze_fails_that_check_naming_the_school():
    records, calls, facts = _world()
    del facts["frozen"]["provisional"]["1112001"]
    failed = {c.name: c.detail for c in verify(records, calls, facts) if not c.ok}
    assert list(failed) == ["the provisional deadline froze each school's latest upload confirmed by then"]
    assert "1112001: frozen None, latest confirmed 2" in failed[next(iter(failed))]


def test_a_500_a_lost_upload_and_one_left_processing_each_fail():
    records, calls, facts = _world()
    calls.append(Call("confirm", 500, 0.3, 3.0))
    records[1].uploads.append(SentUpload(GOOD, 4, 202, "processing"))
    facts["uploads"][0]["status"], facts["uploads"][0]["validated_at"] = "processing", None
    failed = [c.name for c in verify(records, calls, facts) if not c.ok]
    assert failed == [
        "no 5xx answer and no failed connection",
        "every accepted upload stored, and no other",
        "every upload ended validated (none left queued or running)",
    ]


def test_history_out_of_order_fails_even_when_the_one_in_use_was_frozen():
    records, calls, facts = _world()
    # Upload 2 shown as overwritten a moment before it was confirmed: the history is out of order.
    facts["uploads"].append(
        _row(
            5,
            "1112001",
            "overwritten",
            "2026-07-03T16:59:30+00:00",
            overwritten_at="2026-07-03T16:59:20+00:00",
        )
    )
    failed = [c.name for c in verify(records, calls, facts) if not c.ok]
    assert "the history's times agree" in failed
