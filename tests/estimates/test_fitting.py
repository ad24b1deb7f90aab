"""Fitting estimates in the platform: queued once however often asked, fitted by the worker on the
national data of the year (the platform's results and its synthetic background), shown by the command,
and used to score a school's pupils on roll."""

from __future__ import annotations

import polars as pl
import pytest
from django.core.management import CommandError, call_command

from keystage.accounts.models import User
from keystage.estimates import fitting, services
from keystage.estimates.models import EstimatesFit, FitStatus
from tests.results.conftest import YEAR

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes its connection when done


def _run_worker() -> None:
    call_command("worker", "--batch", "--interval", "0", verbosity=0)


def test_a_fit_is_queued_once_and_fitted_by_the_worker(national):
    admin = User.objects.create_user(email="platform@example.org", password="x", is_staff=True)
    fit, new = fitting.request_fit(transition="ks2-ks4", years=[YEAR], requested_by=admin, source="page")
    again, new_again = fitting.request_fit(
        transition="ks2-ks4", years=[YEAR], requested_by=admin, source="page"
    )
    assert new and not new_again and again.pk == fit.pk  # a double click queues one
    assert EstimatesFit.objects.count() == 1
    _run_worker()
    fit.refresh_from_db()
    assert fit.status == FitStatus.COMPLETE, fit.message
    assert fit.pupils > 1500 and fit.schools >= 12
    assert "synthetic small background" in fit.background
    names = [outcome.name for outcome in services.fitted_outcomes(fit)]
    assert names[0] == "Attainment 8" and "English Language" in names and "Maths (General)" in names
    assert services.latest_fit() == fit
    # Another fit may be queued once this one is done.
    assert fitting.request_fit(transition="ks2-ks4", years=[YEAR])[1]


def test_a_year_without_results_fails_with_the_reason_and_keeps_the_last_fit(national):
    call_command("estimates", "fit", "--year", str(YEAR), "--now", verbosity=0)
    good = services.latest_fit()
    assert good is not None
    with pytest.raises(
        CommandError, match=f"There are no KS4 results for {YEAR + 4 - 1}/{str(YEAR + 4)[2:]}"
    ):
        call_command("estimates", "fit", "--year", str(YEAR + 4), "--now")
    failed = EstimatesFit.objects.order_by("-pk").first()
    assert failed.status == FitStatus.FAILED and "no KS4 results" in failed.message
    assert services.latest_fit() == good  # pages go on using the good one


def test_the_command_shows_each_outcome_with_its_ambition_levels_and_calibration(national, capsys):
    with pytest.raises(CommandError, match="No fit is complete yet"):
        call_command("estimates", "show")
    call_command("estimates", "fit", "--year", str(YEAR), "--now")
    summary = capsys.readouterr().out
    assert "Attainment 8" in summary and "top 20%" in summary and "calibrated" in summary
    call_command("estimates", "show", "--outcome", "attainment 8")
    shown = capsys.readouterr().out
    assert "Top 5% of schools: index +" in shown
    assert "calibration on held-out schools" in shown and "Prior attainment fifth" in shown
    assert "disadvantaged" in shown and "*" in shown  # not in a non-contextual model: marked
    with pytest.raises(CommandError, match="has no outcome “Latin”"):
        call_command("estimates", "show", "--outcome", "Latin")


def test_a_schools_pupils_on_roll_are_scored_at_each_ambition_level(national):
    assert services.school_estimates(national.s1) is None  # no fit yet
    call_command("estimates", "fit", "--year", str(YEAR), "--now", verbosity=0)
    found = services.school_estimates(national.s1)
    assert found is not None and found.academic_year == YEAR
    with_ks2 = found.pupils.filter(pl.col("prior").is_not_null()).height
    assert with_ks2 > 100
    a8 = found.estimates["a8"]
    assert a8.height == 3 * with_ks2
    wide = a8.pivot(on="level", index="upn", values="expected")
    assert (wide.get_column("50") < wide.get_column("95")).all()
    # Another school's pupils are not among them.
    assert set(a8.get_column("upn")) <= set(found.pupils.get_column("upn"))
    assert services.school_estimates(national.s3).pupils.height == 0  # no roster imported
    assert services.school_estimates(national.s2).pupils.height == 0  # primary: no Years 7 to 11
