"""An administrator's user list, role changes and removals, and the audit log that records them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from keystage.accounts.models import Membership
from keystage.audit.models import AuditAction, AuditEvent
from tests.conftest import signed_in
from tests.factories import member


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
    # Sign-ins belong to a person, not to one of their organisations: platform staff see them.
    assert "Sign-in failed" not in page
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, organisation=None).count() == 1


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


def test_an_administrator_acting_on_stale_roles_is_refused(world):
    """Two administrators removing each other at once: the second finds it no longer may."""
    from django.core.exceptions import PermissionDenied

    from keystage.accounts import policy, services

    first = world.person("school_admin")
    second = member("school_admin", world.s1, email="second-admin@example.org")
    policy.held_roles(second)  # the second administrator's request has already read their roles
    services.revoke_access(actor=first, organisation=world.s1, user=second)
    with pytest.raises(PermissionDenied):
        services.revoke_access(actor=second, organisation=world.s1, user=first)
    assert Membership.objects.filter(user=first, organisation=world.s1, role="school_admin").exists()


def test_invitations_lapse_when_their_sender_loses_the_administrator_role(world):
    from keystage.accounts import services
    from keystage.accounts.models import Invitation
    from keystage.accounts.tokens import InvitationLinkError, invitation_from_token, invitation_token

    departing = member("school_admin", world.s1, email="departing@example.org")
    pending = services.invite_user(
        actor=departing,
        organisation=world.s1,
        email="friend@example.org",
        full_name="F",
        roles=["school_admin"],
    )
    token = invitation_token(pending)
    services.revoke_access(actor=world.person("school_admin"), organisation=world.s1, user=departing)
    with pytest.raises(InvitationLinkError, match="cancelled"):
        invitation_from_token(token)
    assert Invitation.objects.get(pk=pending.pk).cancelled_at is not None


def test_an_invitation_whose_sender_was_demoted_elsewhere_cannot_be_accepted(world):
    """Even if it was not cancelled (e.g. the sender's roles changed in the admin), acceptance checks."""
    from keystage.accounts import services

    sender = member("school_admin", world.s1, email="sender@example.org")
    pending = services.invite_user(
        actor=sender, organisation=world.s1, email="friend@example.org", full_name="F", roles=["school_named"]
    )
    Membership.objects.filter(user=sender).delete()  # as platform staff might, in the admin
    from django.test import Client

    from keystage.accounts.tokens import invitation_token

    page = Client().get(reverse("accounts:accept_invitation", args=[invitation_token(pending)]))
    assert page.status_code == 400 and b"no longer manages users here" in page.content
    with pytest.raises(services.ActionRefusedError, match="no longer manages users here"):
        services.accept_invitation(
            invitation=pending, user=None, full_name="F", password="a-long-fresh-pass-42"
        )
    assert not Membership.objects.filter(user__email="friend@example.org").exists()


def test_only_one_open_invitation_per_person_even_if_two_requests_race(world):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from keystage.accounts.models import Invitation

    def open_invitation():
        return Invitation.objects.create(
            email="twice@example.org",
            full_name="T",
            organisation=world.s1,
            roles=["governor"],
            invited_by=world.person("school_admin"),
            expires_at=timezone.now(),
        )

    open_invitation()
    with pytest.raises(IntegrityError), transaction.atomic():
        open_invitation()


def test_an_expired_invitation_makes_way_for_a_new_one(world):
    from datetime import timedelta

    from django.utils import timezone

    from keystage.accounts import services
    from keystage.accounts.models import Invitation

    admin = world.person("school_admin")
    old = services.invite_user(
        actor=admin, organisation=world.s1, email="late@example.org", full_name="L", roles=["governor"]
    )
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    fresh = services.invite_user(
        actor=admin, organisation=world.s1, email="late@example.org", full_name="L", roles=["governor"]
    )
    assert fresh.pk != old.pk and fresh.is_pending
    assert Invitation.objects.get(pk=old.pk).cancelled_at is not None


def test_a_role_of_the_wrong_kind_cannot_be_held_or_grant_anything(world):
    from django.core.exceptions import ValidationError

    from keystage.accounts import policy
    from keystage.core.roles import Action

    wrong = Membership(user=world.person("governor"), organisation=world.s1, role="trust_admin")
    with pytest.raises(ValidationError, match="Trust administrator is a multi-academy trust role"):
        wrong.full_clean()
    wrong.save()  # as if it got past the admin somehow
    policy.forget_roles(world.person("governor"))
    assert not policy.can(world.person("governor"), Action.MANAGE_USERS, world.s1)
