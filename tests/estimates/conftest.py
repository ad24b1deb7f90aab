"""A national year for estimates: a small synthetic background around the world's schools."""

from __future__ import annotations

import polars as pl
import pytest
from django.core.management import call_command

from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import rosters_by_school
from keystage.measures.background import set_background
from keystage.pupils.services import import_roster
from tests.measures.conftest import ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR


@pytest.fixture
def national(world, ks4_catalogue):  # noqa: F811
    """YEAR's national data: a small synthetic background (12 secondary and 40 primary schools) around
    the world's schools; School One's roster (secondary: Year 11 with KS2 scores) and School Two's
    (primary: Years 4 and 6 with KS1 teacher assessments, as their MIS holds them)."""
    schools = [world.s1, world.s2]
    frame = pl.DataFrame(
        {
            "urn": [int(s.urn) for s in schools],
            "dfe_number": [s.dfe_number for s in schools],
            "name": [s.name for s in schools],
            "phase": [s.phase for s in schools],
        }
    )
    rosters = rosters_by_school(generate(SynthSpec(year=YEAR, seed=77), schools=frame))
    for school in schools:
        import_roster(
            school=school,
            academic_year=YEAR,
            pupils=rosters[school.dfe_number].pupils,
            full=True,
            source="test",
        )
    set_background(YEAR, scale="small", seed=77, schools=schools)
    return world


@pytest.fixture
def fitted(national):
    """The national year fitted (KS2 to KS4, not contextual)."""
    call_command("estimates", "fit", "--year", str(YEAR), "--now", verbosity=0)
    return national


@pytest.fixture
def fitted_ks2(national):
    """The national year fitted: KS1 to KS2 (Year 3 estimates), not contextual."""
    call_command("estimates", "fit", "--transition", "ks1-ks2", "--year", str(YEAR), "--now", verbosity=0)
    return national
