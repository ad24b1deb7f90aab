"""Estimates with the demo's own data, in a real browser: the head reaches KS4's from the KS4 report,
changes the outcome and the school's progress and sees the figures change, opens a pupil and reads the
distribution, then the KS5 benchmark estimates; the trust reads a primary school's Year 3 estimates; the
teacher (anonymised) sees the year groups only. Every page passes axe-core."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from keystage.estimates import services
from keystage.organisations.models import School
from keystage.reports.figures import years_with_figures
from tests.browser.conftest import assert_accessible
from tests.browser.test_reports_demo import _open
from tests.browser.test_reports_journey import _shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    call_command("demo", "--no-serve", verbosity=0)  # fits the demo's estimates too
    assert services.latest_fit() is not None, "the demo fits KS4 estimates"
    return years_with_figures("ks4")[0]


def test_the_head_and_the_teacher_read_the_demo_estimates(demo, live_server, new_page):
    base, checked = live_server.url, []
    oakfield = School.objects.get(dfe_number="9904001")
    head = new_page()
    _open(head, base, "head@oakfield-academy.example", checked)
    head.goto(f"{base}/reports/{oakfield.pk}/ks4/{demo}/")
    head.get_by_role("link", name="Estimates").click()
    assert "It is not a target" in head.locator("#what-an-estimate-is").inner_text()
    assert_accessible(head, checked)
    page = services.estimates_page(oakfield, with_pupils=True)
    everyone = page.cohort[-1]
    assert (
        head.locator("#cohort tbody tr").last.locator("[data-expected]").inner_text()
        == f"{everyone.expected:.1f}"
    )
    assert head.locator("#pupils tbody tr").count() == len(page.rows)

    # Another outcome at a more ambitious level: the figures change to the service's for that choice.
    english = next(o for o in page.found.outcomes if o.name == "English Language")
    head.get_by_label("Outcome", exact=True).select_option(english.key)
    head.get_by_label("Progress of the school", exact=True).select_option("95")
    head.get_by_role("button", name="Show estimates").click()
    ambitious = services.estimates_page(oakfield, outcome_key=english.key, level=95, with_pupils=True)
    shown = head.locator("#cohort tbody tr").last.locator("[data-expected]").inner_text()
    assert shown == f"{ambitious.cohort[-1].expected:.1f}" and shown != f"{everyone.expected:.1f}"
    assert head.locator("#cohort-chart svg[role=img]").count() == 1  # the chart, with its table below
    assert head.locator("#cohort-distribution tbody tr").count() == len(english.model.outcome.labels)
    assert_accessible(head, checked)

    # Search narrows the pupils to those named.
    first = next(r for r in ambitious.rows if r["expected"] is not None)
    head.get_by_label("Search by name or UPN").fill(first["surname"])
    head.get_by_role("button", name="Search").click()
    named = [
        r for r in ambitious.rows if first["surname"].lower() in f"{r['forename']} {r['surname']}".lower()
    ]
    assert head.locator("#pupils tbody tr").count() == len(named) < len(ambitious.rows)
    _shot(head, "estimates")
    head.locator(f'tr[data-upn="{first["upn"]}"] a').click()
    assert first["upn"] in head.locator("#pupil-facts").inner_text()
    assert head.locator('[data-distribution="a8"] tbody tr').count() >= 10
    assert_accessible(head, checked)
    _shot(head, "estimates-pupil")

    # KS5 benchmark estimates for last summer's Year 11, a click away.
    head.goto(f"{base}/estimates/{oakfield.pk}/")
    head.get_by_role("link", name="KS5 benchmark estimates").click()
    assert head.locator("h1").inner_text() == "KS5 benchmark estimates"
    ks5 = services.estimates_page(oakfield, transition="ks4-ks5", with_pupils=True)
    assert ks5 is not None and head.locator("#pupils tbody tr").count() == len(ks5.rows) > 0
    assert_accessible(head, checked)

    # A primary school's Year 3 estimates, read by the trust.
    primary = School.objects.get(name="Oakfield Primary Academy")
    trust = new_page()
    _open(trust, base, "trust-named@oakfield-trust.example", checked)
    trust.goto(f"{base}/estimates/{primary.pk}/")
    assert trust.locator("h1").inner_text() == "KS2 estimates (Year 3 estimates)"
    year3 = services.estimates_page(primary, transition="ks1-ks2")
    assert trust.locator("#cohort tbody tr").last.locator("[data-expected]").inner_text() == (
        f"{year3.cohort[-1].expected:.1f}"
    )
    assert_accessible(trust, checked)

    teacher = new_page()
    _open(teacher, base, "teacher@oakfield-academy.example", checked)
    teacher.goto(f"{base}/estimates/{oakfield.pk}/")
    assert teacher.locator("#cohort tbody tr").count() >= 1
    assert teacher.locator("#pupils").count() == 0
    assert first["upn"] not in teacher.content()
    assert_accessible(teacher, checked)

    teacher.goto(f"{base}/estimates/")
    assert teacher.locator("#calibration tbody tr").count() > 10
    assert_accessible(teacher, checked)
    assert len(checked) >= 8
