"""The demo's reports: three years of every key stage's figures, for the demo schools and a synthetic
national background, so that every report has something to show and a nation to compare with.

The demo schools' results are synthetic (the same pupils as their demo rosters) until someone confirms
an upload; then that school's uploads count instead, in the refresh the confirmation queues.
"""

from __future__ import annotations

import os

from keystage.core.measures.pipeline import MeasuresError
from keystage.measures import services
from keystage.measures.background import background_for, set_background
from keystage.measures.models import KeyStage
from keystage.organisations.models import School
from keystage.pupils.models import Pupil
from keystage.web.demo import SCHOOLS, current_academic_year, load_demo_rosters

DEMO_SEED = 990  # the demo rosters' seed (keystage.web.demo.load_demo_rosters)
TREND_YEARS = 3


def demo_background_scale() -> str:
    """``KEYSTAGE_DEMO_BACKGROUND``: national (3,400 secondary and 16,700 primary schools: slower to
    start), mid (300 and 1,500; the default) or small."""
    return os.environ.get("KEYSTAGE_DEMO_BACKGROUND", "mid")


def load_demo_reports(year: int | None = None, *, scale: str | None = None) -> list[str]:
    """A background and stored figures for each of the last three years, where missing. Returns what
    was computed, e.g. "KS4 2026/27"."""
    year = year or current_academic_year()
    schools = list(School.objects.filter(urn__in=[s.urn for s in SCHOOLS]))
    done = []
    for each in range(year - TREND_YEARS + 1, year + 1):
        # This year's seed is the rosters'; earlier years draw other pupils, so trends move. Each year's
        # roster is the one its background's pupils come from, so the pupil pages name them rightly.
        seed = DEMO_SEED + (year - each) * 1000
        if not Pupil.objects.filter(school__in=schools, academic_year=each).exists():
            load_demo_rosters(each, seed=seed)
        if background_for(each) is None:
            set_background(each, scale=scale or demo_background_scale(), seed=seed, schools=schools)
        for key_stage in KeyStage:
            if services.latest_run(key_stage.value, each) is not None:
                continue
            try:
                if key_stage == KeyStage.KS4:
                    services.compute_and_store_ks4(each, source="demo")
                else:
                    services.compute_and_store_primary(key_stage.value, each, source="demo")
            except MeasuresError:
                continue  # e.g. no KS4 catalogue loaded: the run says why; the rest of the demo goes on
            done.append(f"{key_stage.label} {each - 1}/{str(each)[-2:]}")
    return done
