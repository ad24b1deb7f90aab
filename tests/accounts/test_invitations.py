"""Inviting a person, the email with its link, and accepting it: once, in time, untampered."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keystage.accounts.models import Invitation, Membership, User
from keystage.accounts.tokens import invitation_token
from keystage.audit.models import AuditAction, AuditEvent
from tests.conftest import signed_in

# Real commits: the email is queued on commit and the real worker takes it from the database.
pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-long-fresh-password-42"


def _invite(client, world, email="new.teacher@example.org", roles=("school_anon",)):
    return client.post(
        reverse("accounts:invite", args=[world.s1.pk]),
        {"full_name": "New Teacher", "email": email, "roles": list(roles)},
    )


def _run_worker():
    """The real worker, in batch mode: runs what is queued, then stops."""
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def _link_from_email() -> str:
    assert mail.outbox, "no email was sent"
    match = re.search(r"https?://\S+/invitations/(\S+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return reverse("accounts:accept_invitation", args=[match.group(1)])


@pytest.fixture
def admin_client(world):
    return signed_in(world.person("school_admin"))


def test_the_invitation_is_emailed_by_the_worker_after_the_request_returns(world, admin_client):
    response = _invite(admin_client, world)
    assert response.status_code == 302
    assert mail.outbox == []  # the web request only queues the email
    _run_worker()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.teacher@example.org"]
    assert "School One" in message.subject
    assert "Anonymised" in message.body
    assert Invitation.objects.get().emailed_at is not None
    event = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT)
    assert event.actor == world.person("school_admin") and event.organisation_id == world.s1.pk
    assert event.subject == "new.teacher@example.org" and event.detail == {"roles": ["school_anon"]}


def test_a_new_person_accepts_sets_a_password_and_gets_exactly_the_roles(world, admin_client, client):
    _invite(admin_client, world, roles=["school_anon", "governor"])
    _run_worker()
    link = _link_from_email()
    page = client.get(link)
    assert page.status_code == 200 and b"Set up your account" in page.content
    response = client.post(
        link, {"full_name": "Nadia Teacher", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.teacher@example.org")
    assert user.full_name == "Nadia Teacher"
    assert sorted(Membership.objects.filter(user=user).values_list("role", flat=True)) == [
        "governor",
        "school_anon",
    ]
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_ACCEPTED, actor=user).exists()


def test_a_used_invitation_link_is_refused_the_second_time(world, admin_client, client):
    _invite(admin_client, world)
    _run_worker()
    link = _link_from_email()
    client.post(link, {"full_name": "N", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    again = signed_in(world.person("school_named")).get(link)
    assert again.status_code == 400
    assert b"already been used" in again.content
    assert Membership.objects.filter(user__email="new.teacher@example.org").count() == 1


def test_an_expired_invitation_is_refused_with_a_clear_message(world, admin_client, client):
    _invite(admin_client, world)
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(reverse("accounts:accept_invitation", args=[invitation_token(invitation)]))
    assert response.status_code == 400
    assert b"This invitation has expired" in response.content
    post = client.post(
        reverse("accounts:accept_invitation", args=[invitation_token(invitation)]),
        {"full_name": "N", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert post.status_code == 400
    assert not User.objects.filter(email="new.teacher@example.org").exists()


def test_a_link_older_than_its_signature_allows_is_expired_even_if_the_row_says_otherwise(
    world, admin_client, client, settings
):
    _invite(admin_client, world)
    token = invitation_token(Invitation.objects.get())
    settings.KEYSTAGE_INVITATION_DAYS = 0
    response = client.get(reverse("accounts:accept_invitation", args=[token]))
    assert response.status_code == 400 and b"expired" in response.content


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: "x" + t, lambda t: "not-a-token"],
)
def test_a_tampered_link_is_refused_and_creates_nothing(world, admin_client, client, mangle):
    _invite(admin_client, world)
    token = mangle(invitation_token(Invitation.objects.get()))
    response = client.get(reverse("accounts:accept_invitation", args=[token]))
    assert response.status_code == 400
    assert b"This invitation link is not valid" in response.content
    response = client.post(
        reverse("accounts:accept_invitation", args=[token]),
        {"full_name": "N", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="new.teacher@example.org").exists()


def test_resending_replaces_the_link_and_the_old_one_stops_working(world, admin_client, client):
    _invite(admin_client, world)
    _run_worker()
    old_link = _link_from_email()
    invitation = Invitation.objects.get()
    admin_client.post(reverse("accounts:resend_invitation", args=[world.s1.pk, invitation.pk]))
    _run_worker()
    new_link = _link_from_email()
    assert new_link != old_link
    assert len(mail.outbox) == 2
    old = client.get(old_link)
    assert old.status_code == 400 and b"replaced by a newer one" in old.content
    assert client.get(new_link).status_code == 200


def test_a_cancelled_invitation_cannot_be_accepted(world, admin_client, client):
    _invite(admin_client, world)
    invitation = Invitation.objects.get()
    admin_client.post(reverse("accounts:cancel_invitation", args=[world.s1.pk, invitation.pk]))
    response = client.get(reverse("accounts:accept_invitation", args=[invitation_token(invitation)]))
    assert response.status_code == 400 and b"cancelled" in response.content
    _run_worker()
    assert mail.outbox == []  # the queued email for a cancelled invitation is not sent


def test_an_existing_account_signs_in_then_accepts(world, admin_client):
    existing = world.person("other_school_named")  # works at another school, now invited here too
    _invite(admin_client, world, email=existing.email.upper(), roles=["school_named"])
    link = reverse("accounts:accept_invitation", args=[invitation_token(Invitation.objects.get())])
    from django.test import Client

    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    own = signed_in(existing)
    assert b"Accept invitation" in own.get(link).content
    assert own.post(link).status_code == 302
    assert set(Membership.objects.filter(user=existing).values_list("organisation_id", flat=True)) == {
        world.s3.pk,
        world.s1.pk,
    }


def test_someone_signed_in_as_another_person_cannot_take_the_invitation(world, admin_client):
    _invite(admin_client, world)
    link = reverse("accounts:accept_invitation", args=[invitation_token(Invitation.objects.get())])
    intruder = signed_in(world.person("governor"))
    response = intruder.post(link)
    assert response.status_code == 403
    assert b"This invitation is for new.teacher@example.org" in response.content
    assert Invitation.objects.get().accepted_at is None


def test_double_clicking_accept_grants_the_roles_once(world, admin_client):
    existing = world.person("other_school_admin")
    _invite(admin_client, world, email=existing.email, roles=["governor"])
    link = reverse("accounts:accept_invitation", args=[invitation_token(Invitation.objects.get())])
    own = signed_in(existing)
    first, second = own.post(link), own.post(link)
    assert first.status_code == 302
    assert second.status_code == 400 and b"already been used" in second.content
    assert Membership.objects.filter(user=existing, organisation=world.s1).count() == 1


def test_weak_or_mismatched_passwords_are_explained_and_nothing_is_created(world, admin_client, client):
    _invite(admin_client, world)
    link = reverse("accounts:accept_invitation", args=[invitation_token(Invitation.objects.get())])
    weak = client.post(link, {"full_name": "N", "password": "password", "password_again": "password"})
    assert weak.status_code == 400
    assert b"This password is too short" in weak.content or b"too common" in weak.content
    mismatch = client.post(
        link, {"full_name": "N", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"}
    )
    assert b"The passwords do not match" in mismatch.content
    assert not User.objects.filter(email="new.teacher@example.org").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"full_name": "A", "email": "not-an-email", "roles": ["governor"]},
            b"Enter an email address in the correct",
        ),
        (
            {"full_name": "", "email": "a@example.org", "roles": ["governor"]},
            b"Enter the person&#x27;s full name",
        ),
        ({"full_name": "A", "email": "a@example.org"}, b"Select at least one role"),
        (
            {"full_name": "A", "email": "a@example.org", "roles": ["trust_admin"]},
            b"Select roles from the list",
        ),
        ({"full_name": "A", "email": "a@example.org", "roles": ["superuser"]}, b"Select roles from the list"),
    ],
)
def test_bad_invitation_input_is_explained_not_a_500(world, admin_client, data, message):
    response = admin_client.post(reverse("accounts:invite", args=[world.s1.pk]), data)
    assert response.status_code == 400
    assert message in response.content
    assert b"There is a problem" in response.content
    assert not Invitation.objects.exists()


def test_inviting_someone_who_already_has_access_or_an_invitation_is_refused_clearly(world, admin_client):
    colleague = world.person("school_named")
    response = _invite(admin_client, world, email=colleague.email.upper())
    assert response.status_code == 400
    assert f"{colleague.email} already has access to School One".encode() in response.content
    _invite(admin_client, world)
    again = _invite(admin_client, world)
    assert again.status_code == 400 and b"has already been invited" in again.content
    assert Invitation.objects.count() == 1


def test_the_plain_text_email_is_not_html_escaped(world):
    world.s1.name = "St Mary's & All Saints"
    world.s1.save()
    from keystage.accounts.services import invite_user

    invite_user(
        actor=world.person("school_admin"),
        organisation=world.s1,
        email="o@example.org",
        full_name="Siobhan O'Brien",
        roles=["governor"],
    )
    _run_worker()
    body = mail.outbox[-1].body
    assert "Hello Siobhan O'Brien" in body and "St Mary's & All Saints" in body
    assert "&#x27;" not in body and "&amp;" not in body


def test_a_deactivated_account_is_told_plainly_instead_of_being_sent_to_sign_in(world, admin_client):
    existing = world.person("other_school_named")
    _invite(admin_client, world, email=existing.email, roles=["governor"])
    existing.is_active = False
    existing.save()
    link = reverse("accounts:accept_invitation", args=[invitation_token(Invitation.objects.get())])
    from django.test import Client

    response = Client().get(link)
    assert response.status_code == 403
    assert b"has been deactivated" in response.content
