"""An LA's KS1 return in a real browser, as a primary school lives it: the LA's data officer opens the
KS1 return and it lists only the LA's schools with Year 2; the primary's data manager downloads the
CTF of its confirmed KS1 results and sends it to the LA in one step; the worker checks it; the
primary's head teacher signs the confirmation; the LA sees one of one sent and confirmed. A
secondary's head is not asked to confirm. Every page passes axe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from keystage.core.ctf.reader import read_ctf
from keystage.core.results.kinds import academic_year_name
from keystage.returns.models import HeadTeacherConfirmation, Return, ReturnRound, Validation
from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in
from tests.conftest import World
from tests.factories import member
from tests.results.conftest import open_collection
from tests.results.test_ctf_export import confirmed_results, confirmed_upload
from tests.returns.conftest import YEAR, on_roll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROUND = f"KS1 {academic_year_name(YEAR)}"


@pytest.fixture(autouse=True)
def _files_in_a_temporary_folder(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "storage"


def _la_returns(page: Page) -> None:
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="LA returns").click()
    expect(page.get_by_role("heading", name="LA returns", exact=True)).to_be_visible()


def test_a_ks1_return_reaches_the_primary_which_sends_its_confirmed_results_as_a_ctf(
    world: World, password: str, live_server: Any, new_page: Callable[[], Page], tmp_path: Path
) -> None:
    base = live_server.url
    checked: list[str] = []
    primary = world.s2  # School Two: a primary (Reception to Year 6); School One and Three are secondaries
    primary.statutory_low_age, primary.statutory_high_age = 4, 11
    primary.save()
    data_manager = member("manage_data", primary, email="data@school-two.example", full_name="Priya Shah")
    head = member("school_named", primary, email="head@school-two.example", full_name="Ruth Adeyemi")
    collection = open_collection("ks1", year=YEAR)  # this academic year's, as the LA's return is
    for number in range(1, 7):
        on_roll(primary, number, "ks1")
    upload = confirmed_upload(collection, primary, data_manager)
    confirmed = confirmed_results(upload)

    # 1. The LA's data officer opens the KS1 return: it is for School Two alone.
    officer = new_page()
    _sign_in(officer, base, world.person("la_data_officer").email, password, checked)
    _la_returns(officer)
    officer.get_by_role("button", name="Open a return").click()
    officer.get_by_label("Return", exact=True).select_option(label="KS1")
    officer.get_by_label("Academic year").select_option(str(YEAR))
    officer.get_by_label("Deadline").fill(f"{YEAR}-06-26")
    officer.get_by_label("First day of the test or check period").fill(f"{YEAR}-05-01")
    officer.get_by_label("Last day of the test or check period").fill(f"{YEAR}-05-29")
    officer.get_by_role("button", name="Open the return").click()
    expect(officer.get_by_role("heading", name=ROUND)).to_be_visible()
    expect(officer.locator(".govuk-summary-list")).to_contain_text(
        "0 of 1 have sent a file; 0 have confirmed"
    )
    schools = officer.locator("table").filter(has_text="Head teacher confirmation")
    expect(schools).to_contain_text("School Two")
    expect(schools).not_to_contain_text("School One")
    expect(schools).not_to_contain_text("School Three")
    assert_accessible(officer, checked)
    round_ = ReturnRound.objects.get(tag="ks1")

    # 2. The primary's data manager downloads the CTF of its confirmed KS1 results, then sends it.
    school = new_page()
    _sign_in(school, base, data_manager.email, password, checked)
    school.goto(f"{base}/results/{collection.pk}/schools/{primary.pk}/")
    section = school.locator("#ctf")
    expect(section).to_have_text(f"4. Send to {world.la.name}")
    assert_accessible(school, checked)
    with school.expect_download() as download_info:
        school.get_by_role("link", name="Download CTF").click()
    download = download_info.value
    assert download.suggested_filename == f"{primary.dfe_number}_CTF_{world.la.code}LLLL_001.xml"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    pupils = read_ctf(saved.read_bytes()).document.pupils
    assert {p.upn for p in pupils} == set(confirmed)
    assert all(p.results for p in pupils if confirmed[p.upn])

    school.get_by_role("button", name="Send to the LA").click()
    expect(school.get_by_text(f"sent to {world.la.name}", exact=False).first).to_be_visible()
    assert_accessible(school, checked)
    sent = Return.objects.get(round=round_, school=primary)
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    sent.refresh_from_db()
    assert sent.validation == Validation.VALID and sent.issues == []

    # 3. The primary's head teacher signs the confirmation; a secondary's head is not asked to.
    secondary_head = new_page()
    _sign_in(secondary_head, base, world.person("other_school_named").email, password, checked)
    _la_returns(secondary_head)
    expect(secondary_head.get_by_role("link", name=f"Confirm {ROUND}")).to_have_count(0)
    assert_accessible(secondary_head, checked)

    signer = new_page()
    _sign_in(signer, base, head.email, password, checked)
    _la_returns(signer)
    signer.get_by_role("link", name=f"Confirm {ROUND}").click()
    expect(signer.get_by_role("heading", name="Head teacher confirmation")).to_be_visible()
    expect(signer.get_by_text(f"This confirms your latest file, {sent.filename}")).to_be_visible()
    assert_accessible(signer, checked)
    signer.get_by_label("All internal moderation processes have been completed").check()
    signer.get_by_label("The assessments have been agreed by the head teacher").check()
    signer.get_by_label("Name").fill("Ruth Adeyemi")
    signer.get_by_label("Role").fill("Head teacher")
    signer.get_by_label("Date").fill(timezone.localdate().isoformat())
    signer.get_by_role("button", name="Confirm and send").click()
    expect(
        signer.get_by_text(f"The head teacher confirmation for {ROUND} was sent to {world.la.name}.")
    ).to_be_visible()
    assert_accessible(signer, checked)
    assert HeadTeacherConfirmation.objects.get(round=round_).school == primary

    # 4. The LA sees one of one school sent and confirmed, its check clean.
    _la_returns(officer)
    expect(officer.locator("table").filter(has_text=ROUND)).to_contain_text("1 of 1")
    officer.get_by_role("link", name=ROUND).click()
    expect(officer.locator(".govuk-summary-list")).to_contain_text(
        "1 of 1 have sent a file; 1 have confirmed"
    )
    expect(schools).to_contain_text("Ruth Adeyemi, Head teacher")
    expect(schools).to_contain_text("No errors")
    assert_accessible(officer, checked)
    assert len(checked) >= 10
