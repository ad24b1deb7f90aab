"""Every page and action that exists, tried by every persona, own organisation and others'.

The expectations are written out by hand here, not derived from keystage.core.roles, so a change
to the role table that opens or closes a door shows up as a failing line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from keystage.accounts.models import Invitation, Membership
from keystage.accounts.services import invite_user
from keystage.results.models import Collection
from keystage.returns.models import ReturnRound
from tests.conftest import PERSONAS, World, signed_in
from tests.results.conftest import open_collection
from tests.returns.conftest import open_round

ALL = set(PERSONAS)
S1_READERS = {
    "school_admin",
    "manage_data",
    "school_named",
    "school_anon",
    "governor",
    "trust_admin",
    "trust_named",
    "trust_anon",
    "la_data_officer",
    "la_named",
    "la_anon",
}
TRUST_READERS = {"trust_admin", "trust_named", "trust_anon"}
LA_READERS = {"la_data_officer", "la_named", "la_anon"}


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    allowed: set[str]
    data: Callable[[World], dict] | None = None
    ok_status: int = 200


def _invitation(world: World) -> Invitation:
    admin = world.person("school_admin")
    invitation = Invitation.objects.filter(organisation=world.s1, email="pending@example.org").first()
    return invitation or invite_user(
        actor=admin,
        organisation=world.s1,
        email="pending@example.org",
        full_name="Pending",
        roles=["governor"],
    )


def _collection(world: World) -> Collection:
    return Collection.objects.filter(kind="phonics").first() or open_collection("phonics")


SUBMITTERS_FOR_S1 = {"manage_data", "trust_admin"}


def _round(world: World) -> ReturnRound:
    return ReturnRound.objects.filter(la=world.la).first() or open_round(world.la)


CASES = [
    Case(
        "organisation page: own school",
        "GET",
        lambda w: reverse("organisations:detail", args=[w.s1.pk]),
        S1_READERS,
    ),
    Case(
        "organisation page: trust",
        "GET",
        lambda w: reverse("organisations:detail", args=[w.trust.pk]),
        TRUST_READERS,
    ),
    Case(
        "organisation page: LA", "GET", lambda w: reverse("organisations:detail", args=[w.la.pk]), LA_READERS
    ),
    Case(
        "users of the school",
        "GET",
        lambda w: reverse("accounts:user_list", args=[w.s1.pk]),
        {"school_admin"},
    ),
    Case(
        "users of the trust",
        "GET",
        lambda w: reverse("accounts:user_list", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case(
        "users of the LA", "GET", lambda w: reverse("accounts:user_list", args=[w.la.pk]), {"la_data_officer"}
    ),
    Case("invite form", "GET", lambda w: reverse("accounts:invite", args=[w.s1.pk]), {"school_admin"}),
    Case(
        "send an invitation",
        "POST",
        lambda w: reverse("accounts:invite", args=[w.s1.pk]),
        {"school_admin"},
        data=lambda w: {"full_name": "New Person", "email": "new@example.org", "roles": ["school_anon"]},
        ok_status=302,
    ),
    Case(
        "a user's roles",
        "GET",
        lambda w: reverse("accounts:edit_user", args=[w.s1.pk, w.person("school_named").pk]),
        {"school_admin"},
    ),
    Case(
        "change a user's roles",
        "POST",
        lambda w: reverse("accounts:edit_user", args=[w.s1.pk, w.person("school_named").pk]),
        {"school_admin"},
        data=lambda w: {"roles": ["school_named", "governor"]},
        ok_status=302,
    ),
    Case(
        "remove access page",
        "GET",
        lambda w: reverse("accounts:revoke_user", args=[w.s1.pk, w.person("governor").pk]),
        {"school_admin"},
    ),
    Case(
        "remove access",
        "POST",
        lambda w: reverse("accounts:revoke_user", args=[w.s1.pk, w.person("governor").pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "re-send an invitation",
        "POST",
        lambda w: reverse("accounts:resend_invitation", args=[w.s1.pk, _invitation(w).pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "cancel an invitation",
        "POST",
        lambda w: reverse("accounts:cancel_invitation", args=[w.s1.pk, _invitation(w).pk]),
        {"school_admin"},
        ok_status=302,
    ),
    Case(
        "school audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.s1.pk]),
        {"school_admin"},
    ),
    Case(
        "trust audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case(
        "LA audit log",
        "GET",
        lambda w: reverse("audit:organisation_log", args=[w.la.pk]),
        {"la_data_officer"},
    ),
    Case(
        "results service homepage",
        "GET",
        lambda w: reverse("results:service_home", args=[_collection(w).pk, w.s1.pk]),
        S1_READERS,
    ),
    Case(
        "get template",
        "GET",
        lambda w: reverse("results:get_template", args=[_collection(w).pk, w.s1.pk]),
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "upload page",
        "GET",
        lambda w: reverse("results:upload", args=[_collection(w).pk, w.s1.pk]),
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "trust bulk upload",
        "GET",
        lambda w: reverse("results:bulk_upload", args=[w.trust.pk]),
        {"trust_admin"},
    ),
    Case("results collections", "GET", lambda w: reverse("results:index"), ALL),
    Case("school's LA returns", "GET", lambda w: reverse("returns:school", args=[w.s1.pk]), S1_READERS),
    Case(
        "send a file to the LA",
        "GET",
        lambda w: (_round(w), reverse("returns:send", args=[w.s1.pk]))[1],
        SUBMITTERS_FOR_S1,
    ),
    Case(
        "head teacher's confirmation",
        "GET",
        lambda w: reverse("returns:confirm", args=[w.s1.pk, _round(w).pk]),
        {"school_named"},
    ),
    Case("LA returns rounds", "GET", lambda w: reverse("returns:la", args=[w.la.pk]), {"la_data_officer"}),
    Case(
        "an LA round",
        "GET",
        lambda w: reverse("returns:round", args=[w.la.pk, _round(w).pk]),
        {"la_data_officer"},
    ),
    Case("manage uploads", "GET", lambda w: reverse("results:history"), ALL),
    Case("home page", "GET", lambda w: reverse("web:home"), ALL),
    Case("health", "GET", lambda w: reverse("web:healthz"), ALL),
]


def _request(client: Client, case: Case, world: World):
    url = case.url(world)
    if case.method == "POST":
        return client.post(url, case.data(world) if case.data else {})
    return client.get(url)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_persona_is_allowed_or_refused_as_written(world, case):
    wrong = []
    for persona in sorted(ALL):
        snapshot = list(Membership.objects.values_list("user_id", "organisation_id", "role"))
        response = _request(signed_in(world.person(persona)), case, world)
        expected = case.ok_status if persona in case.allowed else 403
        if response.status_code != expected:
            wrong.append(f"{persona}: got {response.status_code}, expected {expected}")
        if persona not in case.allowed:
            # A refused request changes nothing.
            assert list(Membership.objects.values_list("user_id", "organisation_id", "role")) == snapshot
            assert b"You do not have permission" in response.content
        elif case.method == "POST" and "remove" in case.name:
            Membership.objects.get_or_create(
                user=world.person("governor"), organisation=world.s1, role="governor"
            )
        elif case.method == "POST" and case.name == "send an invitation":
            Invitation.objects.filter(email="new@example.org").delete()
    assert not wrong, f"{case.name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name not in {"home page", "health"}], ids=lambda c: c.name
)
def test_signed_out_visitors_are_sent_to_sign_in(world, case):
    response = _request(Client(), case, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_organisations_that_do_not_exist_are_404_not_500(world):
    client = signed_in(world.person("school_admin"))
    for url in (
        reverse("organisations:detail", args=[999999]),
        reverse("accounts:user_list", args=[999999]),
        reverse("audit:organisation_log", args=[999999]),
        reverse("accounts:edit_user", args=[world.s1.pk, 999999]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Page not found" in response.content


def test_an_administrator_cannot_edit_someone_outside_their_organisation(world):
    """Editing a user who exists, but not in my school, by guessing their id: not found."""
    client = signed_in(world.person("school_admin"))
    outsider = world.person("other_school_named")
    assert client.get(reverse("accounts:edit_user", args=[world.s1.pk, outsider.pk])).status_code == 404
    response = client.post(
        reverse("accounts:edit_user", args=[world.s1.pk, outsider.pk]), {"roles": ["governor"]}
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider, organisation=world.s1).exists()


def test_platform_admin_is_for_staff_only(world, django_user_model):
    for persona in ("school_admin", "trust_admin", "la_data_officer"):
        response = signed_in(world.person(persona)).get("/admin/", follow=True)
        assert response.status_code == 403
    response = Client().get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    staff = django_user_model.objects.create_superuser(
        "staff@example.org", "x-very-long-password", full_name="S"
    )
    assert signed_in(staff).get("/admin/").status_code == 200
    assert signed_in(staff).get("/admin/organisations/school/").status_code == 200
