"""A school's estimates through the API: named roles get each pupil's distribution (audited), anonymised
roles the year groups only, other organisations and governors are refused, and every failure is JSON."""

from __future__ import annotations

import pytest

from keystage.audit.models import AuditAction, AuditEvent
from keystage.estimates import services
from tests.api.conftest import api

pytestmark = pytest.mark.django_db(transaction=True)


def _get(user, dfe: str, **query: str):
    address = f"/api/v1/schools/{dfe}/estimates" + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    )
    return api(user).get(address)


def test_named_roles_get_each_pupils_estimates_as_the_page_shows_them(fitted):
    world = fitted
    response = _get(world.person("school_named"), world.s1.dfe_number, level="80")
    assert response.status_code == 200
    body = response.json()
    assert body["level"] == 80 and body["level_label"] == "Top 20% of schools"
    assert body["fit"]["transition"] == "ks2-ks4" and body["fit"]["contextual"] is False
    a8 = next(o for o in body["outcomes"] if o["key"] == "a8")
    page = services.estimates_page(world.s1, level=80, with_pupils=True)
    assert a8["year_groups"][-1]["expected"] == pytest.approx(page.cohort[-1].expected)
    by_upn = {r["upn"]: r for r in page.rows}
    with_estimates = [p for p in body["pupils"] if "a8" in p["estimates"]]
    assert len(body["pupils"]) == len(page.rows) and len(with_estimates) > 100
    for pupil in with_estimates[:20]:
        estimate = pupil["estimates"]["a8"]
        assert estimate["expected"] == pytest.approx(by_upn[pupil["upn"]]["expected"])
        assert sum(estimate["probabilities"]) == pytest.approx(1.0)
        assert len(estimate["probabilities"]) == len(a8["categories"])
    assert AuditEvent.objects.filter(
        action=AuditAction.REPORT_DOWNLOADED, subject="KS4 estimates (API)"
    ).exists()


def test_anonymised_roles_get_year_groups_and_no_pupil(fitted):
    world = fitted
    body = _get(world.person("school_anon"), world.s1.dfe_number).json()
    assert "pupils" not in body and body["outcomes"][0]["year_groups"]
    some_upn = services.school_pupils(world.s1)[1].get_column("upn")[0]
    assert some_upn not in str(body)


@pytest.mark.parametrize("person", ["governor", "school_admin", "other_school_named", "other_la_named"])
def test_others_are_refused(fitted, person):
    response = _get(fitted.person(person), fitted.s1.dfe_number)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_bad_requests_are_explained_in_json(national):
    named = national.person("school_named")
    assert _get(named, national.s1.dfe_number).json()["error"]["code"] == "no_estimates"
    assert _get(named, national.s1.dfe_number, level="70").json()["error"]["code"] == "invalid_level"
    assert _get(named, "12").json()["error"]["code"] == "invalid_school"
    assert _get(named, "9999999").status_code == 404
    assert _get(named, "9999999").json()["error"]["code"] == "unknown_school"
    assert api().get(f"/api/v1/schools/{national.s1.dfe_number}/estimates").status_code == 401
