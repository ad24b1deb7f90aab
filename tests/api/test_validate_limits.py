"""POST /api/v1/validate cannot starve the site: a file over the stated bound is checked by the
background worker (202, a Location to poll), each person has a few checks at once and so many a
minute (429 with Retry-After past that), and the issues come a page at a time with their total."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keystage.api import services
from keystage.api.models import ApiCheck
from keystage.core.results import rules
from keystage.results import upload_checks
from keystage.results.models import Upload
from keystage.web import stored_checks
from tests.api.conftest import api
from tests.api.test_endpoints import MARK, _error, _form, _template
from tests.results.conftest import filled, open_collection

pytestmark = pytest.mark.django_db(transaction=True)  # checks are queued when their request commits


@pytest.fixture
def small_bound(settings):
    """Every template is over this: it goes to the background worker."""
    settings.KEYSTAGE_API_VALIDATE_MAX_BYTES = 1024


def _worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def test_a_file_over_the_bound_is_checked_by_the_worker_and_polled(world, small_bound):
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    bad = filled(template, "phonics", {(1, MARK): 41, (2, MARK): 42, (3, MARK): 43})
    queued = client.post("/api/v1/validate", _form(world, bad))
    assert queued.status_code == 202 and queued.json()["status"] == "checking"
    location = queued["Location"]
    assert location.endswith(f"/api/v1/validate/{queued.json()['id']}")
    waiting = client.get(location)
    assert waiting.status_code == 202 and waiting["Retry-After"] == "2"

    _worker()
    answer = client.get(location, {"issues_limit": 2})
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False and body["pupils"] == 3 and body["status"] == "done"
    assert (body["issues_total"], body["errors"], len(body["issues"])) == (3, 3, 2)
    rest = client.get(location, {"issues_offset": 2}).json()
    assert [i["value"] for i in rest["issues"]] == ["43"]
    _error(client.get(location, {"issues_limit": "0"}), 400, "invalid_issues_limit")
    # Nothing is kept but the answer, and only its sender reads it.
    check = ApiCheck.objects.get()
    assert not check.file and not Upload.objects.exists()
    _error(api(world.person("trust_admin")).get(location), 404, "not_found")


def test_a_checked_file_keeps_its_first_issues_errors_first_and_counts_them_all(
    world, small_bound, monkeypatch
):
    """A file of half a million issues would keep 120 MB of answer: the counts are of every issue,
    the pages of the first few thousand, errors before warnings."""
    monkeypatch.setattr(services, "KEPT_ISSUES", 2)
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    bad = filled(template, "phonics", {(1, MARK): 41, (2, MARK): 42, (3, MARK): 43})
    location = client.post("/api/v1/validate", _form(world, bad))["Location"]
    _worker()
    body = client.get(location).json()
    assert (body["issues_total"], body["issues_kept"], body["errors"]) == (3, 2, 3)
    assert [i["value"] for i in body["issues"]] == ["41", "42"]
    assert client.get(location, {"issues_offset": 2}).json()["issues"] == []
    kept = services.kept_outcome(
        {"issues": [{"severity": "warning"}, {"severity": "error"}, {"severity": "warning"}]}, most=1
    )
    assert (kept["issues"], kept["warnings"], kept["errors"]) == ([{"severity": "error"}], 2, 1)


def test_each_person_has_two_checks_at_once(world, small_bound):
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    good = filled(template, "phonics", {(1, MARK): 35})
    assert [client.post("/api/v1/validate", _form(world, good)).status_code for _ in range(2)] == [202, 202]
    refused = client.post("/api/v1/validate", _form(world, good))
    assert _error(refused, 429, "too_many_checks").startswith("You have 2 files being checked already")
    assert refused["Retry-After"] == "5"
    # Another person is not held up by them.
    assert api(world.person("trust_admin")).post("/api/v1/validate", _form(world, good)).status_code == 202
    _worker()
    assert client.post("/api/v1/validate", _form(world, good)).status_code == 202


def test_each_person_starts_so_many_checks_a_minute(world, settings):
    settings.KEYSTAGE_API_CHECKS_PER_MINUTE = 3
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    good = filled(template, "phonics", {(1, MARK): 35})
    assert [client.post("/api/v1/validate", _form(world, good)).status_code for _ in range(3)] == [200] * 3
    refused = client.post("/api/v1/validate", _form(world, good))
    assert "in the last minute" in _error(refused, 429, "too_many_checks")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # A minute on, it is taken again.
    ApiCheck.objects.update(started_at=timezone.now() - timedelta(seconds=61))
    assert client.post("/api/v1/validate", _form(world, good)).status_code == 200


def test_a_check_that_died_with_its_worker_says_so_and_frees_its_slot(world, small_bound):
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    good = filled(template, "phonics", {(1, MARK): 35})
    first = client.post("/api/v1/validate", _form(world, good))
    client.post("/api/v1/validate", _form(world, good))
    ApiCheck.objects.update(started_at=timezone.now() - timedelta(minutes=11))  # never finished
    _error(client.get(first["Location"]), 422, "check_failed")
    assert client.post("/api/v1/validate", _form(world, good)).status_code == 202  # no longer counted


class _WorkerDied(BaseException):
    """Stands in for a check that takes its worker down with it (out of memory, a crashing reader)."""


def test_a_file_whose_every_check_died_with_its_worker_is_answered_422_and_not_kept(
    world, small_bound, monkeypatch
):
    template = _template(world, open_collection())
    client = api(world.person("manage_data"))
    location = client.post("/api/v1/validate", _form(world, filled(template, "phonics", {})))["Location"]
    check = ApiCheck.objects.get()
    kept = check.file.name
    assert default_storage.exists(kept)

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise _WorkerDied

    monkeypatch.setattr(upload_checks, "check_file", dies)
    for _ in range(stored_checks.CHECK_ATTEMPTS):
        with pytest.raises(_WorkerDied):
            services.run_queued_check(check.pk)
        DBTaskResult.objects.all().delete()  # the dead worker's task is lost with it
        assert client.get(location).status_code == 202  # still waiting: the sweep runs it again
    _worker()  # a worker's sweep refuses it, with no wait and no fourth check

    answer = client.get(location)
    assert _error(answer, 422, rules.API_CHECK_UNCHECKABLE.code) == rules.API_CHECK_UNCHECKABLE.message
    body = answer.json()
    assert body["status"] == "done" and body["valid"] is False and body["errors"] == 1
    assert [i["code"] for i in body["issues"]] == [rules.API_CHECK_UNCHECKABLE.code]
    check.refresh_from_db()
    assert check.status == ApiCheck.Status.FAILED and not check.file and not default_storage.exists(kept)
    # No longer running: its sender's next check is taken.
    assert client.post("/api/v1/validate", _form(world, template)).status_code == 202
