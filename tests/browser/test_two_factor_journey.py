"""Two-factor sign-in in a real browser: a head teacher who has never used an authenticator app sets
one up from the key on the page, keeps the recovery codes, and signs in again with a code and with a
recovery code. Every page passes an axe-core check."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.authenticator import authenticator_for, code_now, wait_out_the_pause
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code_from_typed_key(key: str) -> str:
    """What an authenticator app shows after the key on the page is typed into it by hand."""
    return f"{totp(b32decode(key.replace(' ', '')), step=30, t0=0, digits=6, drift=0):06d}"


def _password_step(page, base: str, email: str, password: str, *, from_here: bool = False) -> None:
    if not from_here:
        page.goto(base + "/sign-in/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_head_teacher_sets_up_two_factor_sign_in_and_uses_it(world, password, live_server, new_page):
    base, checked = live_server.url, []
    head = world.person("school_named")
    page = new_page()

    wanted = base + f"/organisations/{world.s1.pk}/"
    page.goto(wanted)  # the page they wanted: sign in first
    _password_step(page, base, head.email, password, from_here=True)
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app to scan")).to_be_visible()
    assert_accessible(page, checked)
    key = page.locator("#setup-key").inner_text()

    page.get_by_label("Code from your authenticator app").fill("12345")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the code as 6 numbers")
    assert_accessible(page, checked)
    assert page.locator("#setup-key").inner_text() == key  # the key already typed in stays the same

    page.get_by_label("Code from your authenticator app").fill(_code_from_typed_key(key))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert_accessible(page, checked)
    page.get_by_role("button", name="I have saved my recovery codes, continue").click()
    expect(page).to_have_url(wanted)
    expect(page.get_by_role("heading", name="School One")).to_be_visible()

    page.goto(base + "/")
    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.locator(".govuk-summary-list")).to_contain_text("10 of 10")
    assert_accessible(page, checked)
    page.get_by_role("button", name="Sign out").click()

    # Next time: the code from the app.
    _password_step(page, base, head.email, password)
    expect(page.get_by_role("heading", name="Enter the code from your authenticator app")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("That code is not right")
    assert_accessible(page, checked)
    wait_out_the_pause(head)
    page.get_by_label("Code from your authenticator app").fill(code_now(authenticator_for(head)))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your organisations")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # A lost phone: a recovery code, once.
    _password_step(page, base, head.email, password)
    page.get_by_role("link", name="Use a recovery code instead").click()
    expect(page.get_by_role("heading", name="Enter a recovery code")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("You used a recovery code. You have 9 left")).to_be_visible()
    assert_accessible(page, checked)

    assert len(checked) == 8
