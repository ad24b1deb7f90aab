"""Background work of the estimates, run by `keystage worker`."""

from __future__ import annotations

from django_tasks import task

from keystage.estimates import fitting


@task()
def fit_estimates(fit_id: int) -> str:
    """Fit a queued set of estimates on the national data of its years."""
    fit = fitting.run_fit(fit_id)
    done = fit.message or f"{len(fit.outcomes)} outcomes on {fit.pupils:,} pupils"
    return f"fit {fit.pk} {fit.status}: {done}"
