"""A fit stores plain JSON, never NaN or infinity (PostgreSQL refuses them: "Token NaN is invalid"): a
parameter the data do not determine stores null and reads "not estimated" on the page and in the
command. Run on PostgreSQL as well as SQLite (see .ci)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from keystage.core.estimates import model
from keystage.estimates import services
from keystage.estimates.models import EstimatesFit, FitStatus
from tests.conftest import signed_in
from tests.results.conftest import YEAR

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fit_on_the_national_year_stores_json_without_nan(fitted):
    fit = services.latest_fit()
    assert fit is not None and fit.status == FitStatus.COMPLETE
    stored = EstimatesFit.objects.filter(pk=fit.pk).values_list("outcomes", flat=True).get()
    json.dumps(stored, allow_nan=False)  # raises on NaN or infinity anywhere
    errors = stored[0]["model"]["standard_errors"]
    assert errors and all(e is None or (isinstance(e, float) and e >= 0) for e in errors.values())


@pytest.mark.fit_afresh  # the model is changed: a fit kept from another test must not stand in
def test_a_parameter_the_data_do_not_determine_is_null_and_not_estimated(national, monkeypatch, capsys):
    working = model._standard_errors

    def months_undetermined(information: np.ndarray) -> np.ndarray:
        errors = working(information)
        errors[-1] = math.nan  # the last parameter: months younger, as a singular information leaves it
        return errors

    monkeypatch.setattr(model, "_standard_errors", months_undetermined)
    before = set(EstimatesFit.objects.values_list("pk", flat=True))
    call_command("estimates", "fit", "--year", str(YEAR), "--now")
    capsys.readouterr()
    fit = EstimatesFit.objects.exclude(pk__in=before).get()  # the fit this call made
    assert fit.status == FitStatus.COMPLETE, fit.message
    stored = EstimatesFit.objects.filter(pk=fit.pk).values_list("outcomes", flat=True).get()
    json.dumps(stored, allow_nan=False)
    a8 = stored[0]["model"]["standard_errors"]
    assert a8["months_younger"] is None and isinstance(a8["female"], float)
    assert services.fitted_outcomes(fit)[0].model.standard_errors["months_younger"] is None

    call_command("estimates", "show", "--fit", str(fit.pk), "--outcome", "Attainment 8")
    shown = capsys.readouterr().out
    assert "months_younger: " in shown and "(standard error not estimated)" in shown
    assert "nan" not in shown.lower()

    page = signed_in(national.person("school_named")).get(
        reverse("estimates:national") + f"?fit={fit.pk}&outcome=a8"
    )
    text = page.content.decode()
    row = text.split('data-covariate="months_younger"', 1)[1].split("</tr>", 1)[0]
    assert "standard error not estimated" in row
    female = text.split('data-covariate="female"', 1)[1].split("</tr>", 1)[0]
    assert "standard error 0." in female
