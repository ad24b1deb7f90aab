"""Platform staff see LA returns in the admin; what schools sent and signed cannot be edited there."""

from __future__ import annotations

import pytest

from keystage.returns import services
from tests.conftest import signed_in
from tests.returns.conftest import as_file, open_round

MODELS = ["returnround", "return", "headteacherconfirmation", "correctionrequest", "publishedreport"]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        "staff@example.org", "x-long-password-1", full_name="Staff"
    )


def test_staff_see_every_list_and_record_but_cannot_edit_what_schools_sent(world, staff):
    round_ = open_round(world.la, "census")
    sent = services.send_return(
        world.s1,
        tag="census",
        source=as_file(b"c", "c.csv"),
        filename="c.csv",
        actor=world.person("manage_data"),
    )
    client = signed_in(staff)
    for model in MODELS:
        page = client.get(f"/admin/returns/{model}/")
        assert page.status_code == 200, model
    assert "c.csv" in client.get("/admin/returns/return/").content.decode()
    detail = client.get(f"/admin/returns/return/{sent.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/returns/return/add/").status_code == 403
    assert client.post(f"/admin/returns/return/{sent.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"/admin/returns/returnround/{round_.pk}/change/").status_code == 200
