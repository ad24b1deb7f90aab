"""KS1 to KS2 (Year 3) estimates on a synthetic national year of 400 primary schools: reading and maths
scores, writing and all three at the expected standard from the KS1 average point score; calibrated on
held-out schools for every group the model uses, and rising with KS1."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from keystage.core.estimates.datasets import RWM_KEY, OutcomeData, ks2_outcomes
from keystage.core.estimates.engine import FittedOutcome, fit_outcome, score
from keystage.core.estimates.report import cohort_rows
from keystage.core.measures.primary.progress import load_tables
from keystage.core.reference.frameworks import FrameworkLibrary
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import measures_pupils

YEAR = 2026


@pytest.fixture(scope="module")
def outcomes() -> dict[str, OutcomeData]:
    year = generate(SynthSpec(year=YEAR, seed=5, secondary_schools=0, primary_schools=400))
    wide = year.primary_results.pivot(
        on="assessment", index="upn", values="result", aggregate_function="first"
    )
    frame = measures_pupils(year, (6,)).join(wide, on="upn", how="left")
    framework = FrameworkLibrary.from_directory().for_year("ks2", YEAR)
    return {data.key: data for data in ks2_outcomes(frame, framework, load_tables())}


@pytest.fixture(scope="module")
def fitted(outcomes: dict[str, OutcomeData]) -> dict[str, FittedOutcome]:
    return {key: fit_outcome(data) for key, data in outcomes.items()}


def test_reading_maths_writing_and_all_three_are_estimated_with_their_standards(
    outcomes: dict[str, OutcomeData],
) -> None:
    assert set(outcomes) == {"ks2_reading", "ks2_maths", "ks2_writing", RWM_KEY}
    reading = outcomes["ks2_reading"].outcome
    assert reading.labels[0].startswith("under ") and reading.labels[-1].endswith("or more")
    assert [label for label, _ in reading.marks] == [
        "the expected standard (100 or more)",
        "a high score (110 or more)",
    ]
    writing = outcomes["ks2_writing"].outcome
    assert writing.labels[-2:] == ("EXS", "GDS")
    assert dict(writing.marks) == {"the expected standard (EXS or GDS)": 103.0, "greater depth (GDS)": 113.0}
    assert outcomes[RWM_KEY].outcome.values == (0.0, 1.0)


def test_each_is_calibrated_on_held_out_schools(fitted: dict[str, FittedOutcome]) -> None:
    for key, outcome in fitted.items():
        known = outcome.calibration.filter(pl.col("in_model"))
        assert known.get_column("within").all(), (key, known.filter(~pl.col("within")))
        # KS1's average point score takes few values: each has its own level.
        assert len(outcome.model.knots) >= 10


def test_estimates_rise_with_ks1_and_the_expected_standard_is_a_chance(
    fitted: dict[str, FittedOutcome], outcomes: dict[str, OutcomeData]
) -> None:
    rwm = fitted[RWM_KEY]
    grid = pl.DataFrame({"prior": np.arange(4.0, 10.01, 0.5)}).with_columns(
        pl.lit(True).alias("female"), pl.lit(6.0).alias("months_younger")
    )
    chance = rwm.model.expected(rwm.model.probabilities(grid))
    assert np.all(np.diff(chance) >= 0) and chance[0] < 0.1 < 0.9 < chance[-1]
    reading = fitted["ks2_reading"]
    expected = reading.model.expected(reading.model.probabilities(grid))
    assert np.all(np.diff(expected) >= 0)
    # A cohort's expected number at the expected standard is the sum of its pupils' chances.
    pupils = outcomes[RWM_KEY].frame.head(300).with_columns(pl.lit(6).alias("nc_year"))
    scored = score(rwm, pupils)
    row = cohort_rows(pupils, rwm, scored, 50)[-1]
    assert row.reaching[0] == pytest.approx(scored.filter(pl.col("level") == 50).get_column("expected").sum())
