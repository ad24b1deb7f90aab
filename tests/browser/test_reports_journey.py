"""The reports in a real browser, per role: a named head reads the KS4 summary, filters Explore data in
detail, switches the comparator, clicks a scatter point to see that pupil and downloads the breakdown; an
anonymised teacher's points lead nowhere; a trust reads its schools side by side. Every page passes
axe-core, and screenshots of the main pages are kept for the README's tour."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect
from pypdf import PdfReader
from python_calamine import CalamineWorkbook

from keystage.measures.models import PupilFigure, SchoolFigure
from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (fixtures used here)
from tests.reports.conftest import YEARS, reports_world  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
YEAR = YEARS[-1]


def _shot(page, name: str) -> None:
    """Kept for the README's tour when KEYSTAGE_SCREENSHOTS=1 (so a test run leaves the tree clean)."""
    if os.environ.get("KEYSTAGE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def _all_pupils(page) -> str:
    return page.locator('#breakdown tr[data-group="all"] [data-figure]').inner_text().strip()


def _disadvantaged_national(page) -> str:
    return page.locator('#breakdown tr[data-value="disadvantaged"] [data-national]').inner_text().strip()


def test_a_named_head_reads_filters_switches_and_finds_a_pupil(
    reports_world,  # noqa: F811
    password,
    live_server,
    new_page,
):
    world, base, checked = reports_world, live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("school_named").email, password, checked)
    page.get_by_role("link", name="Reports").first.click()
    assert_accessible(page, checked)
    page.get_by_role("link", name=f"{YEAR - 1}/{str(YEAR)[-2:]} for School One").click()
    mine = SchoolFigure.objects.get(
        run__year=YEAR, run__key_stage="ks4", school=world.s1, group="all", value="all"
    )
    assert page.locator('#progress-8 [data-figure="p8"]').inner_text() == f"{mine.p8:+.2f}"
    assert "synthetic small-scale background" in page.locator("#national-source").inner_text()
    assert_accessible(page, checked)
    _shot(page, "school-dashboard")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF (summary)").click()
    printed = _pdf_text(Path(download.value.path()).read_bytes())
    assert f"{mine.p8:+.2f}" in printed and f"{mine.a8:.2f}" in printed

    page.get_by_role("link", name="Inspection summary").click()
    strengths = page.locator('[data-statements="strength"] li')
    assert "Progress 8 (adjusted) was significantly above national" in strengths.first.inner_text()
    assert_accessible(page, checked)
    _shot(page, "inspection-summary")
    strengths.first.get_by_role("link", name="See the figures").click()
    assert page.locator("#breakdown caption").inner_text().startswith("Progress 8 (adjusted) by pupil group")
    page.get_by_role("link", name="Summary", exact=True).click()

    page.get_by_role("link", name="Attainment 8", exact=True).click()
    before = _all_pupils(page)
    assert before == f"{mine.a8:.2f}"
    default_national = _disadvantaged_national(page)
    page.get_by_role("link", name="Switch comparator").click()
    assert _disadvantaged_national(page) != default_national
    page.get_by_role("link", name="Switch comparator").click()
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Male", exact=True).check()
    page.get_by_role("button", name="Show figures").click()
    assert _all_pupils(page) != before
    assert "Gender: Male." in page.locator("#filters-applied").inner_text()
    assert "N/A" in page.locator('#breakdown tr[data-group="all"] [data-national]').inner_text()
    assert_accessible(page, checked)
    _shot(page, "explore-filtered")
    shown = _all_pupils(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (this breakdown)").click()
    book = CalamineWorkbook.from_filelike(io.BytesIO(Path(download.value.path()).read_bytes()))
    table = book.get_sheet_by_name(book.sheet_names[1]).to_python()
    assert next(row for row in table if row and row[0] == "All pupils")[3] == shown
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF (this breakdown)").click()
    printed = _pdf_text(Path(download.value.path()).read_bytes())
    assert "Filters applied: Gender: Male." in printed and f" {shown} N/A" in printed

    page.get_by_role("link", name="Scatter plot").click()
    assert_accessible(page, checked)
    _shot(page, "scatter")
    point = page.locator("a.ks-chart__point").last  # drawn last: on top of any it overlaps
    name = point.get_attribute("aria-label").split(":")[0]
    point.click()
    assert page.locator("#pupil-name").inner_text() == name
    assert page.locator("#explanation li").count() > 0  # the A8 slots, line by line
    assert_accessible(page, checked)
    _shot(page, "pupil")


def test_every_scatter_point_hollow_or_filled_is_a_click_and_a_keyboard_target(
    reports_world,  # noqa: F811
    password,
    live_server,
    new_page,
):
    world, base, checked = reports_world, live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("school_named").email, password, checked)
    scatter = f"{base}/reports/{world.s1.pk}/ks4/{YEAR}/scatter/"
    page.goto(scatter)
    hollow = page.locator("a.ks-chart__point:has(rect)")
    assert hollow.count() > 0
    # The middle of a hollow square (not its outline) opens that pupil, for a square no other covers.
    for index in range(hollow.count()):
        box = hollow.nth(index).locator("rect").bounding_box()
        middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('a')?.getAttribute('aria-label')", middle
        )
        if on_top == hollow.nth(index).get_attribute("aria-label"):
            break
    name = hollow.nth(index).get_attribute("aria-label").split(":")[0]
    page.mouse.click(*middle)
    expect(page.locator("#pupil-name")).to_have_text(name)

    page.goto(scatter)
    first = page.locator("a.ks-chart__point").first
    name = first.get_attribute("aria-label").split(":")[0]
    first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#pupil-name")).to_have_text(name)
    assert_accessible(page, checked)


def test_an_anonymised_teachers_scatter_points_lead_nowhere(reports_world, password, live_server, new_page):  # noqa: F811
    world, base, checked = reports_world, live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("school_anon").email, password, checked)
    page.goto(f"{base}/reports/{world.s1.pk}/ks4/{YEAR}/scatter/")
    assert_accessible(page, checked)
    assert page.locator("a.ks-chart__point").count() == 0
    address = page.url
    page.locator("svg.ks-chart circle").first.click()
    assert page.url == address
    assert page.get_by_role("link", name="Pupil list").count() == 0

    page.get_by_role("link", name="Subjects").click()
    assert_accessible(page, checked)
    page.locator("#subjects tbody a").first.click()
    expect(page.locator("#grades-chart svg")).to_have_count(1)  # waits for the page the click opens
    assert page.locator("#grades tbody tr").count() > 1
    assert_accessible(page, checked)
    _shot(page, "subjects")


def test_a_trust_reads_its_schools_side_by_side(reports_world, password, live_server, new_page):  # noqa: F811
    world, base, checked = reports_world, live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("trust_named").email, password, checked)
    page.goto(f"{base}/reports/{world.trust.pk}/ks2/{YEAR}/schools/")
    assert page.locator('tr[data-school="8002001"]').count() == 1
    assert_accessible(page, checked)
    _shot(page, "trust-schools")
    page.get_by_role("link", name="School Two").click()
    assert_accessible(page, checked)
    _shot(page, "primary-dashboard")


def test_a_long_pupil_list_pdf_is_prepared_in_the_background(
    reports_world,  # noqa: F811
    password,
    live_server,
    new_page,
    settings,
):
    settings.KEYSTAGE_PDF_ROWS_IN_REQUEST = 5  # the test school's year group counts as a long list
    world, base, checked = reports_world, live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("school_named").email, password, checked)
    page.goto(f"{base}/reports/glossary/")
    assert_accessible(page, checked)
    page.goto(f"{base}/reports/{world.s1.pk}/ks4/{YEAR}/pupils/?sort=a8&order=desc")
    assert_accessible(page, checked)
    first = page.locator("tbody tr").first.locator("th").inner_text().strip()
    page.get_by_role("link", name="PDF (pupil list)").click()
    assert "being prepared" in page.locator("#export-status").inner_text()
    assert_accessible(page, checked)
    call_command("worker", "--batch", "--interval", "0", verbosity=0)
    # The page notices by itself that the PDF is ready.
    page.get_by_role("heading", name="Your PDF is ready").wait_for(timeout=15_000)
    assert_accessible(page, checked)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF").click()
    printed = _pdf_text(Path(download.value.path()).read_bytes())
    best = max(
        PupilFigure.objects.filter(run__year=YEAR, run__key_stage="ks4", school=world.s1), key=lambda p: p.a8
    )
    assert first in printed and f"{best.a8:.2f}" in printed
