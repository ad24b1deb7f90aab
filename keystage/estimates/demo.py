"""The demo's estimates: KS2 to KS4, fitted on the last complete year's national results (the demo's
synthetic background and its schools), with and without disadvantage."""

from __future__ import annotations

from keystage.estimates import services
from keystage.estimates.models import Transition
from keystage.measures.services import MeasuresError
from keystage.web.demo import current_academic_year


def load_demo_estimates(year: int | None = None) -> list[str]:
    """Fit what is missing, here and now (the demo is set up before it serves); returns what was fitted."""
    fitted_on = (year or current_academic_year()) - 1
    done = []
    for contextual in (False, True):
        if services.latest_fit(Transition.KS2_KS4, contextual=contextual) is not None:
            continue
        fit, new = services.request_fit(
            transition=Transition.KS2_KS4,
            years=[fitted_on],
            contextual=contextual,
            source="demo",
            enqueue=False,
        )
        if not new:
            continue
        try:
            fit = services.run_fit(fit.pk)
        except MeasuresError:
            continue
        if fit.status == "complete":
            done.append(str(fit))
    return done
