"""A closed school keeps its history but takes part in no new collection: its uploads are refused with
a message saying so, and the results page offers it none."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from keystage.results import services, uploading
from keystage.results.models import Upload
from tests.conftest import signed_in
from tests.results.conftest import as_file, open_collection


def _close(school):
    school.is_open, school.closed_on = False, date(2026, 3, 31)
    school.save(update_fields=["is_open", "closed_on"])


def test_a_closed_school_cannot_upload_and_is_told_why(world):
    collection = open_collection("ks4-gcse")
    _close(world.s1)
    with pytest.raises(services.CollectionError, match="School One closed on 31 March 2026"):
        uploading.upload_results(
            collection, world.s1, as_file(b"x"), filename="r.xlsx", actor=world.person("manage_data")
        )
    client = signed_in(world.person("manage_data"))
    answer = client.post(
        reverse("results:upload", args=[collection.pk, world.s1.pk]),
        {"file": as_file(b"PK\x03\x04 not really", "results.xlsx"), "agreed": "on"},
    )
    assert answer.status_code in (200, 400) and "takes part in no new collection" in answer.content.decode()
    assert not Upload.objects.exists()


def test_the_results_page_offers_a_closed_school_no_collection(world):
    collection = open_collection("ks4-gcse")
    client = signed_in(world.person("manage_data"))
    link = reverse("results:service_home", args=[collection.pk, world.s1.pk])
    assert link in client.get(reverse("results:index")).content.decode()
    _close(world.s1)
    assert link not in client.get(reverse("results:index")).content.decode()
