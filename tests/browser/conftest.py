"""Headless Chromium (Debian's package) driven by Playwright, with axe-core accessibility checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's own background traffic is refused on this closed network; these flags stop it trying.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: the test command installs it (apt-get install chromium).")
    if not AXE.exists():
        pytest.fail("axe-core is not installed: the test command runs `npm ci`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """A fresh browser profile per call (one per person). CSP is bypassed only to inject axe."""
    contexts = []

    def make():
        context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def assert_accessible(page, checked: list[str]) -> None:
    """No serious or critical axe-core violation on the page as it is now. A click on a link returns
    once the next page starts to arrive, before it has a head to add axe to: wait for it to load."""
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    assert violations == [], f"{page.url}:\n{json.dumps(violations, indent=2)}"
    checked.append(page.url)
