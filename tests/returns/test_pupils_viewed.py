"""Pages of LA returns that show pupils (a checked CTF's problems name them; the movers list them) record
who saw which return's pupils, as every page of pupil-level data does; a page showing none records
nothing, and people of other organisations are refused before anything is read or recorded."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from keystage.audit.models import AuditAction, AuditEvent
from keystage.returns import services
from keystage.returns.checking import validate_return
from keystage.returns.models import Return
from tests.conftest import signed_in
from tests.factories import member
from tests.returns.conftest import YEAR, as_file, ctf, on_roll, open_round, teaching_primary, upn


def viewed():
    return list(AuditEvent.objects.filter(action=AuditAction.PUPILS_VIEWED).order_by("id"))


def checked(world, data: bytes, *, tag="phonics", name="phonics.xml") -> Return:
    sent = services.send_return(
        world.s1, tag=tag, source=as_file(data, name), filename=name, actor=world.person("manage_data")
    )
    return validate_return(sent.pk) or sent


@pytest.fixture
def with_problems(world) -> Return:
    """School One's CTF with two pupils' errors (one has no mark, one a mark that is not one)."""
    open_round(world.la)
    return checked(world, ctf(world.s1, [(upn(world.s1, 1), "Ann", "44"), (upn(world.s1, 2), "Bea", "x")]))


def pages_of(world, sent: Return) -> dict[str, str]:
    return {
        "school": reverse("returns:school", args=[world.s1.pk]),
        "detail": reverse("returns:return_detail", args=[sent.pk]),
        "round_school": reverse("returns:round_school", args=[world.la.pk, sent.round_id, world.s1.pk]),
    }


@pytest.mark.parametrize(
    ("persona", "page"),
    [
        ("manage_data", "school"),
        ("school_named", "school"),
        ("la_data_officer", "school"),
        ("manage_data", "detail"),
        ("la_data_officer", "detail"),
        ("la_data_officer", "round_school"),
    ],
)
def test_a_permitted_viewer_of_a_returns_problems_is_recorded_with_the_return(
    world, with_problems, persona, page
):
    sent = with_problems
    assert any(i.get("pupil") for i in sent.issues)  # the problems name their pupils
    before = {e.pk for e in viewed()}
    person = world.person(persona)
    response = signed_in(person).get(pages_of(world, sent)[page])
    assert response.status_code == 200 and f"UPN {upn(world.s1, 2)}, Brown, Bea" in response.content.decode()
    added = [e for e in viewed() if e.pk not in before]
    assert len(added) == 1
    record = added[0]
    assert record.actor_id == person.pk and record.organisation_id == world.s1.pk
    assert str(sent.round) in record.subject and "phonics.xml" in record.subject
    assert record.detail["sent_return"] == sent.pk


def test_a_return_whose_problems_name_no_pupil_records_nothing(world):
    open_round(world.la)
    on_roll(world.s1, 1)
    clean = checked(world, ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "33")]))
    assert clean.validation == "valid" and not clean.issues
    for persona, url in (
        ("manage_data", reverse("returns:school", args=[world.s1.pk])),
        ("manage_data", reverse("returns:return_detail", args=[clean.pk])),
        ("la_data_officer", reverse("returns:round_school", args=[world.la.pk, clean.round_id, world.s1.pk])),
    ):
        assert signed_in(world.person(persona)).get(url).status_code == 200
    # A file refused as a whole (not a CTF) shows its problem, which names no pupil.
    refused = checked(world, b"upn,mark\nA1,33\n", name="phonics.csv")
    assert refused.issues and all(i["row"] is None and not i["pupil"] for i in refused.issues)
    page = signed_in(world.person("manage_data")).get(reverse("returns:school", args=[world.s1.pk]))
    assert "Whole file" in page.content.decode()
    detail = signed_in(world.person("manage_data")).get(reverse("returns:return_detail", args=[refused.pk]))
    assert detail.status_code == 200 and "Whole file" in detail.content.decode()
    open_round(world.la, "census")
    checked(world, b"%PDF-1.4 census", tag="census", name="census.pdf")  # no check, no problems
    assert (
        signed_in(world.person("manage_data")).get(reverse("returns:school", args=[world.s1.pk])).status_code
        == 200
    )
    assert viewed() == []


def test_school_people_who_see_no_files_see_no_problems_and_are_not_recorded(world, with_problems):
    for persona in ("governor", "school_anon"):
        page = signed_in(world.person(persona)).get(reverse("returns:school", args=[world.s1.pk]))
        assert page.status_code == 200 and "Brown, Bea" not in page.content.decode()
    assert viewed() == []


@pytest.mark.parametrize(
    "persona",
    [
        "other_school_admin",
        "other_school_named",
        "other_trust_admin",
        "other_la_data_officer",
        "other_la_named",
    ],
)
def test_other_organisations_people_are_refused_the_problems_and_nothing_is_recorded(
    world, with_problems, persona
):
    client = signed_in(world.person(persona))
    for name, url in pages_of(world, with_problems).items():
        response = client.get(url)
        assert response.status_code == 403, name
        assert "Brown, Bea" not in response.content.decode()
    assert client.get(reverse("returns:checking", args=[world.s1.pk])).status_code == 403
    assert viewed() == []


def test_the_las_look_at_pupils_two_schools_returned_is_recorded(world):
    round_ = open_round(world.la)
    url = reverse("returns:round", args=[world.la.pk, round_.pk])
    officer = world.person("la_data_officer")
    assert signed_in(officer).get(url).status_code == 200
    assert viewed() == []  # no pupil returned twice: none shown
    s1, s3 = world.s1, teaching_primary(world.s3)
    on_roll(s3, 1, issued_by=s3, joined=date(YEAR - 1, 9, 3), left=date(YEAR, 6, 12))
    on_roll(s1, 1, issued_by=s3, joined=date(YEAR, 6, 15))
    s3_sender = member("manage_data", s3, email="data@school-three.example", full_name="Sam Three")
    for school, sender in ((s3, s3_sender), (s1, world.person("manage_data"))):
        sent = services.send_return(
            school,
            tag="phonics",
            source=as_file(ctf(school, [(upn(s3, 1), "Pupil1", "33")])),
            filename="phonics.xml",
            actor=sender,
        )
        validate_return(sent.pk)
    page = signed_in(officer).get(url)
    assert page.status_code == 200 and "Pupil1 Brown" in page.content.decode()
    [record] = viewed()
    assert record.actor_id == officer.pk and record.organisation_id == world.la.pk
    assert str(round_) in record.subject and record.detail["pupils"] == 1
    assert signed_in(world.person("other_la_data_officer")).get(url).status_code == 403
    assert len(viewed()) == 1
