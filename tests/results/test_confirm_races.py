"""Confirmations on a busy server, as the deadline surge benchmark (bench/deadline_surge.py) found them:
a confirmation that read the clock and was then slowed down, while another confirmation or the
deadline's collection went ahead, must still be stamped in the order things took effect; one stamped
before the deadline must be in what the deadline froze; and one made while a worker stores the
figures must not deadlock with it (a 500 for the school, on PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from keystage.measures import services as measures
from keystage.measures import storing as measure_storing
from keystage.measures.models import RunStatus
from keystage.results import downloads, services, uploading
from keystage.results.models import Collection, Deadline, FrozenSubmission, Upload, UploadStatus
from tests.results.conftest import YEAR, as_file, filled, open_collection, roster

MARK = "Phonics screening check mark"
SLOW = "slow request"


class HeldUpClock:
    """The clock as the results services read it. The SLOW thread's first reading (``reads``, if
    given) is held up until the other thread has done what it does, or for a second when it cannot
    because the slow one holds a lock it needs: a request on a busy server. The other thread starts
    once the slow one is reading the clock."""

    def __init__(self, reads: Any = None):
        self.reads = reads
        self.reading, self.other_done = threading.Event(), threading.Event()

    def now(self) -> Any:
        if threading.current_thread().name != SLOW or self.reading.is_set():
            return timezone.now()
        read = self.reads or timezone.now()
        self.reading.set()
        self.other_done.wait(1)
        return read

    def __getattr__(self, name: str) -> Any:
        return getattr(timezone, name)


def _validated_uploads(collection, school, user, marks):
    template = downloads.download_template(collection, school, actor=user)
    uploads = [
        uploading.upload_results(
            collection,
            school,
            as_file(filled(template, "phonics", {(1, MARK): mark})),
            filename=f"{mark}.xlsx",
            actor=user,
        )
        for mark in marks
    ]
    call_command("worker", "--batch", "--interval", "0")
    return [Upload.objects.get(pk=u.pk) for u in uploads]


def _side_by_side(clock: HeldUpClock, slow, other) -> list[Exception]:
    """``slow`` in the SLOW thread and, once it reads the clock, ``other`` in another; their errors."""
    errors: list[Exception] = []

    def run(action, wait_for=None, then=None):
        try:
            if wait_for is not None:
                assert wait_for.wait(10), "the slow thread never read the clock"
            action()
        except Exception as error:
            errors.append(error)
        finally:
            if then is not None:
                then.set()
            connection.close()

    threads = [
        threading.Thread(target=run, args=(slow,), name=SLOW),
        threading.Thread(target=run, args=(other, clock.reading, clock.other_done)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_a_held_up_confirmation_is_stamped_in_the_order_it_took_effect(world, monkeypatch):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    older, newer = _validated_uploads(collection, world.s1, user, (30, 31))
    clock = HeldUpClock()
    monkeypatch.setattr(services, "timezone", clock)

    errors = _side_by_side(
        clock,
        lambda: services.confirm_upload(newer, actor=user, agreed=True),
        lambda: services.confirm_upload(older, actor=user, agreed=True),
    )

    assert all(isinstance(e, services.CollectionError) for e in errors), errors
    uploads = list(Upload.objects.filter(collection=collection))
    in_use = [u for u in uploads if u.in_use]
    confirmed = [u for u in uploads if u.confirmed_at is not None]
    assert len(in_use) == 1
    # The school's history: the one in use is the one confirmed last, and no file was overwritten
    # before it was confirmed.
    assert max(confirmed, key=lambda u: u.confirmed_at) == in_use[0]
    for upload in confirmed:
        assert upload.overwritten_at is None or upload.overwritten_at >= upload.confirmed_at


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_stamped_before_the_deadline_is_frozen_even_if_still_in_progress_at_the_collection(
    world, monkeypatch
):
    now = timezone.now()
    collection = open_collection(provisional_deadline=now - timedelta(minutes=1))
    roster(world.s1)
    user = world.person("manage_data")
    (upload,) = _validated_uploads(collection, world.s1, user, (30,))
    just_before = collection.provisional_deadline - timedelta(seconds=1)
    clock = HeldUpClock(reads=just_before)
    monkeypatch.setattr(services, "timezone", clock)

    errors = _side_by_side(
        clock,
        lambda: services.confirm_upload(upload, actor=user, agreed=True),
        lambda: services.collect_deadline(Collection.objects.get(pk=collection.pk), Deadline.PROVISIONAL),
    )

    assert errors == []
    upload.refresh_from_db()
    assert upload.in_use and upload.confirmed_at == just_before
    frozen = FrozenSubmission.objects.filter(collection=collection, deadline=Deadline.PROVISIONAL)
    assert [(f.school_id, f.upload_id) for f in frozen] == [(world.s1.pk, upload.pk)]


def _until_another_connection_waits_for_a_lock(seconds: float = 10) -> None:
    """On PostgreSQL, until another connection is waiting for a row lock; SQLite has none (its writers
    queue for the whole database), so there a moment's pause."""
    if connection.vendor != "postgresql":
        time.sleep(0.3)
        return
    waited_until = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < waited_until:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_while_a_worker_stores_the_figures_does_not_deadlock(world, monkeypatch):
    collection = open_collection()
    roster(world.s1)
    user = world.person("manage_data")
    first, second = _validated_uploads(collection, world.s1, user, (30, 31))
    first = services.confirm_upload(first, actor=user, agreed=True)
    storing = threading.Event()
    mark_reports_available = measure_storing._mark_reports_available

    def and_a_school_confirms_meanwhile(run, school_ids):
        # The figures' rows refer to the school; PostgreSQL checks those references as the
        # transaction commits, after the upload in use has been marked "Reports available".
        mark_reports_available(run, school_ids)
        storing.set()
        _until_another_connection_waits_for_a_lock()

    monkeypatch.setattr(measure_storing, "_mark_reports_available", and_a_school_confirms_meanwhile)
    errors: list[Exception] = []

    def run(action, wait_for=None):
        try:
            if wait_for is not None:
                assert wait_for.wait(30), "the figures were never stored"
            action()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: measures.compute_and_store_primary("phonics", YEAR),)),
        threading.Thread(
            target=run, args=(lambda: services.confirm_upload(second, actor=user, agreed=True), storing)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.in_use and first.status == UploadStatus.OVERWRITTEN
    assert measures.latest_run("phonics", YEAR).status == RunStatus.COMPLETE
