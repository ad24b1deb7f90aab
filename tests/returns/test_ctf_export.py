"""Send to the LA: a school's confirmed results sent as a CTF return in one step from the collection's
page, for EYFSP, phonics, KS1 and KS2 TA. The LA's check of the file finds nothing and keeps the
results as confirmed; a return the LA has not opened, a double click and a submission changed since
the page was shown are refused with a clear message; other people are refused."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from keystage.audit.models import AuditAction, AuditEvent
from keystage.results import la_ctf
from keystage.results import services as results
from keystage.results.models import Collection
from keystage.returns import checking
from keystage.returns.models import Return, ReturnedPupil, ReturnStatus, Validation
from tests.conftest import signed_in
from tests.results.conftest import open_collection
from tests.results.test_ctf_export import confirmed_results, confirmed_upload, read_back, split_by_mapping
from tests.returns.conftest import YEAR, on_roll, open_round

LA_KINDS = ["eyfsp", "phonics", "ks1", "ks2-ta"]


def _collection(kind: str) -> Collection:
    return open_collection(kind, year=YEAR)  # returns are sent in their own academic year


def _send_url(collection, school) -> str:
    return reverse("results:ctf_send", args=[collection.pk, school.pk])


def _home(collection, school) -> str:
    return reverse("results:service_home", args=[collection.pk, school.pk])


def _ready(world, kind: str, pupils: int = 5):
    collection = _collection(kind)
    for n in range(1, pupils + 1):
        on_roll(world.s1, n, kind)
    upload = confirmed_upload(collection, world.s1, world.person("manage_data"))
    return collection, upload


@pytest.mark.parametrize("kind", LA_KINDS)
def test_send_to_the_la_sends_the_confirmed_results_and_the_las_check_finds_nothing(world, kind):
    collection, upload = _ready(world, kind)
    round_ = open_round(world.la, kind)  # a kind's return tag has its key
    client = signed_in(world.person("manage_data"))
    page = client.get(_home(collection, world.s1)).content.decode()
    assert "Send to the LA" in page and f'name="upload" value="{upload.pk}"' in page
    assert "csrfmiddlewaretoken" in page and 'data-prevent-double-click="true"' in page

    response = client.post(_send_url(collection, world.s1), {"upload": upload.pk}, follow=True)
    sent = Return.objects.get()
    assert response.redirect_chain[-1][0] == reverse("returns:return_detail", args=[sent.pk])
    filename = f"{world.s1.dfe_number}_CTF_800LLLL_001.xml"
    shown = response.content.decode()
    assert f"Your {collection} results were sent to Home Authority as {filename}" in shown
    assert (sent.round, sent.school, sent.tag, sent.filename) == (round_, world.s1, kind, filename)
    assert sent.sent_by == world.person("manage_data") and sent.validation == Validation.PENDING
    assert "confirmed" in sent.comment and upload.filename in sent.comment
    assert AuditEvent.objects.filter(action=AuditAction.RETURN_SENT, organisation=world.s1).count() == 1

    checked = checking.validate_return(sent.pk)  # the LA's check, as the worker runs it
    assert checked.validation == Validation.VALID and checked.status == ReturnStatus.VALIDATED
    assert checked.issues == [] and checked.error_count == 0 and checked.warning_count == 0
    assert checked.file_format == "ctf" and checked.pupil_count == 5
    mapped, _unmapped = split_by_mapping(confirmed_results(upload), YEAR)
    with sent.file.open("rb") as stored:
        assert read_back(stored.read(), YEAR) == mapped
    kept = {p.upn: p.results for p in ReturnedPupil.objects.filter(sent_return=checked)}
    assert kept == mapped


@pytest.mark.django_db(transaction=True)  # the LA's check is queued when the sending commits
def test_the_worker_checks_the_sent_ctf_clean(world):
    collection, upload = _ready(world, "ks2-ta", pupils=3)
    open_round(world.la, "ks2-ta")
    sent, made = la_ctf.send_la_ctf(
        collection, world.s1, actor=world.person("manage_data"), upload_id=upload.pk
    )
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    sent.refresh_from_db()
    assert sent.validation == Validation.VALID and sent.issues == [] and sent.pupil_count == made.pupils == 3


def test_a_return_the_la_has_not_opened_is_a_clear_message_and_nothing_is_sent(world):
    collection, upload = _ready(world, "phonics", pupils=2)
    open_round(world.la, "ks1")  # another return is open, not this one
    client = signed_in(world.person("manage_data"))
    page = client.get(_home(collection, world.s1)).content.decode()
    assert f"Home Authority has not opened the Phonics return for {YEAR - 1}/{YEAR % 100:02d} yet" in page
    assert "Send to the LA" not in page and "Download CTF" in page
    response = client.post(_send_url(collection, world.s1), {"upload": upload.pk}, follow=True)
    assert response.redirect_chain[-1][0] == _home(collection, world.s1) + "#ctf"
    assert "Home Authority has not opened the Phonics return" in response.content.decode()
    assert not Return.objects.exists()


def test_a_double_click_sends_once_and_says_so_kindly(world):
    collection, upload = _ready(world, "phonics", pupils=2)
    open_round(world.la, "phonics")
    client = signed_in(world.person("manage_data"))
    client.post(_send_url(collection, world.s1), {"upload": upload.pk})
    again = client.post(_send_url(collection, world.s1), {"upload": upload.pk}, follow=True)
    assert Return.objects.count() == 1
    text = again.content.decode()
    assert "These results were already sent to Home Authority on" in text
    assert "so nothing was sent again" in text and "choose the corrected file" not in text
    assert AuditEvent.objects.filter(action=AuditAction.RETURN_SENT).count() == 1


@pytest.mark.django_db(transaction=True)  # two requests at once, each in its own transaction
def test_two_clicks_at_once_send_once_and_the_second_is_told_kindly(world):
    collection, upload = _ready(world, "phonics", pupils=2)
    open_round(world.la, "phonics")
    user = world.person("manage_data")
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def click() -> None:
        try:
            barrier.wait()
            la_ctf.send_la_ctf(collection, world.s1, actor=user, upload_id=upload.pk)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], results.CollectionError)
    assert "These results were already sent to Home Authority" in str(errors[0])
    assert Return.objects.count() == 1


def test_a_newer_confirmed_submission_is_sent_as_the_next_file_and_replaces_the_first(world):
    collection, first = _ready(world, "phonics", pupils=3)
    open_round(world.la, "phonics")
    client = signed_in(world.person("manage_data"))
    client.post(_send_url(collection, world.s1), {"upload": first.pk})
    newer = confirmed_upload(collection, world.s1, world.person("manage_data"), seed=99)
    stale = client.post(_send_url(collection, world.s1), {"upload": first.pk}, follow=True)
    assert "has been confirmed since the page was shown, so nothing was sent" in stale.content.decode()
    assert Return.objects.count() == 1
    client.post(_send_url(collection, world.s1), {"upload": newer.pk})
    latest = Return.objects.get(current=True)
    assert latest.filename == f"{world.s1.dfe_number}_CTF_800LLLL_002.xml"
    assert Return.objects.get(current=False).status == ReturnStatus.SUPERSEDED
    with latest.file.open("rb") as stored:
        assert read_back(stored.read(), YEAR) == split_by_mapping(confirmed_results(newer), YEAR)[0]


@pytest.mark.parametrize(
    "persona", ["other_school_admin", "other_trust_admin", "other_la_data_officer", "governor", "school_anon"]
)
def test_people_who_may_not_submit_the_schools_data_are_refused(world, persona):
    collection, upload = _ready(world, "phonics", pupils=2)
    open_round(world.la, "phonics")
    response = signed_in(world.person(persona)).post(_send_url(collection, world.s1), {"upload": upload.pk})
    assert response.status_code == 403
    assert not Return.objects.exists()


def test_signed_out_or_a_get_sends_nothing(world, client):
    collection, upload = _ready(world, "phonics", pupils=2)
    open_round(world.la, "phonics")
    response = client.post(_send_url(collection, world.s1), {"upload": upload.pk})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert signed_in(world.person("manage_data")).get(_send_url(collection, world.s1)).status_code == 405
    assert not Return.objects.exists()
