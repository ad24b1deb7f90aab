"""An LA's return is asked of the schools with its year groups: a KS1 round counts and chases the
LA's schools with Year 2 (primary, infant, all-through), not its secondaries, juniors or closed
schools; a secondary is told why it cannot send one, and its head is not asked to confirm it."""

from __future__ import annotations

from datetime import date

from django.urls import reverse

from keystage.returns import pages, services
from keystage.returns.errors import ReturnsError
from keystage.returns.models import HeadTeacherConfirmation, Return
from tests.conftest import signed_in
from tests.factories import SchoolFactory, member
from tests.returns.conftest import YEAR, as_file, ctf, on_roll, open_round, upn
from tests.returns.test_pages import confirmation_data, text


def _more_schools(world):
    la = world.la
    return {
        "infant": SchoolFactory(
            urn="100101",
            dfe_number="8003001",
            name="Brook Infant School",
            la=la,
            phase="primary",
            statutory_low_age=4,
            statutory_high_age=7,
        ),
        "junior": SchoolFactory(
            urn="100102",
            dfe_number="8003002",
            name="Brook Junior School",
            la=la,
            phase="primary",
            statutory_low_age=7,
            statutory_high_age=11,
        ),
        "middle": SchoolFactory(
            urn="100103",
            dfe_number="8003003",
            name="Hill Middle School",
            la=la,
            phase="middle",
            statutory_low_age=9,
            statutory_high_age=13,
        ),
        "closed": SchoolFactory(
            urn="100104",
            dfe_number="8003004",
            name="Old Lane Primary",
            la=la,
            phase="primary",
            statutory_low_age=4,
            statutory_high_age=11,
            is_open=False,
            closed_on=date(YEAR - 1, 8, 31),
        ),
    }


def test_a_ks1_round_lists_and_counts_only_the_schools_with_year_2(world):
    more = _more_schools(world)
    round_ = open_round(world.la, "ks1")
    assert [s.name for s in pages.round_schools(round_)] == [
        "Brook Infant School",
        "School One",
        "School Two",
    ]

    officer = signed_in(world.person("la_data_officer"))
    page = text(officer.get(reverse("returns:round", args=[world.la.pk, round_.pk])))
    assert "0 of 3 have sent a file" in page
    for absent in ("School Three", more["junior"].name, more["middle"].name, more["closed"].name):
        assert absent not in page
    listing = text(officer.get(reverse("returns:la", args=[world.la.pk])))
    assert "0 of 3" in listing

    # KS2 TA is for the juniors and the middle school too (Year 6), and the census for every open school.
    ks2 = open_round(world.la, "ks2-ta")
    assert {s.name for s in pages.round_schools(ks2)} == {
        "School One",
        "School Two",
        "Brook Junior School",
        "Hill Middle School",
    }
    census = open_round(world.la, "census", deadline=date(YEAR, 5, 31))
    assert len(pages.round_schools(census)) == 6  # every open school of the LA, not the closed one


def test_a_secondary_is_told_why_it_cannot_send_a_ks1_return_and_its_head_is_not_asked_to_confirm(world):
    round_ = open_round(world.la, "ks1")
    secondary = world.s3  # 11 to 18 by its phase
    sender = member("manage_data", secondary, email="data@three.example", full_name="Data Three")
    client = signed_in(sender)
    form = text(client.get(reverse("returns:send", args=[secondary.pk])))
    assert "KS1" not in form.split("<form", 1)[-1].split("</form>", 1)[0]
    refused = client.post(
        reverse("returns:send", args=[secondary.pk]),
        {"tag": "ks1", "file": as_file(b"<CTfile/>", "ks1.xml"), "comment": ""},
    )
    assert refused.status_code == 400 and not Return.objects.exists()

    head = signed_in(world.person("other_school_named"))  # School Three's head
    returns_page = text(head.get(reverse("returns:school", args=[secondary.pk])))
    assert "Confirm" not in returns_page and str(round_) not in returns_page
    answer = head.post(reverse("returns:confirm", args=[secondary.pk, round_.pk]), confirmation_data())
    assert answer.status_code == 400 and "is for schools with Year 2" in text(answer)
    assert not HeadTeacherConfirmation.objects.exists()

    try:
        services.round_for_sending(secondary, round_.tag_info)
    except ReturnsError as error:
        assert str(error).startswith("The KS1 ") and "is for schools with Year 2" in str(error)
        assert "School Three teaches Years 7 to 13" in str(error)
    else:
        raise AssertionError("a secondary was allowed to send a KS1 return")


def test_a_school_that_sent_stays_in_the_round_when_its_age_range_changes(world):
    round_ = open_round(world.la)  # phonics
    primary = world.s2
    sender = member("manage_data", primary, email="data@two.example", full_name="Data Two")
    on_roll(primary, 1)
    services.send_return(
        primary,
        tag="phonics",
        source=as_file(ctf(primary, [(upn(primary, 1), "Pupil1", "33")]), "phonics.xml"),
        filename="phonics.xml",
        comment="",
        actor=sender,
    )
    primary.phase, primary.statutory_low_age, primary.statutory_high_age = "secondary", 11, 16
    primary.save()
    assert primary in pages.round_schools(round_)
    counted = next(row for row in pages.la_rounds(world.la) if row.round == round_)
    assert (counted.sent, counted.schools) == (1, 2)
