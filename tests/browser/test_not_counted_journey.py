"""A head teacher sees, in the browser, which results counted in no KS4 figure and why: the summary's
box counts them by reason, and the pupil's page lists each one beside the explanation of the A8."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.reports.test_not_counted import OFF_LIST, OFF_LIST_WORDS, UNKNOWN, UNKNOWN_WORDS, left_out  # noqa: F401
from tests.results.conftest import YEAR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_summary_and_the_pupils_page_show_what_did_not_count(left_out, password, live_server, new_page):  # noqa: F811
    world, pupils = left_out
    base, checked = live_server.url, []
    page = new_page()
    _sign_in(page, base, world.person("school_named").email, password, checked)
    page.goto(f"{base}/reports/{world.s1.pk}/ks4/{YEAR}/")
    box = page.locator("#not-counted")
    expect(box).to_be_visible()
    assert f"2 results of 2 pupils: {OFF_LIST_WORDS}" in " ".join(box.inner_text().split())
    assert f"1 result of 1 pupil: {UNKNOWN_WORDS}" in " ".join(box.inner_text().split())
    assert_accessible(page, checked)

    page.goto(f"{base}/reports/{world.s1.pk}/ks4/{YEAR}/pupils/{pupils[0].upn}/")
    rows = page.locator("#not-counted tbody tr")
    expect(rows).to_have_count(2)
    cells = [" ".join(rows.nth(i).inner_text().split()) for i in range(2)]
    assert any(OFF_LIST in c and OFF_LIST_WORDS in c for c in cells)
    assert any(UNKNOWN in c and UNKNOWN_WORDS in c for c in cells)
    assert f"not counted in performance measures in {YEAR}" in page.locator("#explanation").inner_text()
    assert_accessible(page, checked)
