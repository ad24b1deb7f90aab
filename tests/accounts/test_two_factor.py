"""Two-factor sign-in: people who see pupils set up an authenticator app and give its code after
their password; recovery codes for a lost phone; administrators reset; the API and the demo untouched."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import two_factor
from keystage.accounts.models import Invitation, Membership, SignInThrottle, User
from keystage.api.models import ApiToken
from keystage.audit.models import AuditAction, AuditEvent
from tests.api.conftest import api
from tests.authenticator import authenticator_for, code_now, wait_out_the_pause
from tests.conftest import signed_in

SIGN_IN = "/sign-in/"
VERIFY = reverse("accounts:two_factor_verify")
RECOVERY = reverse("accounts:two_factor_recovery")
SET_UP = reverse("accounts:two_factor_setup")
CODES = reverse("accounts:two_factor_recovery_codes")
ACCOUNT = reverse("accounts:two_factor")


def _sign_in(client: Client, user: User, password: str, next_url: str = ""):
    data = {"email": user.email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(SIGN_IN, data)


def _pending_code(user: User) -> str:
    """The code the app shows for the authenticator being set up (as if scanned from the page)."""
    return code_now(TOTPDevice.objects.get(user=user, confirmed=False))


def _set_up(client: Client, user: User, password: str) -> list[str]:
    """Sign in with the password and set up an authenticator through the pages; the recovery codes."""
    assert _sign_in(client, user, password)["Location"].startswith(SET_UP)
    client.get(SET_UP)
    done = client.post(SET_UP, {"code": _pending_code(user)})
    assert done.status_code == 302 and done["Location"].startswith(CODES)
    page = client.get(done["Location"]).content.decode()
    return re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", page)


def _events(action: AuditAction, user: User):
    return AuditEvent.objects.filter(action=action, actor=user)


def test_a_named_teacher_is_made_to_set_up_before_any_page_and_then_gets_in(world, password):
    head = world.person("school_named")
    pupils_page = reverse("organisations:detail", args=[world.s1.pk])
    client = Client()
    signed = _sign_in(client, head, password, next_url=pupils_page)
    assert signed.status_code == 302
    assert signed["Location"] == f"{SET_UP}?next={pupils_page.replace('/', '%2F')}"

    # Every page until then sends them back to set-up, remembering where they were going.
    for page in (pupils_page, reverse("web:home"), reverse("api_tokens:list"), "/admin/"):
        refused = client.get(page)
        assert refused.status_code == 302 and refused["Location"].startswith(SET_UP), page
    assert client.post(reverse("api_tokens:create"), {"name": "sneaky"}).status_code == 302
    assert not ApiToken.objects.filter(user=head).exists()  # no token to get round the code with

    page = client.get(f"{SET_UP}?next={pupils_page}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Your roles let you see pupils' names" in text
    assert '<svg role="img"' in text and "<title>QR code for your authenticator app to scan</title>" in text
    device = TOTPDevice.objects.get(user=head, confirmed=False)
    key = " ".join(two_factor.key_in_groups(device))
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key) and key in text
    assert 'autocomplete="one-time-code"' in text and 'inputmode="numeric"' in text
    # A reload shows the same key: the QR code already scanned stays right.
    assert key in client.get(SET_UP).content.decode()

    wrong = client.post(SET_UP, {"code": "000000", "next": pupils_page})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    wait_out_the_pause(head)
    done = client.post(SET_UP, {"code": _pending_code(head), "next": pupils_page})
    assert done.status_code == 302 and done["Location"].startswith(CODES)
    shown = client.get(done["Location"])
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", shown.content.decode())
    assert len(set(codes)) == 10 and "You will not see them again" in shown.content.decode()
    assert f'href="{pupils_page}"' in shown.content.decode()
    # Shown once: the page cannot be had again.
    assert client.get(CODES)["Location"] == ACCOUNT

    assert client.get(pupils_page).status_code == 200
    assert TOTPDevice.objects.get(user=head).confirmed
    assert StaticToken.objects.filter(device__user=head).count() == 10
    enrolled = _events(AuditAction.TWO_FACTOR_ENROLLED, head).get()
    assert enrolled.detail == {"replaced_an_authenticator": False}
    assert _events(AuditAction.TWO_FACTOR_FAILED, head).get().detail == {"stage": "set-up"}


def test_next_time_the_code_is_asked_for_and_lets_them_in(world, password):
    head = world.person("school_named")
    _set_up(Client(), head, password)
    pupils_page = reverse("organisations:detail", args=[world.s1.pk])
    client = Client()
    signed = _sign_in(client, head, password, next_url=pupils_page)
    assert signed["Location"].startswith(VERIFY)
    assert client.get(pupils_page)["Location"].startswith(VERIFY)
    asked = client.get(signed["Location"]).content.decode()
    assert "Enter the code from your authenticator app" in asked
    assert 'autocomplete="one-time-code"' in asked and 'inputmode="numeric"' in asked

    answered = client.post(VERIFY, {"code": code_now(authenticator_for(head)), "next": pupils_page})
    assert answered.status_code == 302 and answered["Location"] == pupils_page
    assert client.get(pupils_page).status_code == 200
    assert _events(AuditAction.TWO_FACTOR_VERIFIED, head).count() == 1
    # Someone with only the password cannot swap in an authenticator of their own.
    thief = Client()
    _sign_in(thief, head, password)
    assert thief.get(SET_UP)["Location"].startswith(VERIFY)
    assert thief.post(SET_UP, {"code": "123456"})["Location"].startswith(VERIFY)


def test_a_code_is_accepted_once_and_spaces_in_it_do_not_matter(world, password):
    head = world.person("school_named")
    _set_up(Client(), head, password)
    device = authenticator_for(head)
    code = code_now(device)
    first = Client()
    _sign_in(first, head, password)
    assert first.post(VERIFY, {"code": f"{code[:3]} {code[3:]}"})["Location"] == reverse("web:home")
    second = Client()
    _sign_in(second, head, password)
    replayed = second.post(VERIFY, {"code": code})
    assert replayed.status_code == 400 and "That code is not right" in replayed.content.decode()


def test_a_recovery_code_lets_them_in_once_and_says_how_many_are_left(world, password):
    head = world.person("school_named")
    codes = _set_up(Client(), head, password)
    client = Client()
    signed = _sign_in(client, head, password)
    assert "Use a recovery code instead" in client.get(signed["Location"]).content.decode()
    page = client.get(RECOVERY).content.decode()
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' not in page  # codes have letters
    used = client.post(RECOVERY, {"code": f" {codes[0].upper()} "}, follow=True)
    assert used.redirect_chain[-1][0] == reverse("web:home")
    assert "You used a recovery code. You have 9 left" in used.content.decode()
    assert StaticToken.objects.filter(device__user=head).count() == 9
    assert _events(AuditAction.RECOVERY_CODE_USED, head).get().detail == {"left": 9}

    again = Client()
    _sign_in(again, head, password)
    refused = again.post(RECOVERY, {"code": codes[0]})
    assert refused.status_code == 400
    assert "That recovery code is not right, or it has been used already" in refused.content.decode()
    assert again.get(reverse("web:home"))["Location"].startswith(VERIFY)
    assert _events(AuditAction.TWO_FACTOR_FAILED, head).filter(detail__code="recovery").count() == 1
    assert "9 of 10" in signed_in(head).get(ACCOUNT).content.decode()


def test_wrong_codes_are_refused_audited_and_then_locked_for_a_while(world, password, settings):
    settings.KEYSTAGE_TWO_FACTOR_MAX_FAILURES = 5
    head = world.person("school_named")
    _set_up(Client(), head, password)
    client = Client()
    _sign_in(client, head, password)
    empty = client.post(VERIFY, {"code": ""})
    assert "Enter the 6-digit code from your authenticator app" in empty.content.decode()
    letters = client.post(VERIFY, {"code": "12ab56"})
    assert "Enter the code as 6 numbers" in letters.content.decode()

    wrong = client.post(VERIFY, {"code": "000000"})
    assert wrong.status_code == 400
    page = wrong.content.decode()
    assert "There is a problem" in page and "That code is not right" in page
    assert 'href="#id_code"' in page  # the error summary links to the field
    # django-otp's own short pause after a wrong code, said plainly rather than "wrong code".
    paused = client.post(VERIFY, {"code": code_now(authenticator_for(head))})
    assert "You entered a wrong code moments ago. Wait 1 second" in paused.content.decode()
    for _ in range(4):
        wait_out_the_pause(head)
        client.post(VERIFY, {"code": "000000"})
    wait_out_the_pause(head)
    locked = client.post(VERIFY, {"code": code_now(authenticator_for(head))})
    assert locked.status_code == 400
    assert "There have been too many wrong codes. Wait 15 minutes" in locked.content.decode()
    assert client.get(reverse("web:home"))["Location"].startswith(VERIFY)
    failed = _events(AuditAction.TWO_FACTOR_FAILED, head)
    assert failed.count() == 5 and all(e.ip_address == "127.0.0.1" for e in failed)
    assert _events(AuditAction.LOGIN_THROTTLED, head).get().detail == {"stage": "two-factor"}
    # Recovery codes are locked too: guessing moves from one to the other in vain.
    assert "too many wrong codes" in client.post(RECOVERY, {"code": "abcd-efgh"}).content.decode()

    SignInThrottle.objects.filter(key=f"two-factor:{head.pk}").update(
        window_start=timezone.now() - timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES + 1)
    )
    assert client.post(VERIFY, {"code": code_now(authenticator_for(head))}).status_code == 302


def test_people_who_never_see_pupils_are_not_asked_but_may_choose_to(world, password):
    for persona in ("school_anon", "governor", "trust_anon", "la_anon"):
        person = world.person(persona)
        client = Client()
        assert _sign_in(client, person, password)["Location"] == reverse("web:home"), persona
        assert client.get(reverse("web:home")).status_code == 200
    teacher = world.person("school_anon")
    client = signed_in(teacher)
    page = client.get(ACCOUNT).content.decode()
    assert "It is optional for your roles" in page and "Set up two-factor sign-in" in page
    assert client.get(SET_UP).status_code == 200
    client.post(SET_UP, {"code": _pending_code(teacher)})
    # Chosen once, it is asked for at every sign-in like anyone else's.
    again = Client()
    assert _sign_in(again, teacher, password)["Location"].startswith(VERIFY)
    assert again.get(reverse("organisations:detail", args=[world.s1.pk]))["Location"].startswith(VERIFY)


def test_an_administrator_gives_a_code_before_inviting_anyone_or_reading_the_audit_log(world, password):
    # Administrators see no pupils, but decide who does and read an audit log that names them by UPN.
    admin = world.person("school_admin")
    client = Client()
    assert _sign_in(client, admin, password)["Location"].startswith(SET_UP)
    invite = reverse("accounts:invite", args=[world.s1.pk])
    refused = client.post(invite, {"email": "x@elsewhere.example", "roles": ["school_named"]})
    assert refused.status_code == 302 and refused["Location"].startswith(SET_UP)
    assert not Invitation.objects.filter(email="x@elsewhere.example").exists()
    audit = client.get(reverse("audit:organisation_log", args=[world.s1.pk]))
    assert audit.status_code == 302 and audit["Location"].startswith(SET_UP)


def test_platform_staff_must_give_a_code_before_platform_administration(db, password):
    staff = User.objects.create_user("ops@example.org", password, full_name="Ops", is_staff=True)
    client = Client()
    assert _sign_in(client, staff, password, next_url="/admin/")["Location"].startswith(SET_UP)
    assert client.get("/admin/")["Location"].startswith(SET_UP)
    assert (
        "As platform staff you can reach every organisation's people" in client.get(SET_UP).content.decode()
    )
    client.post(SET_UP, {"code": _pending_code(staff)})
    assert client.get("/admin/").status_code == 200


def test_the_api_takes_tokens_whatever_the_session_owes(world, password):
    head = world.person("school_named")  # has not set up two-factor sign-in
    assert api(head).get("/api/v1/collections").status_code == 200
    # A session that still owes a code, sent along with the token, neither helps nor hinders.
    client = Client()
    _sign_in(client, head, password)
    with_cookie = api(head)
    with_cookie.cookies = client.cookies
    assert with_cookie.get("/api/v1/collections").status_code == 200
    assert client.get("/api/v1/collections").json()["error"]["code"] == "missing_token"
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_the_two_factor_page_makes_new_recovery_codes_and_the_old_ones_stop_working(world, password):
    head = world.person("school_named")
    old_codes = _set_up(Client(), head, password)
    client = Client()
    _sign_in(client, head, password)
    client.post(VERIFY, {"code": code_now(authenticator_for(head))})
    page = client.get(ACCOUNT).content.decode()
    assert "It is required for your roles" in page and "10 of 10" in page
    made = client.post(reverse("accounts:two_factor_renew_codes"))
    assert made["Location"].startswith(CODES)
    new_codes = re.findall(
        r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", client.get(made["Location"]).content.decode()
    )
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert _events(AuditAction.RECOVERY_CODES_RENEWED, head).count() == 1
    # This session keeps going; an old code no longer signs anyone in.
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 200
    other = Client()
    _sign_in(other, head, password)
    assert other.post(RECOVERY, {"code": old_codes[1]}).status_code == 400
    wait_out_the_pause(head)
    assert other.post(RECOVERY, {"code": new_codes[1]}).status_code == 302


def test_a_new_authenticator_replaces_the_old_one_after_a_code_from_it(world, password):
    head = world.person("school_named")
    codes = _set_up(Client(), head, password)
    old = authenticator_for(head)
    elsewhere = signed_in(head)  # another browser, verified with the old authenticator
    client = signed_in(head)
    page = client.get(ACCOUNT).content.decode()
    assert "Set up a new authenticator app" in page
    assert "Set up a new authenticator app" in client.get(SET_UP).content.decode()
    done = client.post(SET_UP, {"code": _pending_code(head), "next": ACCOUNT})
    assert done["Location"] == ACCOUNT
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    assert TOTPDevice.objects.filter(user=head, confirmed=True).count() == 1
    assert StaticToken.objects.filter(device__user=head).count() == len(codes)  # the same recovery codes
    latest = _events(AuditAction.TWO_FACTOR_ENROLLED, head).order_by("id").last()
    assert latest.detail == {"replaced_an_authenticator": True}
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 200
    # The other browser was verified by the old app: it must give a code from the new one.
    assert elsewhere.get(reverse("organisations:detail", args=[world.s1.pk]))["Location"].startswith(VERIFY)


def test_an_administrator_resets_a_colleague_who_then_sets_up_again(world, password):
    head = world.person("school_named")
    _set_up(Client(), head, password)
    heads_browser = signed_in(head)
    pupils_page = reverse("organisations:detail", args=[world.s1.pk])
    assert heads_browser.get(pupils_page).status_code == 200
    admin_client = signed_in(world.person("school_admin"))
    edit = reverse("accounts:edit_user", args=[world.s1.pk, head.pk])
    reset = reverse("accounts:reset_two_factor", args=[world.s1.pk, head.pk])
    page = admin_client.get(edit).content.decode()
    assert "has set up two-factor sign-in" in page and f'href="{reset}"' in page
    confirm = admin_client.get(reset)
    assert (
        confirm.status_code == 200 and "Reset School Named's two-factor sign-in?" in confirm.content.decode()
    )
    done = admin_client.post(reset, follow=True)
    assert done.redirect_chain[-1][0] == edit
    assert "Two-factor sign-in of School Named has been reset" in done.content.decode()
    assert (
        not TOTPDevice.objects.filter(user=head).exists()
        and not StaticDevice.objects.filter(user=head).exists()
    )
    event = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
    assert event.actor == world.person("school_admin") and event.subject == head.email
    assert event.organisation_id == world.s1.pk
    # The browser the head had open keeps no pupil access: it is sent to set up again.
    assert heads_browser.get(pupils_page)["Location"].startswith(SET_UP)
    assert _sign_in(Client(), head, password)["Location"].startswith(SET_UP)
    # Nothing left to reset: said plainly.
    again = admin_client.post(reset)
    assert again.status_code == 400 and "has not set up two-factor sign-in" in again.content.decode()


def test_a_reset_is_refused_across_organisations_and_for_oneself(world, password):
    head = world.person("school_named")
    authenticator_for(head)
    for persona in ("other_school_admin", "other_trust_admin", "other_la_data_officer", "school_anon"):
        outsider = signed_in(world.person(persona))
        assert (
            outsider.post(reverse("accounts:reset_two_factor", args=[world.s1.pk, head.pk])).status_code
            == 403
        )
    # An administrator elsewhere naming someone who is not theirs, through their own organisation.
    other_admin = signed_in(world.person("other_school_admin"))
    assert (
        other_admin.post(reverse("accounts:reset_two_factor", args=[world.s3.pk, head.pk])).status_code == 404
    )
    assert TOTPDevice.objects.filter(user=head).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_RESET).exists()

    officer = world.person("la_data_officer")  # an administrator who needs two-factor sign-in too
    own = signed_in(officer)
    own_reset = own.post(reverse("accounts:reset_two_factor", args=[world.la.pk, officer.pk]))
    assert own_reset.status_code == 400 and "You cannot reset your own" in own_reset.content.decode()
    assert TOTPDevice.objects.filter(user=officer).exists()


def test_a_school_cannot_reset_someone_who_also_works_where_it_does_not_manage(world, password):
    # A trust officer who is also a governor at School One: School One's administrator may not take
    # away the sign-in that opens the whole trust's pupils.
    officer = world.person("trust_admin")
    Membership.objects.create(user=officer, organisation=world.s1, role="governor")
    authenticator_for(officer)
    refused = signed_in(world.person("school_admin")).post(
        reverse("accounts:reset_two_factor", args=[world.s1.pk, officer.pk])
    )
    assert refused.status_code == 400
    assert f"also has access to {world.trust.name}, which you do not manage" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=officer, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_RESET).exists()
    # The person's page says so in place of the button.
    page = signed_in(world.person("school_admin")).get(
        reverse("accounts:edit_user", args=[world.s1.pk, officer.pk])
    )
    assert "which you do not manage" in page.content.decode()
    assert reverse("accounts:reset_two_factor", args=[world.s1.pk, officer.pk]) not in page.content.decode()
    # Nor may the trust's administrator reset a school's governor through the trust: each manages only
    # its own people (MANAGE_USERS does not reach a trust's schools); platform staff can reset anyone.
    governor = world.person("governor")
    Membership.objects.create(user=governor, organisation=world.trust, role="trust_anon")
    authenticator_for(governor)
    also = signed_in(officer).post(reverse("accounts:reset_two_factor", args=[world.trust.pk, governor.pk]))
    assert also.status_code == 400 and TOTPDevice.objects.filter(user=governor).exists()


def test_platform_staff_reset_from_platform_administration_with_an_audit_record(world, password):
    staff = User.objects.create_superuser("ops@example.org", password, full_name="Ops")
    head = world.person("school_named")
    _set_up(Client(), head, password)
    client = signed_in(staff)
    listing = client.get("/admin/accounts/user/")
    assert listing.status_code == 200
    done = client.post(
        "/admin/accounts/user/", {"action": "reset_two_factor", "_selected_action": [head.pk]}, follow=True
    )
    assert f"Two-factor sign-in reset for {head.email}" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=head).exists()
    event = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
    assert event.actor == staff and event.subject == head.email and event.detail["by"] == "platform staff"
    # Device pages that would show secrets or delete without a record are not offered.
    assert not admin.site.is_registered(TOTPDevice) and not admin.site.is_registered(StaticDevice)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_with_two_factor_off_passwords_alone_sign_in_and_the_page_says_so(world, password, settings):
    settings.KEYSTAGE_TWO_FACTOR = "off"
    head = world.person("school_named")
    authenticator_for(head)  # even someone who had set it up
    client = Client()
    assert "Two-factor sign-in is off on this server" in client.get(SIGN_IN).content.decode()
    assert _sign_in(client, head, password)["Location"] == reverse("web:home")
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 200
    assert client.get(SET_UP)["Location"] == ACCOUNT
    assert "Two-factor sign-in is off on this server" in client.get(ACCOUNT).content.decode()
    settings.KEYSTAGE_TWO_FACTOR = "required"
    assert "Two-factor sign-in is off" not in Client().get(SIGN_IN).content.decode()


@pytest.mark.parametrize(
    ("value", "read"), [(None, "required"), ("OFF", "off"), ("required", "required"), ("sometimes", None)]
)
def test_the_setting_is_required_unless_turned_off_and_refuses_anything_else(value, read):
    """Read as a server starts: in a fresh process, from the environment."""
    env = {k: v for k, v in os.environ.items() if k != "KEYSTAGE_TWO_FACTOR"}
    if value is not None:
        env["KEYSTAGE_TWO_FACTOR"] = value
    result = subprocess.run(
        [sys.executable, "-c", "import keystage.settings as s; print(s.KEYSTAGE_TWO_FACTOR)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if read is None:
        assert (
            result.returncode != 0
            and "KEYSTAGE_TWO_FACTOR is “sometimes”: use required or off" in result.stderr
        )
    else:
        assert result.returncode == 0 and result.stdout.strip() == read


def test_an_unsafe_next_is_ignored_at_every_step(world, password):
    head = world.person("school_named")
    evil = "https://evil.example/steal"
    client = Client()
    signed = _sign_in(client, head, password, next_url=evil)
    assert "evil" not in signed["Location"]
    assert 'value="https://evil.example' not in client.get(f"{SET_UP}?next={evil}").content.decode()
    done = client.post(SET_UP, {"code": _pending_code(head), "next": evil})
    assert "evil" not in done["Location"]
    assert f'href="{reverse("web:home")}"' in client.get(done["Location"]).content.decode()
    again = Client()
    _sign_in(again, head, password)
    answered = again.post(VERIFY, {"code": code_now(authenticator_for(head)), "next": "//evil.example/"})
    assert answered["Location"] == reverse("web:home")


def test_someone_given_a_role_that_shows_pupils_sets_up_at_their_next_page(world):
    teacher = world.person("school_anon")
    client = signed_in(teacher)  # owes no code today
    assert client.get(reverse("organisations:detail", args=[world.s1.pk])).status_code == 200
    Membership.objects.create(user=teacher, organisation=world.s1, role="school_named")
    assert client.get(reverse("organisations:detail", args=[world.s1.pk]))["Location"].startswith(SET_UP)


def test_a_set_up_page_from_another_browser_is_refused_as_expired_with_a_new_qr_code(world, password):
    head = world.person("school_named")
    first, second = Client(), Client()
    for client in (first, second):
        _sign_in(client, head, password)
    first.get(SET_UP)
    scanned = _pending_code(head)
    second.get(SET_UP)  # a fresh key for the other browser; the first one's is gone
    refused = first.post(SET_UP, {"code": scanned})
    assert refused.status_code == 400
    assert "This page has expired. Scan the new QR code, then enter the code" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=head, confirmed=True).exists()
