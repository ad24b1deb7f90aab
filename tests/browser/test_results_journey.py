"""A school's results collection in a real browser: get the template, upload a file with errors, see
them appear without a reload, download the error workbook, upload the fixed file, confirm, find it in
Manage uploads; then a trust's bulk upload of several schools' files. Every page passes axe-core."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from keystage.results import downloads
from keystage.results.models import Upload, UploadStatus
from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in
from tests.results.conftest import filled, open_collection, roster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARK = "Phonics screening check mark"


def _run_worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def test_template_errors_fix_confirm_and_manage_uploads(world, password, live_server, new_page, tmp_path):
    open_collection()
    world.s1.phase = "primary"  # phonics is listed for primary schools
    world.s1.save()
    roster(world.s1)
    checked: list[str] = []
    page = new_page()
    _sign_in(page, live_server.url, world.person("manage_data").email, password, checked)

    page.get_by_role("link", name="Results collections").first.click()
    expect(page.get_by_role("heading", name="Results collections")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_role("link", name="Phonics 2025/26 for School One").click()
    expect(page.get_by_role("heading", name="Phonics 2025/26")).to_be_visible()
    expect(page.get_by_text("3 pupils in Phonics year groups")).to_be_visible()
    assert_accessible(page, checked)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download Phonics 2025/26 template").click()
    template = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "8004001_phonics_2026_template.xlsx"

    # A file with a mistake: the outcome appears on the page without a reload.
    wrong = tmp_path / "our results.xlsx"
    wrong.write_bytes(filled(template, "phonics", {(1, MARK): 41, (2, MARK): 38}))
    page.get_by_role("link", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", name="Upload Phonics 2025/26 results")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_role("button", name="Upload and check").click()  # nothing chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose the file to upload")
    assert_accessible(page, checked)
    page.get_by_label("Upload your completed file").set_input_files(str(wrong))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Checking your file")).to_be_visible()
    assert_accessible(page, checked)
    page.evaluate("window.keystageMarker = 'same page'")
    _run_worker()
    expect(page.get_by_role("heading", name="1 error found: this file was not accepted")).to_be_visible()
    assert page.evaluate("window.keystageMarker") == "same page"  # updated in place, not reloaded
    errors = page.locator("table").filter(has_text="What to fix").first.inner_text()
    assert "41" in errors and "Phonics screening check mark" in errors
    assert_accessible(page, checked)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the error workbook").click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert book.sheetnames[0] == "Errors" and "Results" in book.sheetnames

    # The fixed file passes, and is confirmed after agreeing to the terms.
    fixed = tmp_path / "fixed results.xlsx"
    fixed.write_bytes(filled(template, "phonics", {(1, MARK): 35, (2, MARK): 38, (3, MARK): "A"}))
    page.get_by_role("link", name="Upload a corrected file").click()
    page.get_by_label("Upload your completed file").set_input_files(str(fixed))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Checking your file")).to_be_visible()
    _run_worker()
    expect(page.get_by_role("heading", name="Your file passed the checks: 3 pupils")).to_be_visible()
    assert_accessible(page, checked)
    confirm = page.get_by_role("button", name="Confirm submission")
    agree = page.get_by_label("I agree to the terms and conditions")
    expect(confirm).to_be_disabled()  # inactive until the terms are ticked
    agree.check()
    expect(confirm).to_be_enabled()
    agree.uncheck()
    expect(confirm).to_be_disabled()
    # Sent unticked all the same (no JavaScript, or a crafted request): the server refuses it.
    page.locator("form[data-agree-to-submit]").evaluate("form => form.requestSubmit()")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Tick the box to agree")
    assert_accessible(page, checked)
    page.get_by_label("I agree to the terms and conditions").check()
    page.get_by_role("button", name="Confirm submission").click()
    expect(page.get_by_role("heading", name="Submission confirmed")).to_be_visible()
    assert_accessible(page, checked)

    page.get_by_role("link", name="Manage uploads").last.click()
    expect(page.get_by_role("heading", name="Manage uploads")).to_be_visible()
    rows = page.locator("#uploads tbody tr")
    expect(rows).to_have_count(2)
    assert "In use" in rows.nth(0).inner_text() and "fixed results.xlsx" in rows.nth(0).inner_text()
    assert "Upload error" in rows.nth(1).inner_text()
    assert_accessible(page, checked)
    page.get_by_label("Hide deleted, overwritten & invalid uploads").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    assert_accessible(page, checked)

    used = Upload.objects.get(in_use=True)
    assert used.filename == "fixed results.xlsx" and used.pupil_count == 3
    assert len(checked) >= 12


def test_trust_bulk_upload_of_several_files(world, password, live_server, new_page, tmp_path):
    collection = open_collection()
    files = []
    for school in (world.s1, world.s2, world.s3):
        roster(school)
        template = downloads.download_template(collection, school, actor=None)
        path = tmp_path / f"{school.name}.xlsx"
        path.write_bytes(filled(template, "phonics", {(1, MARK): 33}))
        files.append(str(path))
    checked: list[str] = []
    page = new_page()
    _sign_in(page, live_server.url, world.person("trust_admin").email, password, checked)
    page.get_by_role("link", name="Results collections").first.click()
    page.get_by_role("link", name="bulk upload").click()
    expect(page.get_by_role("heading", name="Bulk upload")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_label("Files").set_input_files(files)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Bulk upload: 3 files")).to_be_visible()
    assert_accessible(page, checked)
    _run_worker()
    table = page.locator("#batch table")
    expect(table).to_contain_text("not a school of this trust")
    text = table.inner_text()
    assert "School One (8004001)" in text and "School Two (8002001)" in text
    assert text.count("Successful") == 2 and text.count("Upload error") == 1
    assert_accessible(page, checked)
    statuses = sorted(Upload.objects.values_list("status", flat=True))
    assert statuses == [UploadStatus.ERROR, UploadStatus.SUCCESSFUL, UploadStatus.SUCCESSFUL]
    assert len(checked) == 4


def test_api_token_made_in_the_browser_works_from_a_script(world, password, live_server, new_page):
    open_collection()
    checked: list[str] = []
    page = new_page()
    _sign_in(page, live_server.url, world.person("manage_data").email, password, checked)
    page.get_by_role("link", name="manage your API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    assert_accessible(page, checked)
    page.get_by_role("button", name="Create an API token").click()
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name for the token")
    assert_accessible(page, checked)
    page.get_by_label("Name").fill("MIS export")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Your token").input_value()
    assert token.startswith("ks_")
    assert_accessible(page, checked)

    url = live_server.url + "/api/v1/collections"  # the test server, over plain HTTP
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request) as response:  # noqa: S310
        body = json.loads(response.read())
    assert [c["collection"] for c in body["collections"]] == ["phonics"]
    assert len(checked) == 4
