"""Estimates as people read them: each pupil's expected outcome, most likely grade or band and chance of
reaching each of the outcome's marks (e.g. grade 4 or above, or KS2's expected standard); a year
group's expected outcome (the sum of its pupils' estimates); and one pupil's distribution over every
outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.engine import FittedOutcome
from keystage.core.measures.group_figures import SUPPRESS_BELOW


def marks(outcome: FittedOutcome) -> tuple[tuple[str, float], ...]:
    return outcome.model.outcome.marks


def _chance(probabilities: np.ndarray, values: tuple[float, ...], at_least: float) -> np.ndarray:
    chosen = np.asarray(values) >= at_least - 1e-9
    return np.asarray(probabilities[:, chosen].sum(axis=1))


def pupil_rows(
    pupils: pl.DataFrame, outcome: FittedOutcome, scored: pl.DataFrame, level: int
) -> list[dict[str, Any]]:
    """One row per pupil (pupils without prior attainment too, with no estimate), in ``pupils``'s order:
    upn, surname, forename, nc_year, prior, expected, most_likely and ``chance_1``, ``chance_2``, ... of
    reaching each of the outcome's marks in order."""
    at_level = scored.filter(pl.col("level") == level)
    by_upn = {row[0]: i for i, row in enumerate(at_level.select("upn").iter_rows())}
    probabilities = (
        np.asarray(at_level.get_column("probabilities").to_list()) if at_level.height else np.zeros((0, 0))
    )
    expected = at_level.get_column("expected").to_list() if at_level.height else []
    labels, values = outcome.model.outcome.labels, outcome.model.outcome.values
    chances = [_chance(probabilities, values, mark) for _, mark in marks(outcome)] if at_level.height else []
    rows = []
    for pupil in pupils.iter_rows(named=True):
        row: dict[str, Any] = {
            "upn": pupil["upn"],
            "surname": pupil.get("surname", ""),
            "forename": pupil.get("forename", ""),
            "nc_year": pupil.get("nc_year"),
            "prior": pupil["prior"],
            "expected": None,
            "most_likely": None,
            **{f"chance_{i}": None for i in range(1, len(marks(outcome)) + 1)},
        }
        index = by_upn.get(pupil["upn"])
        if index is not None:
            row["expected"] = expected[index]
            row["most_likely"] = labels[int(np.argmax(probabilities[index]))]
            for i, chance in enumerate(chances, start=1):
                row[f"chance_{i}"] = float(chance[index])
        rows.append(row)
    return rows


@dataclass(frozen=True)
class CohortRow:
    nc_year: int | None  # None: every year group together
    pupils: int
    with_prior: int
    expected: float | None  # the mean estimate of pupils with prior attainment
    reaching: tuple[float, ...]  # how many are expected to reach each mark (the sum of their chances)
    distribution: tuple[float, ...]  # the expected share of the cohort in each category

    def suppressed_for(self, *, sees_pupils: bool) -> bool:
        """Whether its figures are withheld from this reader: from one who may not see pupils, when
        fewer than SUPPRESS_BELOW pupils make them (they could point at a pupil)."""
        return not sees_pupils and 0 < self.with_prior < SUPPRESS_BELOW


def cohort_rows(
    pupils: pl.DataFrame, outcome: FittedOutcome, scored: pl.DataFrame, level: int
) -> list[CohortRow]:
    """Each year group's expected outcome (then all of them): the sum of its pupils' estimates."""
    at_level = scored.filter(pl.col("level") == level).join(
        pupils.select("upn", "nc_year"), on="upn", how="left"
    )
    values = outcome.model.outcome.values
    years: list[int | None] = sorted(set(pupils.get_column("nc_year").to_list())) if pupils.height else []
    if len(years) > 1:
        years.append(None)
    rows = []
    for year in years:
        mine = at_level if year is None else at_level.filter(pl.col("nc_year") == year)
        on_roll = pupils.height if year is None else pupils.filter(pl.col("nc_year") == year).height
        probabilities = np.asarray(mine.get_column("probabilities").to_list()) if mine.height else None
        rows.append(
            CohortRow(
                nc_year=year,
                pupils=on_roll,
                with_prior=mine.height,
                expected=float(mine.get_column("expected").mean()) if mine.height else None,  # type: ignore[arg-type]
                reaching=tuple(
                    float(_chance(probabilities, values, mark).sum()) if probabilities is not None else 0.0
                    for _, mark in marks(outcome)
                ),
                distribution=tuple(float(v) for v in probabilities.mean(axis=0))
                if probabilities is not None
                else tuple(0.0 for _ in values),
            )
        )
    return rows


@dataclass(frozen=True)
class PupilOutcome:
    key: str
    name: str
    kind: str  # "grade" or "band"
    labels: tuple[str, ...]
    expected: dict[int, float]  # at each ambition level
    distribution: tuple[float, ...]  # at the chosen level
    chances: tuple[tuple[str, float], ...]  # of reaching each mark, at the chosen level


def pupil_outcomes(
    pupil: pl.DataFrame, outcomes: list[FittedOutcome], scored: dict[str, pl.DataFrame], level: int
) -> list[PupilOutcome]:
    """One pupil's estimate of every outcome: expected value at each level, distribution at ``level``."""
    upn = pupil.get_column("upn").item()
    found = []
    for outcome in outcomes:
        rows = scored[outcome.key].filter(pl.col("upn") == upn)
        if rows.height == 0:
            continue
        expected = {int(r["level"]): float(r["expected"]) for r in rows.iter_rows(named=True)}
        chosen = np.asarray(rows.filter(pl.col("level") == level).get_column("probabilities").to_list())
        values = outcome.model.outcome.values
        found.append(
            PupilOutcome(
                key=outcome.key,
                name=outcome.name,
                kind=outcome.model.outcome.kind,
                labels=outcome.model.outcome.labels,
                expected={lvl: expected[lvl] for lvl in LEVELS if lvl in expected},
                distribution=tuple(float(v) for v in chosen[0]),
                chances=tuple(
                    (label, float(_chance(chosen, values, mark)[0])) for label, mark in marks(outcome)
                ),
            )
        )
    return found
