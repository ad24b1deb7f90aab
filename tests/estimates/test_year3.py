"""Year 3 (KS1 to KS2) estimates in the platform: fitted on the national year's Year 6 (KS1 from the
roster or the KS1 collection, and the synthetic background), shown to a primary school for its pupils
past KS1, and through the API; a primary school's estimates are KS2's, a secondary's KS4's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from keystage.estimates import services
from keystage.estimates.models import FitStatus, Transition
from tests.api.conftest import api
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_fit_has_reading_writing_maths_and_all_three(fitted_ks2):
    fit = services.latest_fit(Transition.KS1_KS2)
    assert fit is not None and fit.status == FitStatus.COMPLETE
    names = [o.name for o in services.fitted_outcomes(fit)]
    assert names == ["KS2 reading", "KS2 maths", "KS2 writing", "KS2 reading, writing and maths"]
    assert fit.pupils > 1000
    assert services.latest_fit(Transition.KS2_KS4) is None  # each transition has its own fits


def test_a_primary_school_sees_its_pupils_past_ks1(fitted_ks2):
    world = fitted_ks2
    client = signed_in(world.person("trust_named"))  # School Two is the trust's primary school
    response = client.get(reverse("estimates:school", args=[world.s2.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert '<h1 class="govuk-heading-xl">KS2 estimates (Year 3 estimates)</h1>' in text
    assert "prior attainment: KS1 average points" in text
    found = services.school_estimates(world.s2, transition=Transition.KS1_KS2)
    years = set(found.pupils.get_column("nc_year"))
    assert years <= {3, 4, 5, 6} and {4, 6} <= years
    assert found.pupils.get_column("prior").is_not_null().sum() > 20
    assert "Chance of the expected standard (100 or more)" in text
    writing = client.get(
        reverse("estimates:school", args=[world.s2.pk]) + "?outcome=ks2_writing"
    ).content.decode()
    assert "Expected to reach greater depth (GDS)" in writing


def test_the_api_gives_a_primary_school_its_ks2_estimates(fitted_ks2):
    world = fitted_ks2
    trust = api(world.person("trust_named"))
    body = trust.get(f"/api/v1/schools/{world.s2.dfe_number}/estimates").json()
    assert body["fit"]["transition"] == "ks1-ks2"
    rwm = next(o for o in body["outcomes"] if o["key"] == "ks2_rwm")
    assert rwm["year_groups"][-1]["reaching"][0]["mark"] == "the expected standard in all three"
    assert any(p["estimates"] for p in body["pupils"])
    wrong = trust.get(f"/api/v1/schools/{world.s2.dfe_number}/estimates?stage=ks4")
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "no_such_stage"
    # A secondary school's estimates are KS4's: none fitted here.
    none = trust.get(f"/api/v1/schools/{world.s1.dfe_number}/estimates")
    assert none.status_code == 404 and none.json()["error"]["code"] == "no_estimates"
