"""The reports with the demo's own data, in a real browser, one demo person per role: the head reads
the KS4 summary and its pupils, the teacher the same summary without pupils, the governor the headline
summary alone, the trust its schools side by side, the LA its own figures. Every page passes axe-core."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from keystage.core.results.kinds import academic_year_name
from keystage.measures import services as measures
from keystage.measures.models import PrimaryFigure, SchoolFigure
from keystage.organisations.models import LocalAuthority, School
from keystage.reports.figures import years_with_figures
from keystage.web.demo import DEMO_PASSWORD
from tests.browser.conftest import assert_accessible
from tests.browser.test_journey import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    call_command("demo", "--no-serve", verbosity=0)  # tests/conftest.py sets the small background
    year = years_with_figures("ks4")[0]
    return year, academic_year_name(year)


def _open(page, base, email, checked):
    _sign_in(page, base, email, DEMO_PASSWORD, checked)
    page.get_by_role("link", name="Reports").first.click()
    assert_accessible(page, checked)


def test_each_demo_role_reads_the_reports_its_role_allows(demo, live_server, new_page):
    year, name = demo
    base, checked = live_server.url, []
    oakfield = School.objects.get(dfe_number="9904001")
    run = measures.latest_run("ks4", year)
    mine = SchoolFigure.objects.get(run=run, school=oakfield, group="all", value="all")

    head = new_page()
    _open(head, base, "head@oakfield-academy.example", checked)
    head.get_by_role("link", name=f"{name} for Oakfield Academy").first.click()
    assert head.locator('#progress-8 [data-figure="p8"]').inner_text() == f"{mine.p8:+.2f}"
    assert head.locator('[data-figure="a8"]').inner_text() == f"{mine.a8:.2f}"
    assert_accessible(head, checked)
    head.get_by_role("link", name="Pupil list").click()
    expect(head.locator("#pupils tbody tr")).to_have_count(mine.cohort)  # waits for the whole table
    assert "(no name on record)" not in head.locator("#pupils").inner_text()  # the demo's roster names them
    assert_accessible(head, checked)

    teacher = new_page()
    _open(teacher, base, "teacher@oakfield-academy.example", checked)
    teacher.get_by_role("link", name=f"{name} for Oakfield Academy").first.click()
    assert teacher.locator('[data-figure="a8"]').inner_text() == f"{mine.a8:.2f}"
    assert teacher.get_by_role("link", name="Pupil list").count() == 0
    assert teacher.get_by_role("link", name="Explore data in detail").count() == 1

    governor = new_page()
    _open(governor, base, "governor@oakfield-academy.example", checked)
    governor.get_by_role("link", name=f"{name} for Oakfield Academy").first.click()
    assert governor.locator('[data-figure="a8"]').inner_text() == f"{mine.a8:.2f}"
    assert governor.get_by_role("link", name="Explore data in detail").count() == 0
    assert "Percentile" not in governor.locator("#headlines").inner_text()
    assert_accessible(governor, checked)

    trust = new_page()
    _open(trust, base, "trust-named@oakfield-trust.example", checked)
    trust.goto(f"{base}/reports/{oakfield.trust_id}/ks4/{year}/schools/")
    assert trust.locator('tr[data-school="9904001"] [data-figure="a8"]').inner_text() == f"{mine.a8:.2f}"
    assert_accessible(trust, checked)

    la = new_page()
    _open(la, base, "la-anon@riverside-la.example", checked)
    authority = LocalAuthority.objects.get()
    aggregate = PrimaryFigure.objects.get(
        run=measures.latest_run("ks2", year), organisation=authority, group="all", value="all"
    )
    la.locator("li", has_text="KS2:").get_by_role("link", name=f"{name} for {authority.name}").click()
    shown = la.locator('[data-figure="ks2_rwm_expected"]').inner_text()
    assert shown == f"{round(aggregate.figures['ks2_rwm_expected']['figure'] * 100)}%"
    assert_accessible(la, checked)
    la.goto(f"{base}/reports/{oakfield.pk}/ks4/2001/")  # a year with no figures: said plainly
    assert "There are no KS4 figures for 2000/01 yet" in la.locator("main").inner_text()
    assert_accessible(la, checked)

    officer = new_page()
    _open(officer, base, "la-officer@riverside-la.example", checked)
    officer.goto(f"{base}/reports/{authority.pk}/ks2/{year}/")
    officer.get_by_role("link", name="Summary reports for schools").click()
    officer.locator("#summary-schools").wait_for()  # the click's page, not the one before
    schools = officer.locator("#summary-schools tbody tr").count()
    assert (
        schools
        == PrimaryFigure.objects.filter(
            run=measures.latest_run("ks2", year), school__la=authority, group="all", value="all"
        ).count()
    )
    assert officer.get_by_role("button", name=f"Publish {schools} summary report").count() == 1
    assert_accessible(officer, checked)
