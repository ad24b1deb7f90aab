"""Fitting a set of outcomes on a national cohort, and scoring pupils with it.

For each outcome: a model is fitted without a fifth of the schools and checked on them (the calibration
report), then fitted again on every school (the model that scores), and schools' value added is measured
against it (the ambition levels). All of it is stored as plain JSON (``to_dict``), so a fitted set can
be saved, shown and used again without the national data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from keystage.core.estimates.ambition import LEVELS, SchoolSpread, school_shifts, school_spread
from keystage.core.estimates.calibration import calibration_table, held_out
from keystage.core.estimates.datasets import OutcomeData
from keystage.core.estimates.model import EstimatesError, OrdinalModel, fit
from keystage.core.jsonsafe import json_safe


@dataclass(frozen=True)
class FittedOutcome:
    key: str
    model: OrdinalModel
    spread: SchoolSpread
    calibration: pl.DataFrame
    national_mean: float
    national_sd: float
    seconds: float

    @property
    def name(self) -> str:
        return self.model.outcome.name

    @property
    def calibrated(self) -> bool:
        """Every group the model knows about is within its bound."""
        known = self.calibration.filter(pl.col("in_model"))
        return known.height > 0 and bool(known.get_column("within").all())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: a figure that is not a finite number (a standard error the data did not
        determine) is None."""
        data = {
            "key": self.key,
            "model": self.model.to_dict(),
            "spread": self.spread.to_dict(),
            "calibration": self.calibration.to_dicts(),
            "national_mean": self.national_mean,
            "national_sd": self.national_sd,
            "seconds": self.seconds,
        }
        safe: dict[str, Any] = json_safe(data)
        return safe

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedOutcome:
        return cls(
            key=data["key"],
            model=OrdinalModel.from_dict(data["model"]),
            spread=SchoolSpread.from_dict(data["spread"]),
            calibration=pl.DataFrame(data["calibration"]),
            national_mean=_number(data["national_mean"]),
            national_sd=_number(data["national_sd"]),
            seconds=_number(data.get("seconds", 0.0)),
        )


def _number(value: Any) -> float:
    """A stored figure; None (stored for a figure that was not a finite number) reads as NaN."""
    return math.nan if value is None else float(value)


def fit_outcome(data: OutcomeData, *, contextual: bool = False) -> FittedOutcome:
    started = time.perf_counter()
    frame = data.frame
    values = frame.get_column("value").cast(pl.Float64).drop_nulls().to_numpy()
    national_sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    out = held_out(frame)
    checked = frame.filter(out & pl.col("prior").is_not_null() & pl.col("value").is_not_null())
    if checked.height == 0 or frame.filter(~out).height == 0:
        raise EstimatesError(
            f"{data.outcome.name}: too few schools to fit without one in five and check on those held out."
        )
    check_model = fit(frame.filter(~out), data.outcome, contextual=contextual)
    calibration = calibration_table(check_model, checked, national_sd)
    model = fit(frame, data.outcome, contextual=contextual)
    spread = school_spread(school_shifts(model, frame))
    return FittedOutcome(
        key=data.key,
        model=model,
        spread=spread,
        calibration=calibration,
        national_mean=float(np.mean(values)) if len(values) else 0.0,
        national_sd=national_sd,
        seconds=time.perf_counter() - started,
    )


def fit_outcomes(
    outcomes: Iterable[OutcomeData],
    *,
    contextual: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[FittedOutcome], list[str]]:
    """Each outcome fitted; an outcome the data cannot fit is skipped with the reason (second list)."""
    fitted, skipped = [], []
    for data in outcomes:
        try:
            fitted.append(fit_outcome(data, contextual=contextual))
        except (EstimatesError, ValueError) as error:
            skipped.append(f"{data.outcome.name}: {error}")
            continue
        if progress:
            progress(f"{data.outcome.name}: fitted on {fitted[-1].model.pupils:,} pupils")
    return fitted, skipped


def score(fitted: FittedOutcome, pupils: pl.DataFrame, levels: Iterable[int] = tuple(LEVELS)) -> pl.DataFrame:
    """Each pupil's estimate at each level: one row per pupil and level with upn, level, expected and
    probabilities (a list, lowest category first). Pupils without prior attainment get no rows."""
    frame = pupils.filter(pl.col("prior").is_not_null())
    chosen = tuple(levels)
    if not chosen:
        return pl.DataFrame(schema={"upn": pl.String, "level": pl.Int64, "expected": pl.Float64})
    # Pupils with the same prior attainment and covariates share an index (and, at a level, their
    # chances), so each distinct index is worked out once and shifted at each level; every level's
    # rows are then copied straight into one table (one after another, as each level's pupils).
    distinct, where = np.unique(fitted.model.index(frame), return_inverse=True)
    rows = frame.height
    probabilities = np.empty((len(chosen) * rows, len(fitted.model.outcome.labels)))
    expected = np.empty(len(chosen) * rows)
    for number, level in enumerate(chosen):
        at_level = fitted.model.probabilities_at(distinct + fitted.spread.shifts[level])
        mine = slice(number * rows, (number + 1) * rows)
        np.take(at_level, where, axis=0, out=probabilities[mine])
        np.take(fitted.model.expected(at_level), where, out=expected[mine])
    return pl.DataFrame(
        {
            "upn": pl.concat([frame.get_column("upn")] * len(chosen)),
            "level": np.repeat(np.asarray(chosen, dtype=np.int64), rows),
            "expected": expected,
            "probabilities": probabilities,
        }
    )
