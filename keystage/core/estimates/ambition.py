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
from numpy.typing import NDArray

from keystage.core.estimates.model import Array, OrdinalModel, _logistic

# Percentile of schools' value added → what people call it.
LEVELS = {50: "Average progress (50th percentile)", 80: "Top 20% of schools", 95: "Top 5% of schools"}
SMALLEST_SCHOOL = 10  # pupils with prior attainment and an outcome; smaller schools are left out
_MOST_SHIFT = 4.0
_BLOCK = 4096  # pupils a block, about (see _expected_information)


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
    ``school``, ``prior``, the model's covariates and ``category``.

    Each school's shift is its own Newton iteration, which needs only each pupil's own category's chance
    and its derivatives (the log-likelihood is concave in the shift). A school stops once its step is
    negligible and its pupils leave later rounds, so late rounds work only on the few schools still
    moving (one whose pupils are all in an end category runs to the bound and never settles). The
    standard error is from the expected information at the shift found."""
    used = frame.filter(pl.col("prior").is_not_null() & pl.col("category").is_not_null())
    schools, school = _school_codes(used.get_column("school").cast(pl.String))
    pupils = np.bincount(school, minlength=len(schools))
    # Pupils in school order (stable, so each school's pupils keep theirs), for blocks of whole schools.
    order = np.argsort(school, kind="stable")
    school = school[order]
    index = model.index(used)[order]
    category = used.get_column("category").cast(pl.Int64).to_numpy()[order]
    thresholds = np.asarray(model.thresholds)
    # The thresholds either side of each pupil's category (none below the first, none above the last).
    upper = np.append(thresholds, np.inf)[category]
    lower = np.insert(thresholds, 0, -np.inf)[category]
    shift = np.zeros(len(schools))
    moving = np.arange(len(schools))
    mine, at, above, below = school, index, upper, lower
    for _ in range(25):
        score, curvature = _newton_sums(at + shift[mine], above, below, mine, len(schools))
        step = score[moving] / np.maximum(curvature[moving], 1e-12)
        shift[moving] = np.clip(shift[moving] + step, -_MOST_SHIFT, _MOST_SHIFT)
        settled = np.abs(step) < 1e-8
        if settled.all():
            break
        if settled.any():
            moving = moving[~settled]
            keep = np.zeros(len(schools), dtype=bool)
            keep[moving] = True
            kept = keep[mine]
            mine, at, above, below = mine[kept], at[kept], above[kept], below[kept]
    information = _expected_information(index + shift[school], school, thresholds, len(schools))
    return pl.DataFrame(
        {
            "school": schools,
            "pupils": pupils,
            "shift": shift,
            "standard_error": 1 / np.sqrt(np.maximum(information, 1e-12)),
        }
    )


def _school_codes(schools: pl.Series) -> tuple[pl.Series, NDArray[np.int64]]:
    """The distinct schools, sorted, and each pupil's position among them (as ``np.unique`` gives
    them, but NumPy's sort of strings is many times slower than Polars' sort and an enum's lookup)."""
    if schools.null_count():
        values, codes = np.unique(schools.to_numpy(), return_inverse=True)
        return pl.Series(values, dtype=pl.String), np.asarray(codes, dtype=np.int64)
    distinct = schools.unique().sort()
    return distinct, schools.cast(pl.Enum(distinct)).to_physical().cast(pl.Int64).to_numpy()


def _newton_sums(
    index: Array, upper: Array, lower: Array, school: NDArray[np.int64], schools: int
) -> tuple[Array, Array]:
    """Each school's first derivative of the log-likelihood in its shift and minus its second, from
    each pupil's chance p = F(upper - index) - F(lower - index) of their own category."""
    high, low = _logistic(upper - index), _logistic(lower - index)
    f_high, f_low = high * (1 - high), low * (1 - low)  # densities; F' = F (1 - F)
    p = np.maximum(high - low, 1e-300)
    slope = (f_low - f_high) / p  # d log p / d index
    # -d2 log p / d index2 = slope^2 - (f'(upper - index) - f'(lower - index)) / p, f' = f (1 - 2F)
    curvature = slope**2 - (f_high * (1 - 2 * high) - f_low * (1 - 2 * low)) / p
    scores = np.bincount(school, slope, schools).astype(np.float64)
    return scores, np.bincount(school, curvature, schools).astype(np.float64)


def _expected_information(index: Array, school: NDArray[np.int64], thresholds: Array, schools: int) -> Array:
    """Each school's expected information for its shift, its pupils at ``index`` (shifted): the sum
    over pupils and categories of (d p_c / d index)^2 / p_c. Pupils come in school order and are
    taken a block of whole schools at a time, so a block's arrays stay in the processor's cache."""
    information = np.zeros(schools)
    if len(school) == 0:
        return information
    starts = np.unique(np.searchsorted(school, school[::_BLOCK]))
    for start, end in zip(starts, [*starts[1:], len(school)], strict=True):
        below = _logistic(thresholds[None, :] - index[start:end, None])
        density = below * (1 - below)
        rows, j = below.shape
        # Category probabilities (differences of the cumulative ones) and d p_c / d index =
        # f_{c-1} - f_c, filled in place rather than stacked.
        probabilities = np.empty((rows, j + 1))
        probabilities[:, :j] = below
        probabilities[:, j] = 1.0
        probabilities[:, 1:] -= below
        np.maximum(probabilities, 1e-300, out=probabilities)
        d_index = np.empty((rows, j + 1))
        d_index[:, 0] = 0.0
        d_index[:, 1:] = density
        d_index[:, :j] -= density
        information += np.bincount(school[start:end], (d_index**2 / probabilities).sum(axis=1), schools)
    return information


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
