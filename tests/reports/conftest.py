"""Stored figures for the test world's schools: three years of KS4 and KS2 against a small synthetic
background (the demo's mechanism), and School One's and Two's rosters, so pupil pages have names."""

from __future__ import annotations

import polars as pl
import pytest

from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import rosters_by_school
from keystage.measures import services as measures
from keystage.measures.background import set_background
from keystage.pupils.services import import_roster
from tests.measures.conftest import count_2026_as_a_progress8_year, ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR

SEED = 4242
YEARS = (YEAR - 2, YEAR - 1, YEAR)


@pytest.fixture
def reports_world(world, ks4_catalogue, settings, tmp_path, monkeypatch):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "storage"
    # These tests are of the Progress 8 pages: the synthetic 2026 Year 11 has KS2 scores.
    count_2026_as_a_progress8_year(monkeypatch)
    schools = [world.s1, world.s2, world.s3, world.s4, world.s5]
    frame = pl.DataFrame(
        {
            "urn": [int(s.urn) for s in sorted(schools, key=lambda s: s.urn)],
            "dfe_number": [s.dfe_number for s in sorted(schools, key=lambda s: s.urn)],
            "name": [s.name for s in sorted(schools, key=lambda s: s.urn)],
            "phase": [s.phase for s in sorted(schools, key=lambda s: s.urn)],
        }
    )
    for year in YEARS:
        seed = SEED + (YEAR - year)
        rosters = rosters_by_school(generate(SynthSpec(year=year, seed=seed), schools=frame))
        for school in (world.s1, world.s2):
            import_roster(
                school=school,
                academic_year=year,
                pupils=rosters[school.dfe_number].pupils,
                full=True,
                source="test",
            )
        set_background(year, scale="small", seed=seed, schools=schools)
        measures.compute_and_store_ks4(year)
        measures.compute_and_store_primary("ks2", year)
    return world
