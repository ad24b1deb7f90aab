"""Stored figures for the test world's schools: three years of KS4 and KS2 against a small synthetic
background (the demo's mechanism), and School One's and Two's rosters, so pupil pages have names."""

from __future__ import annotations

import copy

import polars as pl
import pytest
from django.db import transaction
from django.test import override_settings

from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import rosters_by_school
from keystage.measures import services as measures
from keystage.measures.background import set_background
from keystage.pupils.services import import_roster
from keystage.reference_data.services import load_ks4_catalogue
from tests.conftest import World, make_world
from tests.core.reference.test_ks4_catalogue import DFE_2019
from tests.measures.conftest import count_2026_as_a_progress8_year, ks4_catalogue  # noqa: F401  (a fixture used here)
from tests.results.conftest import YEAR

SEED = 4242
YEARS = (YEAR - 2, YEAR - 1, YEAR)


def store_three_years(world: World) -> None:
    """Rosters for School One and Two, and three years of KS4 and KS2 figures for the world."""
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


@pytest.fixture
def reports_world(world, ks4_catalogue, settings, tmp_path, monkeypatch):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path / "storage"
    # These tests are of the Progress 8 pages: the synthetic 2026 Year 11 has KS2 scores.
    count_2026_as_a_progress8_year(monkeypatch)
    store_three_years(world)
    return world


@pytest.fixture(scope="module")
def _reports_world_of_the_module(django_db_setup, django_db_blocker, tmp_path_factory):
    """The reports world made once for a module, in a transaction left open while its tests run and
    rolled back after the last: each test runs in a savepoint inside it (as Django's setUpTestData
    does), so every test starts from the same database. Making it takes seconds, most of them storing
    three years of figures; a module of 20 tests made it 20 times."""
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        MEDIA_ROOT=tmp_path_factory.mktemp("reports-world"),
    )
    with django_db_blocker.unblock(), fast, pytest.MonkeyPatch.context() as patch:
        count_2026_as_a_progress8_year(patch)
        kept = transaction.atomic()
        kept.__enter__()
        try:
            load_ks4_catalogue(import_dfe_2019_folder(DFE_2019), source=str(DFE_2019))
            world = make_world()
            store_three_years(world)
        except BaseException:
            transaction.set_rollback(True)
            kept.__exit__(None, None, None)
            raise
    yield world
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        kept.__exit__(None, None, None)


@pytest.fixture
def reports_world_made_once(request, db, _reports_world_of_the_module, settings, tmp_path, monkeypatch):
    """The reports world for a module of tests that each run in a transaction (not
    transaction=True): the module's world, the same for every test, each test's changes undone."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        raise pytest.UsageError(
            f"{request.node.nodeid} commits (transaction=True): use reports_world, made for the test, "
            "in a module of its own; the module's world is held in an open transaction"
        )
    settings.MEDIA_ROOT = tmp_path / "storage"
    count_2026_as_a_progress8_year(monkeypatch)
    # A copy, so nothing a test changes on the objects (not only in the database) reaches the next.
    return copy.deepcopy(_reports_world_of_the_module)
