"""A person's journey in a real browser: sign in, invite a colleague, the colleague accepts,
and each sees what their roles allow. Every page visited passes an axe-core check."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from keystage.accounts.models import User
from tests.authenticator import authenticator_for, code_now, owes_a_code
from tests.browser.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base: str, email: str, password: str, checked: list[str]) -> None:
    """Sign in through the form, typing the code from the person's authenticator when asked for one."""
    page.goto(base + "/")
    assert_accessible(page, checked)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    person = User.objects.filter(email=email).first()
    device = None
    if person is not None and person.check_password(password) and owes_a_code(person):
        device = authenticator_for(person)  # before the password is sent: it decides which page is next
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.get_by_label("Code from your authenticator app").fill(code_now(device))
        page.get_by_role("button", name="Continue").click()


def test_invite_accept_and_see_only_what_the_roles_allow(world, password, live_server, new_page):
    base = live_server.url
    checked: list[str] = []
    admin = new_page()

    # A mistyped password: a clear message, accessible in its error state.
    _sign_in(admin, base, world.person("school_admin").email, "wrong-password", checked)
    expect(admin.get_by_text("Enter a correct email address and password").first).to_be_visible()
    assert_accessible(admin, checked)
    # An administrator decides who sees pupils, so gives a code from their authenticator too.
    device = authenticator_for(world.person("school_admin"))
    admin.get_by_label("Password").fill(password)
    admin.get_by_role("button", name="Sign in").click()
    admin.get_by_label("Code from your authenticator app").fill(code_now(device))
    admin.get_by_role("button", name="Continue").click()
    expect(admin.get_by_role("heading", name="Your organisations")).to_be_visible()
    assert_accessible(admin, checked)

    admin.get_by_role("link", name="Manage users").first.click()
    expect(admin.get_by_role("heading", name="Manage users")).to_be_visible()
    assert_accessible(admin, checked)

    admin.get_by_role("button", name="Invite user").click()
    expect(admin.get_by_role("heading", name="Invite user")).to_be_visible()
    assert_accessible(admin, checked)
    admin.get_by_role("button", name="Send invitation").click()  # empty: every problem listed
    expect(admin.locator(".govuk-error-summary")).to_be_visible()
    summary = admin.locator(".govuk-error-summary")
    assert "Enter the person's full name" in summary.inner_text()
    assert "Select at least one role" in summary.inner_text()
    assert_accessible(admin, checked)
    admin.get_by_label("Full name").fill("Nadia Teacher")
    admin.get_by_label("Email address").fill("nadia@example.org")
    admin.get_by_label("Anonymised").check()
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text("Invitation sent to nadia@example.org")).to_be_visible()
    assert "Invited" in admin.locator("table").nth(1).inner_text()
    assert_accessible(admin, checked)

    # The worker sends the email; the invitee opens the link in their own browser.
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    link = re.search(r"https?://[^/\s]+(/invitations/\S+/)", mail.outbox[-1].body).group(1)
    invitee = new_page()
    invitee.goto(base + link)
    expect(invitee.get_by_role("heading", name="You have been invited to keystage")).to_be_visible()
    assert_accessible(invitee, checked)
    invitee.get_by_label("Create a password").fill("short")
    invitee.get_by_label("Type the password again").fill("short")
    invitee.get_by_role("button", name="Create account and accept").click()
    assert "This password is too short" in invitee.locator(".govuk-error-summary").inner_text()
    assert_accessible(invitee, checked)
    invitee.get_by_label("Create a password").fill("a-long-fresh-password-42")
    invitee.get_by_label("Type the password again").fill("a-long-fresh-password-42")
    invitee.get_by_role("button", name="Create account and accept").click()
    expect(invitee.get_by_text("You now have access to School One")).to_be_visible()
    expect(invitee.get_by_role("heading", name="School One")).to_be_visible()
    assert_accessible(invitee, checked)

    # What the anonymised teacher sees: their school, no user management, refusal if they try.
    nav = invitee.get_by_role("navigation", name="Menu").inner_text()
    assert "Manage users" not in nav and "Audit log" not in nav
    invitee.goto(base + f"/organisations/{world.s1.pk}/users/")
    expect(invitee.get_by_role("heading", name="You do not have permission to see this page")).to_be_visible()
    assert_accessible(invitee, checked)
    invitee.goto(base + f"/organisations/{world.s4.pk}/")
    expect(invitee.get_by_role("heading", name="You do not have permission to see this page")).to_be_visible()
    invitee.goto(base + "/organisations/424242/")
    expect(invitee.get_by_role("heading", name="Page not found")).to_be_visible()
    assert_accessible(invitee, checked)

    # Using the link again fails plainly.
    invitee.goto(base + link)
    expect(invitee.get_by_text("This invitation has already been used")).to_be_visible()
    assert_accessible(invitee, checked)

    # The administrator now sees the colleague as active, and the trail in the audit log.
    admin.goto(base + f"/organisations/{world.s1.pk}/users/")
    people = admin.locator("table").first.inner_text()
    assert "Nadia Teacher" in people and "nadia@example.org" in people
    admin.get_by_role("link", name="Audit log").first.click()
    expect(admin.get_by_role("heading", name="Audit log")).to_be_visible()
    log = admin.locator("table").inner_text()
    assert "Accepted an invitation" in log and "Invited a user" in log
    assert_accessible(admin, checked)
    admin.get_by_role("link", name="Manage users").first.click()
    admin.get_by_role("link", name="Nadia Teacher").click()
    expect(admin.get_by_role("heading", name="Nadia Teacher")).to_be_visible()
    assert_accessible(admin, checked)
    admin.get_by_role("link", name="Remove access").click()
    expect(admin.get_by_role("heading", name="Remove Nadia Teacher's access?")).to_be_visible()
    assert_accessible(admin, checked)

    assert len(checked) >= 15


def test_trust_and_la_people_see_their_schools_and_not_others(world, password, live_server, new_page):
    checked: list[str] = []
    for persona, org in (("trust_named", world.trust), ("la_anon", world.la)):
        page = new_page()
        _sign_in(page, live_server.url, world.person(persona).email, password, checked)
        page.get_by_role("link", name=org.name).click()
        table = page.locator("table").inner_text()
        assert "School One" in table and "School Two" in table and "School Four" not in table
        assert_accessible(page, checked)
        page.get_by_role("link", name="School One").click()
        expect(page.get_by_role("heading", name="School One")).to_be_visible()
        assert_accessible(page, checked)
    assert len(checked) == 6


def test_the_start_sign_in_and_error_pages_are_accessible_when_signed_out(db, live_server, new_page):
    checked: list[str] = []
    page = new_page()
    for path in ("/", "/sign-in/", "/no-such-page/", "/invitations/tampered-token/"):
        page.goto(live_server.url + path)
        assert_accessible(page, checked)
    page.goto(live_server.url + "/sign-in/")
    page.get_by_role("button", name="Sign in").click()
    assert "Enter your email address" in page.locator(".govuk-error-summary").inner_text()
    assert_accessible(page, checked)
    assert len(checked) == 5


def test_the_400_and_500_pages_are_styled_plain_and_accessible(db, live_server, new_page, settings):
    settings.ROOT_URLCONF = "tests.browser.urls"
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    checked: list[str] = []
    page = new_page()
    response = page.goto(live_server.url + "/__crash__/")
    assert response.status == 500
    expect(page.get_by_role("heading", name="Sorry, there is a problem with the service")).to_be_visible()
    assert "deliberate" not in page.content()
    assert_accessible(page, checked)
    response = page.goto(live_server.url + "/__suspicious__/")
    assert response.status == 400
    expect(page.get_by_role("heading", name="Sorry, there is a problem with your request")).to_be_visible()
    assert_accessible(page, checked)
    assert len(checked) == 2
