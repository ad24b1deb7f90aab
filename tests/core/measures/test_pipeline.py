"""The measures pipeline as a notebook uses it: plain tables in, every figure out, with no Django
anywhere (the import is checked in a fresh interpreter, so no test's earlier import can hide one)."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from keystage.core.measures import pipeline
from keystage.core.measures.ks4 import estimates as ks4_estimates
from keystage.core.reference.dfe_files import KS4_CATALOGUE, KS4_PROGRESS8, shipped_path
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import ks4_measures_pupils, measures_pupils

YEAR = 2024  # a year with Progress 8, whose DfE estimates keystage ships


def test_the_pipeline_imports_with_no_django():
    code = (
        "import sys\n"
        "import keystage.core.measures.pipeline\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(len(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "0", done.stdout


@pytest.fixture(scope="module")
def synthetic():
    return generate(SynthSpec(year=YEAR, seed=11, secondary_schools=6, primary_schools=8))


def test_a_national_ks4_year_from_synthetic_tables(synthetic):
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    dfe = ks4_estimates.load_dfe_estimates(shipped_path(KS4_PROGRESS8), "2024prov")
    pupils = ks4_measures_pupils(synthetic)

    figures = pipeline.ks4_figures(
        synthetic.ks4_results, pupils, catalogue=catalogue, points_year=YEAR, estimates=dfe, year=YEAR
    )

    assert figures.measures.pupils.height == pupils.height
    schools = set(pupils.get_column("school").unique().to_list())
    everyone = figures.schools.filter(pl.col("group") == "all")
    assert set(everyone.get_column("school").to_list()) == schools
    national = figures.national.filter(pl.col("group") == "all").row(0, named=True)
    assert national["cohort"] == pupils.height and 20 < national["a8"] < 70
    assert national["p8"] is not None and abs(national["p8"]) < 1.5
    assert figures.floors is not None and figures.floors.height > 0  # DfE's published floors
    assert any("DfE's published figures" in note for note in figures.notes)
    assert set(figures.subjects.get_column("level").unique().to_list()) >= {"school", "national"}


def test_platform_estimates_are_worked_out_from_the_pupils_given(synthetic):
    catalogue = import_dfe_2019_folder(shipped_path(KS4_CATALOGUE))
    groups = ks4_estimates.load_dfe_estimates(shipped_path(KS4_PROGRESS8), "2024prov")
    figures = pipeline.ks4_figures(
        synthetic.ks4_results,
        ks4_measures_pupils(synthetic),
        catalogue=catalogue,
        points_year=YEAR,
        estimates=pipeline.PlatformEstimates(groups, "the shipped files"),
        year=YEAR,
    )
    assert figures.estimates.label.startswith(f"Platform {YEAR} national estimates")
    national = figures.national.filter(pl.col("group") == "all").row(0, named=True)
    assert national["p8"] == pytest.approx(0, abs=0.05)  # the nation against its own means

    with pytest.raises(pipeline.MeasuresError, match="has none"):
        pipeline.ks4_figures(
            synthetic.ks4_results,
            ks4_measures_pupils(synthetic),
            catalogue=catalogue,
            points_year=YEAR,
            estimates=pipeline.PlatformEstimates(None, "an empty folder"),
        )


@pytest.mark.parametrize(("key_stage", "year_groups"), [("ks2", (6,)), ("phonics", (1, 2)), ("eyfsp", (0,))])
def test_a_primary_year_from_synthetic_tables(synthetic, key_stage, year_groups):
    pupils = measures_pupils(synthetic, year_groups, "nc_year")
    figures = pipeline.primary_figures(key_stage, synthetic.primary_results, pupils, year=YEAR)

    assert figures.pupils.height == pupils.height
    assert figures.framework.collection == key_stage
    national = figures.national.filter(pl.col("group") == "all").row(0, named=True)
    assert national["cohort"] == pupils.height
    headline = next(iter(figures.measures))
    assert 0 <= national[headline] <= 100 or national[headline] is None
    places = figures.places.filter(pl.col("measure") == headline)
    assert places.height == figures.schools.filter(pl.col("group") == "all").height
