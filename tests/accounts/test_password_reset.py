"""People help themselves: "Forgotten your password?" emails a signed link that works once and for an
hour; asking answers the same whether or not the address has an account, is throttled and audited;
and a new password signs nobody in: two-factor is still asked at the next sign-in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.management import call_command
from django.test import Client

from keystage.accounts.models import SignInThrottle
from keystage.audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)  # the email is sent by the worker

FORGOTTEN = "/sign-in/forgotten-password/"
NEW_PASSWORD = "a-brand-new-passphrase-42"


def _ask(client: Client, email: str):
    return client.post(FORGOTTEN, {"email": email})


def _worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def _link() -> str:
    (sent,) = mail.outbox
    return re.search(r"https?://\S+(/sign-in/new-password/\S+/)", sent.body).group(1)


def test_a_person_resets_a_forgotten_password_and_then_signs_in_with_two_factor(world, password):
    person = world.person("school_named")  # sees pupils' names: owes a two-factor code
    client = Client()
    assert "Forgotten your password?" in client.get("/sign-in/").content.decode()
    asked = _ask(client, person.email.upper())
    assert asked.status_code == 302 and asked["Location"] == "/sign-in/forgotten-password/sent/"
    assert "If there is a keystage account for that address" in client.get(asked["Location"]).content.decode()
    _worker()
    assert mail.outbox[0].to == [person.email] and "works once" in mail.outbox[0].body
    link = _link()

    form = client.get(link)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    mismatch = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "The two passwords do not match" in mismatch.content.decode()
    weak = client.post(link, {"new_password1": "1234567890", "new_password2": "1234567890"})
    assert weak.status_code == 400 and "too common" in weak.content.decode()
    done = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert "Your password has been changed. Sign in with your new password." in done.content.decode()
    assert "_auth_user_id" not in client.session  # the link signs nobody in
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET, actor=person).count() == 1

    # The link works once; the old password no longer works, the new one does, and asks for the code.
    used = client.get(link)
    assert used.status_code == 400 and "This link does not work" in used.content.decode()
    old = client.post("/sign-in/", {"email": person.email, "password": password})
    assert old.status_code == 400
    signed = client.post("/sign-in/", {"email": person.email, "password": NEW_PASSWORD})
    assert signed.status_code == 302 and "/sign-in/two-factor/" in signed["Location"]


def test_asking_answers_the_same_for_an_unknown_address_and_sends_nothing(world):
    client = Client()
    unknown = _ask(client, "nobody@example.org")
    known = _ask(client, world.person("manage_data").email)
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    _worker()
    assert [m.to for m in mail.outbox] == [[world.person("manage_data").email]]
    asked = AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED).order_by("pk")
    assert [(e.actor_email, e.detail["link_sent"]) for e in asked] == [
        ("nobody@example.org", False),
        (world.person("manage_data").email, True),
    ]
    assert _ask(client, "not an address").status_code == 400


def test_asking_is_throttled_per_account_so_no_inbox_is_flooded(world, settings):
    settings.KEYSTAGE_PASSWORD_RESETS_PER_ACCOUNT = 3
    client = Client()
    email = world.person("manage_data").email
    answers = {_ask(client, email)["Location"] for _ in range(5)}
    assert answers == {"/sign-in/forgotten-password/sent/"}  # the same answer every time
    _worker()
    assert len(mail.outbox) == 3
    assert (
        AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED, detail__throttled=True).count()
        == 2
    )


def test_an_expired_or_altered_link_does_not_work_and_a_reset_unlocks_the_account(
    world, monkeypatch, throttle_clock
):
    person = world.person("school_anon")
    client = Client()
    for _ in range(6):  # locked out by failed sign-ins, each after the slow-down's wait
        client.post("/sign-in/", {"email": person.email, "password": "wrong-password"})
        throttle_clock.wait(60)
    assert (
        "too many failed attempts"
        in client.post("/sign-in/", {"email": person.email, "password": "wrong-password"}).content.decode()
    )
    _ask(client, person.email)
    _worker()
    link = _link()
    uid, token = link.rstrip("/").split("/")[-2:]
    assert client.get(f"/sign-in/new-password/{uid}/{token[:-1]}x/").status_code == 400
    later = datetime.now() + timedelta(hours=1, minutes=1)
    with monkeypatch.context() as m:
        m.setattr(default_token_generator, "_now", lambda: later)
        assert "This link does not work" in client.get(link).content.decode()
    client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert SignInThrottle.objects.get(key=f"account:{person.email}").attempts == 0
    assert client.post("/sign-in/", {"email": person.email, "password": NEW_PASSWORD}).status_code == 302
