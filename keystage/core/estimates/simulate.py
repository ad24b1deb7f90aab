"""Pupils drawn from a known estimates model, so that a fit can be checked against the truth.

The truth is a cumulative logit model with a school random effect: each pupil's outcome is the number of
thresholds below ``index + school effect + logistic noise``. Because the school effect is random, the
distribution for "a pupil at a school drawn at random" (what an average estimate is) integrates over it;
``true_probabilities`` does so by Gauss-Hermite quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.estimates.model import Array, Outcome, _category_probabilities


@dataclass(frozen=True)
class Truth:
    """The generating model. The prior attainment part is ``rise * tanh((prior - centre) / width)``: it
    rises steeply in the middle and flattens at the ends, as grades against KS2 scores do."""

    outcome: Outcome
    thresholds: tuple[float, ...]
    rise: float = 4.0
    centre: float = 104.0
    width: float = 9.0
    female: float = 0.3
    months_younger: float = -0.03
    disadvantaged: float = -0.4
    school_spread: float = 0.4

    def index(self, frame: pl.DataFrame, *, contextual: bool = True) -> Array:
        prior = frame.get_column("prior").to_numpy().astype(np.float64)
        index = (
            self.rise * np.tanh((prior - self.centre) / self.width)
            + self.female * frame.get_column("female").cast(pl.Float64).to_numpy()
            + self.months_younger * frame.get_column("months_younger").cast(pl.Float64).to_numpy()
        )
        if contextual:
            index = index + self.disadvantaged * frame.get_column("disadvantaged").cast(pl.Float64).to_numpy()
        return np.asarray(index, dtype=np.float64)

    def probabilities(self, frame: pl.DataFrame, shift: float | None = None) -> Array:
        """At a school with this value added (``shift``), or averaged over schools (None)."""
        index = self.index(frame)
        thresholds = np.asarray(self.thresholds)
        if shift is not None:
            return _category_probabilities(index + shift, thresholds)
        nodes, weights = np.polynomial.hermite_e.hermegauss(40)
        weights = weights / weights.sum()
        return np.asarray(
            sum(
                w * _category_probabilities(index + self.school_spread * z, thresholds)
                for z, w in zip(nodes, weights, strict=True)
            ),
            dtype=np.float64,
        )


def grades_truth() -> Truth:
    """A GCSE-like outcome: U and grades 1-9, most pupils at 4-6."""
    return Truth(
        outcome=Outcome("grade", ("U", *map(str, range(1, 10))), tuple(float(g) for g in range(10))),
        thresholds=(-5.0, -3.6, -2.4, -1.3, -0.2, 0.8, 1.8, 2.8, 3.9),
    )


def draw_pupils(truth: Truth, *, schools: int, pupils_per_school: int, seed: int) -> pl.DataFrame:
    """One row per pupil: school, prior (a KS2-like average scaled score, 80-120 in half points),
    female, months_younger, disadvantaged, and category drawn from the truth."""
    rng = np.random.default_rng(seed)
    n = schools * pupils_per_school
    school = np.repeat(np.arange(schools), pupils_per_school)
    effect = rng.normal(0.0, truth.school_spread, schools)[school]
    intake = rng.normal(0.0, 2.5, schools)[school]
    prior = np.clip(np.round((104.0 + intake + rng.normal(0, 6.5, n)) * 2) / 2, 80.0, 120.0)
    frame = pl.DataFrame(
        {
            "school": school.astype(str),
            "prior": prior,
            "female": rng.random(n) < 0.49,
            "months_younger": rng.integers(0, 12, n).astype(np.float64),
            "disadvantaged": rng.random(n) < 0.25,
        }
    )
    uniform = rng.random(n)
    latent = truth.index(frame) + effect + np.log(uniform / (1 - uniform))  # logistic noise
    category = np.searchsorted(np.asarray(truth.thresholds), latent)
    return frame.with_columns(pl.Series("category", category.astype(np.int64)))
