"""LA returns in a real browser: the LA's data officer opens a phonics return; the school's data officer
sends a CTF with a mistake, watches the check finish without reloading, and sends the corrected file;
the head teacher confirms; the LA sees who sent and confirmed, asks for a correction and publishes a
report, which the school sees and downloads. Every page, and every form in its error state, passes axe."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from keystage.core.results.kinds import academic_year_name
from keystage.returns.models import CorrectionRequest, HeadTeacherConfirmation, PublishedReport, ReturnRound
from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in
from tests.conftest import World
from tests.returns.conftest import YEAR, ctf, on_roll, upn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROUND = f"Phonics {academic_year_name(YEAR)}"


@pytest.fixture(autouse=True)
def _files_in_a_temporary_folder(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "storage"


def _run_worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def _la_returns(page: Page) -> None:
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="LA returns").click()
    expect(page.get_by_role("heading", name="LA returns", exact=True)).to_be_visible()


def _day(when: date) -> str:
    return f"{when.day} {when:%b %Y}"  # as the pages write a date: 23 Nov 2026


def test_a_phonics_return_from_opening_to_the_report_back(
    world: World, password: str, live_server: Any, new_page: Callable[[], Page], tmp_path: Path
) -> None:
    base = live_server.url
    checked: list[str] = []
    today = timezone.localdate()
    # School One teaches every year group here (an all-through school, 4 to 18), so the phonics
    # return is asked of it and of School Two (a primary), not of School Three (a secondary).
    world.s1.statutory_low_age, world.s1.statutory_high_age = 4, 18
    world.s1.save()
    on_roll(world.s1, 1)  # Pupil1, whose phonics mark the school returns

    # 1. The LA's data officer opens the phonics return: a period that ends before it starts first.
    officer = new_page()
    _sign_in(officer, base, world.person("la_data_officer").email, password, checked)
    _la_returns(officer)
    expect(officer.get_by_text("No returns opened yet.")).to_be_visible()
    assert_accessible(officer, checked)
    officer.get_by_role("button", name="Open a return").click()
    expect(officer.get_by_role("heading", name="Open a return")).to_be_visible()
    assert_accessible(officer, checked)
    officer.get_by_label("Return", exact=True).select_option(label="Phonics")
    officer.get_by_label("Academic year").select_option(str(YEAR))
    officer.get_by_label("Deadline").fill(f"{YEAR}-06-26")
    officer.get_by_label("First day of the test or check period").fill(f"{YEAR}-06-11")
    officer.get_by_label("Last day of the test or check period").fill(f"{YEAR}-06-07")
    officer.get_by_role("button", name="Open the return").click()
    summary = officer.locator(".govuk-error-summary")
    expect(summary).to_contain_text("The phonics check period must end on or after its first day.")
    expect(officer).to_have_title(re.compile(r"^Error: Open a return"))
    assert_accessible(officer, checked)
    assert not ReturnRound.objects.exists()
    officer.get_by_label("First day of the test or check period").fill(f"{YEAR}-06-07")
    officer.get_by_label("Last day of the test or check period").fill(f"{YEAR}-06-11")
    officer.get_by_label("Instructions for schools (optional)").fill("Year 1 and Year 2 retakes.")
    officer.get_by_role("button", name="Open the return").click()
    expect(officer.get_by_text(f"The {ROUND} return is open to your schools.")).to_be_visible()
    expect(officer.get_by_role("heading", name=ROUND)).to_be_visible()
    expect(officer.locator(".govuk-summary-list")).to_contain_text(
        "0 of 2 have sent a file; 0 have confirmed"
    )
    assert_accessible(officer, checked)
    round_ = ReturnRound.objects.get()

    # 2. The school's data officer sends a CTF with a mark out of range, with a comment.
    school = new_page()
    _sign_in(school, base, world.person("manage_data").email, password, checked)
    _la_returns(school)
    returns = school.locator("table").filter(has_text="Your latest file")
    expect(returns).to_contain_text(ROUND)
    expect(returns).to_contain_text("Nothing sent yet")
    expect(returns).to_contain_text("Year 1 and Year 2 retakes.")
    assert_accessible(school, checked)
    school.get_by_role("button", name="Send a file to your LA").click()
    expect(school.get_by_role("heading", name=f"Send a file to {world.la.name}")).to_be_visible()
    assert_accessible(school, checked)
    school.get_by_role("button", name="Confirm and send file").click()  # nothing chosen
    summary = school.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Select what the file is (its tag)")
    expect(summary).to_contain_text("Select a file to send")
    assert_accessible(school, checked)
    wrong = tmp_path / "phonics.xml"
    wrong.write_bytes(ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "44")]))
    school.get_by_label("Phonics").check()
    school.get_by_label("File", exact=True).set_input_files(str(wrong))
    school.get_by_label("Comment (optional)").fill("Year 1 only; retakes next week.")
    school.get_by_role("button", name="Confirm and send file").click()
    expect(
        school.get_by_text("phonics.xml was sent to Home Authority. It is being checked now.")
    ).to_be_visible()
    expect(school.get_by_text("A file is being checked.")).to_be_visible()
    expect(returns).to_contain_text("Being checked")
    assert_accessible(school, checked)

    # The worker checks it; the page notices by itself (it reloads once) and shows what is wrong.
    school.evaluate("window.keystageMarker = 'before the check'")
    _run_worker()
    expect(returns).to_contain_text("Errors found")
    expect(school.get_by_text("A file is being checked.")).to_have_count(0)
    assert school.evaluate("window.keystageMarker") is None  # the page reloaded itself
    problem = school.locator("table").filter(has_text="Problems found in phonics.xml").locator("tbody tr")
    expect(problem).to_have_count(1)
    pupil = f"UPN {upn(world.s1, 1)}, Brown, Pupil1"  # by UPN and name, not "Pupil 1"
    for shown in (pupil, "Phonics screening check mark", "44", "Error", "Range must be between 0 to 40"):
        expect(problem).to_contain_text(shown)
    expect(returns).to_contain_text("1 error")
    assert_accessible(school, checked)
    returns.get_by_role("link", name="1 error").click()
    expect(school.get_by_role("heading", name="phonics.xml")).to_be_visible()
    expect(school.locator(".govuk-summary-list")).to_contain_text("Year 1 only; retakes next week.")
    expect(school.locator("table").filter(has_text="Every problem found")).to_contain_text("44")
    assert_accessible(school, checked)
    school.get_by_role("link", name="Back").click()

    # The corrected file passes.
    fixed = tmp_path / "phonics-fixed.xml"
    fixed.write_bytes(ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "35")]))
    school.get_by_role("button", name="Send a file to your LA").click()
    school.get_by_label("Phonics").check()
    school.get_by_label("File", exact=True).set_input_files(str(fixed))
    school.get_by_role("button", name="Confirm and send file").click()
    expect(school.get_by_text("A file is being checked.")).to_be_visible()
    _run_worker()
    expect(returns).to_contain_text("No errors (1 pupil)")
    expect(returns).to_contain_text("Validated")
    expect(returns).to_contain_text("phonics-fixed.xml")
    expect(school.locator("table").filter(has_text="Problems found")).to_have_count(0)
    sent_files = school.locator("table").filter(has_text="Files sent")
    expect(sent_files).to_contain_text("Replaced")
    assert_accessible(school, checked)

    # 3. The head teacher confirms: an empty form first.
    head = new_page()
    _sign_in(head, base, world.person("school_named").email, password, checked)
    _la_returns(head)
    expect(head.locator("table").first).to_contain_text("Not confirmed")
    assert_accessible(head, checked)
    head.get_by_role("link", name=f"Confirm {ROUND}").click()
    expect(head.get_by_role("heading", name="Head teacher confirmation")).to_be_visible()
    expect(head.get_by_text("This confirms your latest file, phonics-fixed.xml")).to_be_visible()
    assert_accessible(head, checked)
    head.get_by_label("Name").fill("")
    head.get_by_label("Role").fill("")
    head.get_by_label("Date").fill("")
    head.get_by_role("button", name="Confirm and send").click()
    summary = head.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Confirm that all internal moderation has been completed")
    expect(summary).to_contain_text(
        "Confirm that the head teacher and the staff responsible have agreed the assessments"
    )
    expect(summary).to_contain_text("Enter the head teacher's name")
    expect(summary).to_contain_text("Enter the role of the person confirming")
    expect(summary).to_contain_text("Enter the date of the confirmation")
    # A screen reader announces both ticks' errors on reaching the boxes.
    expect(head.get_by_role("group", name="I confirm that")).to_have_accessible_description(
        re.compile("moderation has been completed.*have agreed the assessments")
    )
    assert_accessible(head, checked)
    assert not HeadTeacherConfirmation.objects.exists()
    head.get_by_label("All internal moderation processes have been completed").check()
    head.get_by_label("The assessments have been agreed by the head teacher").check()
    head.get_by_label("Name").fill("Helen Marsh")
    head.get_by_label("Role").fill("Head teacher")
    head.get_by_label("Date").fill(today.isoformat())
    head.get_by_role("button", name="Confirm and send").click()
    expect(
        head.get_by_text(f"The head teacher confirmation for {ROUND} was sent to Home Authority.")
    ).to_be_visible()
    expect(head.locator("table").first).to_contain_text(
        f"Confirmed by Helen Marsh, Head teacher, on {_day(today)}"
    )
    assert_accessible(head, checked)

    # 4. The LA sees School One sent and confirmed, and the schools that have not.
    _la_returns(officer)
    expect(officer.locator("table")).to_contain_text("1 of 2")
    assert_accessible(officer, checked)
    officer.get_by_role("link", name=ROUND).click()
    expect(officer.locator(".govuk-summary-list")).to_contain_text(
        "1 of 2 have sent a file; 1 have confirmed"
    )
    row = officer.locator("tbody tr").filter(has_text="School One")
    expect(row).to_contain_text("by Manage Data")
    expect(row).to_contain_text("No errors (1 pupil)")
    expect(row).to_contain_text(f"Helen Marsh, Head teacher, {_day(today)}")
    expect(row).to_contain_text("Validated")
    expect(officer.locator("tbody tr").filter(has_text="School Two")).to_contain_text("Not sent")
    expect(officer.locator("tbody tr").filter(has_text="School Three")).to_have_count(0)  # a secondary
    assert_accessible(officer, checked)
    row.get_by_role("link", name="School One").click()
    expect(officer.get_by_role("heading", name="School One", exact=True)).to_be_visible()
    expect(officer.locator(".govuk-summary-list")).to_contain_text("phonics-fixed.xml")
    assert_accessible(officer, checked)

    # A correction request: empty first.
    officer.get_by_role("button", name="Send the request to the school").click()
    expect(officer.locator(".govuk-error-summary")).to_contain_text("Write what the school needs to correct")
    assert_accessible(officer, checked)
    officer.get_by_label("What should the school correct?").fill("Pupil1's mark looks low: please check.")
    officer.get_by_role("button", name="Send the request to the school").click()
    expect(officer.get_by_text("School One has been asked for a correction.")).to_be_visible()
    expect(officer.locator(".govuk-summary-list")).to_contain_text("Correction requested")
    expect(officer.locator(".govuk-inset-text")).to_contain_text("Waiting")
    assert_accessible(officer, checked)

    # The school's data officer sees the request on the school's page.
    _la_returns(school)
    banner = school.get_by_role("region", name="Correction requested")
    expect(banner).to_contain_text(
        f"Home Authority asked for a correction to your {ROUND} file, phonics-fixed.xml"
    )
    expect(banner).to_contain_text("Pupil1's mark looks low: please check.")
    expect(banner.get_by_role("link", name="Send the corrected file")).to_be_visible()
    expect(returns).to_contain_text("Correction requested")
    assert_accessible(school, checked)

    # The LA publishes a report back: without a file first.
    officer.get_by_label("Title (optional)").fill("Phonics summary")
    officer.get_by_role("button", name="Publish the report").click()
    expect(officer.locator(".govuk-error-summary")).to_contain_text("Select a file to send")
    assert_accessible(officer, checked)
    report = tmp_path / "summary.pdf"
    report.write_bytes(b"%PDF-1.7\n% phonics summary for School One\n%%EOF\n")
    officer.get_by_label("Report file").set_input_files(str(report))
    officer.get_by_role("button", name="Publish the report").click()
    expect(officer.get_by_text("“Phonics summary” is published to School One.")).to_be_visible()
    expect(officer.locator("table").filter(has_text="Reports published")).to_contain_text("Phonics summary")
    assert_accessible(officer, checked)

    # The school finds it on its page and downloads it.
    school.reload()
    reports = school.locator("table").filter(has_text="Published")
    expect(reports).to_contain_text(ROUND)
    assert_accessible(school, checked)
    with school.expect_download() as download:
        reports.get_by_role("link", name="Phonics summary").click()
    assert download.value.suggested_filename == "summary.pdf"
    assert Path(download.value.path()).read_bytes() == report.read_bytes()

    # Sending the corrected file answers the request, which the LA sees.
    school.get_by_role("link", name="Send the corrected file").click()
    expect(school.get_by_label("Phonics")).to_be_checked()
    again = tmp_path / "phonics-checked.xml"
    again.write_bytes(ctf(world.s1, [(upn(world.s1, 1), "Pupil1", "36")]))
    school.get_by_label("File", exact=True).set_input_files(str(again))
    school.get_by_role("button", name="Confirm and send file").click()
    expect(school.get_by_text("phonics-checked.xml was sent to Home Authority.")).to_be_visible()
    expect(school.get_by_role("region", name="Correction requested")).to_have_count(0)
    _run_worker()
    expect(returns).to_contain_text("No errors (1 pupil)")
    assert_accessible(school, checked)
    officer.reload()
    expect(officer.locator(".govuk-inset-text")).to_contain_text("Answered")
    expect(officer.locator(".govuk-summary-list")).to_contain_text("phonics-checked.xml")

    correction = CorrectionRequest.objects.get()
    assert correction.resolved and correction.sent_return.round == round_
    assert PublishedReport.objects.get().filename == "summary.pdf"
    assert len(checked) == 28
