"""Signing in and out: clear messages, throttling after repeated failures, and an audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from keystage.accounts.models import SignInThrottle, User
from keystage.audit.models import AuditAction, AuditEvent

SIGN_IN = "/sign-in/"


def _try(client: Client, email: str, password: str, **extra):
    return client.post(SIGN_IN, {"email": email, "password": password}, **extra)


SLOWED = re.compile(rb"sign-in is slowed down\. Wait (\d+) seconds?")


def _try_patiently(client: Client, email: str, password: str, clock, **extra):
    """As a person, or a patient guesser, would: wait out each slow-down (never the lock) and try."""
    while match := SLOWED.search((response := _try(client, email, password, **extra)).content):
        clock.wait(int(match[1]))
    return response


def test_the_configured_password_hasher_is_argon2():
    """The settings module itself, not the fast hasher the other tests swap in."""
    import keystage.settings

    assert keystage.settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.django_db
def test_passwords_are_stored_as_argon2_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = User.objects.create_user("argon@example.org", "a-long-password-1", full_name="A")
    assert user.password.startswith("argon2$")


def test_a_person_signs_in_with_any_case_of_their_email_and_lands_home(world, password):
    client = Client()
    # A teacher with anonymised reports: no two-factor code owed, so the password is all.
    response = _try(client, world.person("school_anon").email.upper(), password)
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    home = client.get(reverse("web:home"))
    assert b"School One" in home.content
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_SUCCEEDED, actor=world.person("school_anon")
    ).exists()


def test_a_wrong_password_gets_one_plain_message_that_does_not_reveal_accounts(world):
    client = Client()
    wrong = _try(client, world.person("school_admin").email, "not-the-password")
    unknown = _try(client, "nobody@example.org", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert b"Enter a correct email address and password" in response.content
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert sorted(failures.values_list("actor_email", flat=True)) == [
        "nobody@example.org",
        world.person("school_admin").email,
    ]
    assert all(e.ip_address == "127.0.0.1" for e in failures)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "password": "x"}, b"Enter your email address"),
        ({"email": "not an email", "password": "x"}, b"Enter an email address in the correct format"),
        ({"email": "a@example.org", "password": ""}, b"Enter your password"),
        (
            {"email": "a" * 250 + "@example.org", "password": "x"},
            b"Email address must be 254 characters or fewer",
        ),
    ],
)
def test_malformed_sign_in_input_is_explained(db, data, message):
    response = Client().post(SIGN_IN, data)
    assert response.status_code == 400
    assert message in response.content


def test_after_five_failures_the_account_is_locked_even_with_the_right_password(
    world, password, settings, throttle_clock
):
    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    email = world.person("school_named").email
    client = Client()
    for _ in range(5):
        _try_patiently(client, email, "wrong-password", throttle_clock)
    locked = _try_patiently(client, email, password, throttle_clock)
    assert locked.status_code == 400
    assert b"too many failed attempts to sign in" in locked.content
    assert b"Wait 15 minutes" in locked.content  # 14 s of slow-down into a 15-minute window
    assert "_auth_user_id" not in client.session
    throttled = AuditEvent.objects.filter(action=AuditAction.LOGIN_THROTTLED, actor_email=email)
    assert throttled.filter(detail__locked=True).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_email=email).count() == 5
    # Another account from the same place is not locked by this one.
    assert _try(Client(), world.person("governor").email, password).status_code == 302


def test_sign_in_slows_down_before_it_locks(world, password, settings, throttle_clock):
    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    email = world.person("school_named").email
    client = Client()
    for _ in range(2):  # two mistypes: no wait yet
        assert b"Enter a correct email address and password" in _try(client, email, "wrong-password").content
    waits = []
    for _ in range(3):
        slowed = _try(client, email, password)  # not even the right password is tried while waiting
        assert slowed.status_code == 400 and "_auth_user_id" not in client.session
        waits.append(int(SLOWED.search(slowed.content)[1]))
        throttle_clock.wait(waits[-1] - 1)
        for _ in range(5):  # trying again and again during the wait does not lengthen it
            assert SLOWED.search(_try(client, email, "wrong-password").content)
        throttle_clock.wait(1)
        assert b"Enter a correct email address" in _try(client, email, "wrong-password").content
    assert waits == [2, 4, 8]  # then the fifth failure locks
    locked = _try(client, email, password)
    assert b"too many failed attempts to sign in. Wait 15 minutes" in locked.content
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_email=email).count() == 5
    slowed_events = AuditEvent.objects.filter(
        action=AuditAction.LOGIN_THROTTLED, actor_email=email, detail__locked=False
    )
    assert slowed_events.count() == 18


def test_a_person_who_mistyped_waits_seconds_then_signs_in(world, password, throttle_clock):
    email = world.person("school_named").email
    client = Client()
    for _ in range(3):
        _try_patiently(client, email, "wrong-password", throttle_clock)
    slowed = _try(client, email, password)
    assert b"sign-in is slowed down. Wait 4 seconds, then try again." in slowed.content
    throttle_clock.wait(4)
    assert _try(client, email, password).status_code == 302
    # Signed in: the next mistype starts afresh, with no wait.
    assert b"Enter a correct email" in _try(Client(), email, "wrong-password").content
    assert b"Enter a correct email" in _try(Client(), email, "wrong-password").content


def test_the_lock_lifts_when_the_failures_leave_the_window(world, password, settings, throttle_clock):
    email = world.person("school_named").email
    for _ in range(settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT):
        _try_patiently(Client(), email, "wrong-password", throttle_clock)
    SignInThrottle.objects.update(
        window_start=timezone.now() - timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES + 1)
    )
    assert _try(Client(), email, password).status_code == 302


def test_a_success_resets_the_count_of_failures(world, password, settings, throttle_clock):
    email = world.person("school_named").email
    for _ in range(settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT - 1):
        _try_patiently(Client(), email, "wrong-password", throttle_clock)
    assert _try_patiently(Client(), email, password, throttle_clock).status_code == 302
    _try(Client(), email, "wrong-password")
    assert _try(Client(), email, password).status_code == 302


def test_an_address_guessing_across_many_accounts_is_slowed_then_locked(
    world, password, settings, throttle_clock
):
    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    for n in range(3):
        _try(Client(), f"guess{n}@example.org", "wrong")
    # Half the address's limit: every account tried from there waits, though each failed only once.
    assert SLOWED.search(_try(Client(), "guess9@example.org", "wrong").content)
    for n in range(3, 6):
        _try_patiently(Client(), f"guess{n}@example.org", "wrong", throttle_clock)
    response = _try(Client(), world.person("governor").email, password)
    assert response.status_code == 400 and b"too many failed attempts" in response.content
    elsewhere = _try(Client(), world.person("governor").email, password, REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(world, password):
    target = reverse("accounts:user_list", args=[world.s1.pk])
    client = Client()
    asked = client.get(target)
    assert asked["Location"] == f"{SIGN_IN}?next={target}"
    response = client.post(
        SIGN_IN, {"email": world.person("school_admin").email, "password": password, "next": target}
    )
    # An administrator owes a two-factor code first; the page asked for is kept for after it.
    set_up = reverse("accounts:two_factor_setup")
    assert response["Location"] == f"{set_up}?{urlencode({'next': target})}"
    evil = Client().post(
        SIGN_IN,
        {
            "email": world.person("school_admin").email,
            "password": password,
            "next": "https://evil.example/steal",
        },
    )
    # Never another site: after the code, home.
    assert evil["Location"] == f"{set_up}?{urlencode({'next': reverse('web:home')})}"


def test_sign_out_is_a_post_and_is_audited(world, password):
    client = Client()
    _try(client, world.person("governor").email, password)
    assert client.get("/sign-out/").status_code == 405
    response = client.post("/sign-out/", follow=True)
    assert b"You have signed out" in response.content
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor=world.person("governor")).exists()


def test_a_deactivated_account_cannot_sign_in(world, password):
    user = world.person("governor")
    user.is_active = False
    user.save()
    assert _try(Client(), user.email, password).status_code == 400


def test_a_form_sent_without_its_csrf_token_is_refused_with_a_page_not_a_crash(world, password):
    client = Client(enforce_csrf_checks=True)
    response = _try(client, world.person("governor").email, password)
    assert response.status_code == 403
    assert b"Your form could not be sent" in response.content


@pytest.mark.django_db(transaction=True)
def test_many_wrong_passwords_sent_at_once_are_still_stopped_at_the_limit(world, settings, throttle_clock):
    """Attempts take their place before the password is checked, so a burst cannot slip through:
    two are tried, then the slow-down refuses the rest (all sent in the same instant)."""
    import threading

    from django.db import connection

    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    email = world.person("school_named").email
    start = threading.Barrier(12)
    statuses: list[int] = []

    def attempt() -> None:
        try:
            start.wait()
            statuses.append(_try(Client(), email, "wrong-password").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [400] * 12
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_email=email).count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_THROTTLED, actor_email=email).count() == 10


def test_a_school_behind_one_address_is_not_locked_out_by_its_successful_sign_ins(world, password, settings):
    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    for _ in range(10):
        assert _try(Client(), world.person("governor").email, password).status_code == 302


def test_a_school_of_30_behind_one_address_signs_in_while_one_account_there_is_attacked(
    world, password, settings, throttle_clock
):
    from keystage.accounts.models import Membership
    from keystage.core.roles import Role

    settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    staff = []
    for n in range(30):  # teachers with anonymised reports: the password is all they give
        person = User.objects.create_user(
            f"teacher{n}@school-one.example", password, full_name=f"Teacher {n}"
        )
        Membership.objects.create(user=person, organisation=world.s1, role=Role.SCHOOL_ANON.value)
        staff.append(person)
        assert _try(Client(), person.email, password).status_code == 302  # Monday: all sign in
    victim = world.person("school_named").email
    # Someone behind the school's address cycles passwords on one account, then sprays others.
    for n in range(12):
        _try_patiently(Client(), victim, f"guess-{n}", throttle_clock)
    for n in range(40):
        _try_patiently(Client(), f"made-up-{n}@school-one.example", "guess", throttle_clock)
    # Every one of the 30 still signs in from that address; the attacked account is locked; an
    # account never seen from that address waits, as guessing from it is slowed.
    assert [_try(Client(), p.email, password).status_code for p in staff] == [302] * 30
    locked = _try(Client(), victim, password)
    assert locked.status_code == 400 and b"too many failed attempts" in locked.content
    newcomer = _try(Client(), world.person("governor").email, password)
    assert newcomer.status_code == 400 and b"too many failed attempts" in newcomer.content
    assert _try(Client(), world.person("governor").email, password, REMOTE_ADDR="10.1.2.3").status_code == 302
