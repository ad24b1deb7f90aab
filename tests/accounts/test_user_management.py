"""An administrator's user list, role changes and removals, and the audit log that records them."""

from __future__ import annotations

from django.urls import reverse

from keystage.accounts.models import Membership
from keystage.audit.models import AuditAction, AuditEvent
from tests.conftest import signed_in


def test_the_user_list_shows_name_email_roles_last_sign_in_and_status(world, password):
    from django.test import Client

    Client().post("/sign-in/", {"email": world.person("school_named").email, "password": password})
    admin = signed_in(world.person("school_admin"))
    page = admin.get(reverse("accounts:user_list", args=[world.s1.pk])).content.decode()
    for persona in ("school_admin", "manage_data", "school_named", "school_anon", "governor"):
        assert world.person(persona).email in page
    assert "Named (pupil level)" in page and "Governor" in page
    assert "Never" in page  # people who have not signed in yet
    assert "Active" in page
    # People of other organisations, including the trust and LA above, are not listed as school users.
    assert world.person("trust_admin").email not in page
    assert world.person("other_school_admin").email not in page


def test_changing_roles_adds_and_removes_exactly_and_is_audited(world):
    admin = signed_in(world.person("school_admin"))
    named = world.person("school_named")
    response = admin.post(
        reverse("accounts:edit_user", args=[world.s1.pk, named.pk]), {"roles": ["school_anon", "manage_data"]}
    )
    assert response.status_code == 302
    assert sorted(Membership.objects.filter(user=named).values_list("role", flat=True)) == [
        "manage_data",
        "school_anon",
    ]
    event = AuditEvent.objects.get(action=AuditAction.ROLES_CHANGED)
    assert event.subject == named.email
    assert event.detail == {"added": ["school_anon", "manage_data"], "removed": ["school_named"]}


def test_an_administrator_cannot_remove_their_own_administrator_role_or_access(world):
    me = world.person("school_admin")
    admin = signed_in(me)
    response = admin.post(
        reverse("accounts:edit_user", args=[world.s1.pk, me.pk]), {"roles": ["school_named"]}
    )
    assert response.status_code == 400
    assert b"You cannot remove your own administrator role" in response.content
    response = admin.post(reverse("accounts:revoke_user", args=[world.s1.pk, me.pk]))
    assert response.status_code == 400
    assert b"You cannot remove your own access" in response.content
    assert Membership.objects.filter(user=me, organisation=world.s1, role="school_admin").exists()


def test_removing_access_keeps_the_account_and_roles_elsewhere(world):
    person = world.person("governor")
    Membership.objects.create(user=person, organisation=world.s3, role="governor")
    admin = signed_in(world.person("school_admin"))
    response = admin.post(reverse("accounts:revoke_user", args=[world.s1.pk, person.pk]), follow=True)
    assert b"no longer has access to School One" in response.content
    assert list(Membership.objects.filter(user=person).values_list("organisation_id", flat=True)) == [
        world.s3.pk
    ]
    assert signed_in(person).get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_REVOKED, subject=person.email).exists()


def test_roles_of_another_kind_of_organisation_cannot_be_posted(world):
    admin = signed_in(world.person("school_admin"))
    response = admin.post(
        reverse("accounts:edit_user", args=[world.s1.pk, world.person("governor").pk]),
        {"roles": ["la_named"]},
    )
    assert response.status_code == 400
    assert b"Select roles from the list" in response.content
    assert not Membership.objects.filter(role="la_named", organisation=world.s1).exists()


def test_the_audit_log_shows_the_organisations_events_only(world, password):
    from django.test import Client

    admin = signed_in(world.person("school_admin"))
    admin.post(
        reverse("accounts:invite", args=[world.s1.pk]),
        {"full_name": "Ann", "email": "ann@example.org", "roles": ["governor"]},
    )
    other = signed_in(world.person("other_school_admin"))
    other.post(
        reverse("accounts:invite", args=[world.s3.pk]),
        {"full_name": "Bob", "email": "bob@example.org", "roles": ["governor"]},
    )
    Client().post("/sign-in/", {"email": world.person("school_admin").email, "password": "wrong"})
    page = admin.get(reverse("audit:organisation_log", args=[world.s1.pk])).content.decode()
    assert "ann@example.org" in page and "Invited a user" in page and "127.0.0.1" in page
    assert "bob@example.org" not in page


def test_the_trust_administrator_manages_trust_users_and_sees_the_trust_log(world):
    trust_admin = signed_in(world.person("trust_admin"))
    response = trust_admin.post(
        reverse("accounts:invite", args=[world.trust.pk]),
        {"full_name": "Tia", "email": "tia@example.org", "roles": ["trust_anon"]},
    )
    assert response.status_code == 302
    log = trust_admin.get(reverse("audit:organisation_log", args=[world.trust.pk])).content.decode()
    assert "tia@example.org" in log
    form = trust_admin.get(reverse("accounts:invite", args=[world.trust.pk])).content.decode()
    assert "Trust named (pupil level)" in form and "Governor" not in form


def test_the_audit_log_shows_its_own_peoples_sign_ins_but_not_others(world, password):
    from django.test import Client

    Client().post("/sign-in/", {"email": world.person("governor").email, "password": password})
    Client().post("/sign-in/", {"email": world.person("school_named").email, "password": "wrong"})
    Client().post("/sign-in/", {"email": world.person("other_school_admin").email, "password": password})
    page = signed_in(world.person("school_admin")).get(reverse("audit:organisation_log", args=[world.s1.pk]))
    content = page.content.decode()
    assert "Signed in" in content and world.person("governor").email in content
    assert "Sign-in failed" in content and world.person("school_named").email in content
    assert world.person("other_school_admin").email not in content
