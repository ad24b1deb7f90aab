"""The demo: every role has a person, and loading twice changes nothing."""

from __future__ import annotations

from datetime import date

from django.core.management import call_command
from django.test import Client

from keystage.accounts.models import Membership, User
from keystage.core.roles import Role
from keystage.organisations.models import LocalAuthority, School, Trust
from keystage.web.demo import DEMO_PASSWORD, load_demo


def _counts():
    from keystage.pupils.models import Pupil

    return (
        Pupil.objects.count(),
        list(Pupil.objects.order_by("upn").values_list("upn", "surname", "on_roll")),
        LocalAuthority.objects.count(),
        Trust.objects.count(),
        School.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
        list(User.objects.order_by("email").values_list("email", "password")),
    )


def test_the_demo_has_one_la_a_trust_of_three_and_three_more_schools_and_every_role(db):
    load_demo()
    la = LocalAuthority.objects.get()
    trust = Trust.objects.get()
    assert trust.schools().count() == 3
    assert la.schools().filter(trust__isnull=True).count() == 3
    assert {s.phase for s in School.objects.all()} >= {"primary", "secondary"}
    assert set(Membership.objects.values_list("role", flat=True)) == {r.value for r in Role}
    assert User.objects.filter(is_staff=True).exists()


def test_loading_the_demo_twice_changes_nothing(db, capsys):
    call_command("demo", "--no-serve")
    first = _counts()
    call_command("demo", "--no-serve")
    assert _counts() == first
    printed = capsys.readouterr().out
    assert DEMO_PASSWORD in printed and "head@oakfield-academy.example" in printed


def test_a_demo_person_can_sign_in_with_the_printed_password(db, settings):
    settings.KEYSTAGE_TWO_FACTOR = "off"  # as `keystage demo` serves: its people have no phones
    load_demo()
    client = Client()
    response = client.post("/sign-in/", {"email": "head@oakfield-academy.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "Oakfield Academy" in client.get("/").content.decode()


def test_every_demo_school_has_a_realistic_roll_of_pupils(db):
    from keystage.pupils.models import Pupil
    from keystage.web.demo import current_academic_year, load_demo_rosters

    load_demo()
    assert load_demo_rosters() > 500
    year = current_academic_year()
    for school in School.objects.all():
        roll = Pupil.objects.filter(school=school, academic_year=year)
        assert roll.count() >= 100, school.name
        expected = {11} if school.phase in {"secondary", "special"} else {0, 1, 2, 4, 6}
        assert set(roll.values_list("nc_year", flat=True).distinct()) == expected
    assert (
        current_academic_year(date(2026, 11, 22)) == 2027 and current_academic_year(date(2026, 7, 1)) == 2026
    )
