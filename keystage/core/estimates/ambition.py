"""Ambition levels: estimates for a pupil at a school whose value added is at a given percentile of
schools nationally (like FFT's 50, 20 and 5: "average", "top 20%" and "top 5%" schools' progress).

A school's value added, on the model's scale, is the *shift* of its pupils' index that best explains
their outcomes (the maximum-likelihood shift, with the model fixed). Raw shifts of small schools are
noisy, so their spread overstates how much schools differ: the spread of true school value added is
estimated as the raw variance less the mean squared standard error (the method of moments), and each
school's shift is drawn towards the median by that ratio before the percentiles are read. An estimate
"at the 80th percentile" is the model's distribution with the index raised by that percentile's shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.estimates.model import Array, OrdinalModel, _logistic

# Percentile of schools' value added → what people call it.
LEVELS = {50: "Average progress (50th percentile)", 80: "Top 20% of schools", 95: "Top 5% of schools"}
SMALLEST_SCHOOL = 10  # pupils with prior attainment and an outcome; smaller schools are left out
_MOST_SHIFT = 4.0


@dataclass(frozen=True)
class SchoolSpread:
    """How schools' value added is spread: the shift at each percentile, and how it was found."""

    shifts: dict[int, float]
    schools: int
    spread: float  # the estimated standard deviation of true school value added (index scale)
    raw_spread: float  # that of the raw shifts, before the noise of small cohorts is taken out

    def to_dict(self) -> dict[str, object]:
        return {
            "shifts": {str(k): v for k, v in self.shifts.items()},
            "schools": self.schools,
            "spread": self.spread,
            "raw_spread": self.raw_spread,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SchoolSpread:
        shifts = data["shifts"]
        assert isinstance(shifts, dict)
        return cls(
            shifts={int(k): float(v) for k, v in shifts.items()},
            schools=int(str(data["schools"])),
            spread=float(str(data["spread"])),
            raw_spread=float(str(data["raw_spread"])),
        )


def school_shifts(model: OrdinalModel, frame: pl.DataFrame) -> pl.DataFrame:
    """Each school's maximum-likelihood shift and its standard error. ``frame``: one row per pupil with
    ``school``, ``prior``, the model's covariates and ``category``."""
    used = frame.filter(pl.col("prior").is_not_null() & pl.col("category").is_not_null())
    schools, school = np.unique(used.get_column("school").cast(pl.String).to_numpy(), return_inverse=True)
    index = model.index(used)
    category = used.get_column("category").cast(pl.Int64).to_numpy()
    thresholds = np.asarray(model.thresholds)
    shift = np.zeros(len(schools))
    information: Array = np.ones(len(schools))
    rows = np.arange(len(category))
    for _ in range(25):
        below = _logistic(thresholds[None, :] - (index + shift[school])[:, None])
        density = below * (1 - below)
        cumulative = np.hstack([np.zeros((len(rows), 1)), below, np.ones((len(rows), 1))])
        padded = np.hstack([np.zeros((len(rows), 1)), density, np.zeros((len(rows), 1))])
        probabilities = np.maximum(np.diff(cumulative, axis=1), 1e-300)
        d_index = -(padded[:, 1:] - padded[:, :-1])  # d p_c / d index
        score = np.bincount(school, d_index[rows, category] / probabilities[rows, category], len(schools))
        information = np.bincount(school, (d_index**2 / probabilities).sum(axis=1), len(schools)).astype(
            np.float64
        )
        step = score / np.maximum(information, 1e-12)
        shift = np.clip(shift + step, -_MOST_SHIFT, _MOST_SHIFT)
        if np.max(np.abs(step)) < 1e-8:
            break
    return pl.DataFrame(
        {
            "school": schools,
            "pupils": np.bincount(school, minlength=len(schools)),
            "shift": shift,
            "standard_error": 1 / np.sqrt(np.maximum(information, 1e-12)),
        }
    )


def school_spread(shifts: pl.DataFrame, percentiles: tuple[int, ...] = tuple(LEVELS)) -> SchoolSpread:
    """The shift at each percentile of schools' value added, the noise of small cohorts taken out."""
    counted = shifts.filter(pl.col("pupils") >= SMALLEST_SCHOOL)
    if counted.height < 5:
        raise ValueError(
            "Too few schools (fewer than 5 with 10 or more pupils) to measure schools' value added."
        )
    raw: Array = counted.get_column("shift").to_numpy()
    errors: Array = counted.get_column("standard_error").to_numpy()
    centre = float(np.median(raw))
    raw_spread = float(np.std(raw))
    spread = math.sqrt(max(raw_spread**2 - float(np.mean(errors**2)), 0.0))
    drawn_in = centre + (raw - centre) * (spread / raw_spread if raw_spread > 0 else 0.0)
    return SchoolSpread(
        shifts={p: float(np.percentile(drawn_in, p)) for p in percentiles},
        schools=counted.height,
        spread=spread,
        raw_spread=raw_spread,
    )
