"""The demo's estimates: KS2 to KS4 and KS1 to KS2, fitted on the last complete year's national results
(the demo's synthetic background and its schools), and KS4 to KS5 on a synthetic national A level
dataset of that year; each with and without disadvantage."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from keystage.core.measures.pipeline import MeasuresError
from keystage.core.synth import SynthSpec
from keystage.core.synth.ks5 import synthetic_ks5_year
from keystage.estimates import fitting, services
from keystage.estimates.models import Ks5Dataset, Transition
from keystage.measures.demo import DEMO_SEED, demo_background_scale
from keystage.measures.reference_choice import catalogue_from
from keystage.web.demo import current_academic_year


def load_demo_estimates(year: int | None = None) -> list[str]:
    """Fit what is missing, here and now (the demo is set up before it serves); returns what was fitted."""
    fitted_on = (year or current_academic_year()) - 1
    done = []
    if not Ks5Dataset.objects.filter(year=fitted_on).exists():
        # Without a KS4 catalogue there is no dataset, and the KS5 fit then says why.
        with contextlib.suppress(MeasuresError, fitting.EstimatesServiceError):
            load_demo_ks5(fitted_on)
    for transition, contextual in [(t, c) for t in Transition for c in (False, True)]:
        if services.latest_fit(transition, contextual=contextual) is not None:
            continue
        fit, new = fitting.request_fit(
            transition=transition,
            years=[fitted_on],
            contextual=contextual,
            source="demo",
            enqueue=False,
        )
        if not new:
            continue
        fit = fitting.run_fit(fit.pk)  # a failure is recorded on the fit, with the reason
        if fit.status == "complete":
            done.append(str(fit))
    return done


def load_demo_ks5(year: int) -> Ks5Dataset:
    """A synthetic national A level dataset for ``year`` (the demo background's scale), imported as an
    administrator would import the real one."""
    catalogue, _ = catalogue_from(None)
    spec = SynthSpec.at_scale(demo_background_scale(), year=year, seed=DEMO_SEED + year)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"synthetic-ks5-{year}.csv"
        synthetic_ks5_year(spec, catalogue).write_csv(path)
        return fitting.import_ks5(path, year)
