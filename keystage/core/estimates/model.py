"""The estimates model: a cumulative logit (proportional odds) model of an ordered outcome given prior
attainment, sex and month of birth (and, when asked, disadvantage), fitted by Fisher scoring.

For a pupil with prior attainment x, the model reads a single number, the pupil's *index*:

    index = s(x) + female * b_female + months_younger * b_month [+ disadvantaged * b_disadvantaged]

where s is piecewise linear in prior attainment, rising (or flat) between knots at quantiles of the
national prior attainment, and flat beyond the lowest and highest prior attainment seen. The chance of an
outcome at or below category j is then logistic(threshold_j - index). So a higher index moves the whole
distribution up, and because s never falls, a pupil with higher prior attainment (everything else the
same) never gets a lower estimate: estimates are monotone in prior attainment by construction.

The model is fitted on counts: pupils are grouped into cells of the same covariates, so a national cohort
of 600,000 pupils is a few thousand cells and a fit takes a fraction of a second. Everything here is plain
NumPy and deterministic: the same data always give the same model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from keystage.core.jsonsafe import finite_or_none
from keystage.core.refusals import Refused

Array = NDArray[np.float64]

# The covariates besides prior attainment, in the order of their coefficients.
BASE_COVARIATES = ("female", "months_younger")
CONTEXTUAL_COVARIATES = ("disadvantaged",)
# Knots at these quantiles of the national prior attainment (deduplicated): ten pieces.
KNOT_QUANTILES = (0.0, 0.02, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.98, 1.0)
_MOST_STEPS = 100
_TOLERANCE = 1e-9


class EstimatesError(Refused, ValueError):
    """Data that cannot give a model (no pupils, one outcome only, no spread of prior attainment)."""


def months_younger(month_of_birth: pl.Expr) -> pl.Expr:
    """Months after September the pupil was born (September 0 … August 11): the youngest in a
    school year are born in August."""
    return ((month_of_birth.cast(pl.Int16) - 9) % 12).cast(pl.Float64)


@dataclass(frozen=True)
class Outcome:
    """An ordered outcome: its categories' labels (lowest first) and the value each stands for (grade
    points, or the mean of a band of a continuous outcome), which the expected value is made of.
    ``marks``: the standards whose chance people read, e.g. ("grade 4 or above", 4.0): a pupil's chance
    is that of every category worth at least the value. ``kind`` says how categories are named on a
    chart ("grade" or "band")."""

    name: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    unit: str = "points"
    marks: tuple[tuple[str, float], ...] = ()
    kind: str = "grade"

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.values) or len(self.labels) < 2:
            raise EstimatesError(f"{self.name}: an outcome needs two or more categories, each with a value.")


@dataclass(frozen=True)
class OrdinalModel:
    """A fitted model (see the module's description). ``slopes[k]`` is the rise of the index per point
    of prior attainment between ``knots[k]`` and ``knots[k + 1]``; ``coefficients`` are those of
    ``covariates``; ``thresholds`` has one fewer entry than the outcome has categories."""

    outcome: Outcome
    knots: tuple[float, ...]
    slopes: tuple[float, ...]
    covariates: tuple[str, ...]
    coefficients: tuple[float, ...]
    thresholds: tuple[float, ...]
    pupils: int
    log_likelihood: float
    # None: the data did not determine it (a singular information matrix); the pages say "not
    # estimated". Never NaN, which a JSON column cannot hold.
    standard_errors: dict[str, float | None] = field(default_factory=dict)

    @property
    def contextual(self) -> bool:
        return any(name in CONTEXTUAL_COVARIATES for name in self.covariates)

    def index(self, frame: pl.DataFrame) -> Array:
        """Each row's index (``prior``, and the model's covariates, as columns)."""
        prior = frame.get_column("prior").to_numpy().astype(np.float64)
        covariates = _covariate_matrix(frame, self.covariates) @ np.asarray(self.coefficients)
        # Prior attainment takes few values (KS2's is in half points): each one's part worked out once.
        distinct, where = np.unique(prior, return_inverse=True)
        return np.asarray(
            _prior_part(distinct, self.knots, self.slopes)[where] + covariates, dtype=np.float64
        )

    def probabilities(self, frame: pl.DataFrame, shift: float = 0.0) -> Array:
        """Each row's chance of each category (rows x categories); ``shift`` raises every index, as a
        school with that much value added would (see ``ambition``)."""
        return self.probabilities_at(self.index(frame) + shift)

    def probabilities_at(self, index: Array) -> Array:
        """``probabilities`` for rows whose index is known. Pupils with the same prior attainment and
        covariates share an index, so each distinct index's chances are worked out once."""
        distinct, where = np.unique(index, return_inverse=True)
        return _category_probabilities(distinct, np.asarray(self.thresholds))[where]

    def expected(self, probabilities: Array) -> Array:
        return np.asarray(probabilities @ np.asarray(self.outcome.values), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": {
                "name": self.outcome.name,
                "labels": list(self.outcome.labels),
                "values": list(self.outcome.values),
                "unit": self.outcome.unit,
                "marks": [[label, value] for label, value in self.outcome.marks],
                "kind": self.outcome.kind,
            },
            "knots": list(self.knots),
            "slopes": list(self.slopes),
            "covariates": list(self.covariates),
            "coefficients": list(self.coefficients),
            "thresholds": list(self.thresholds),
            "pupils": self.pupils,
            "log_likelihood": finite_or_none(self.log_likelihood),
            "standard_errors": {name: finite_or_none(error) for name, error in self.standard_errors.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrdinalModel:
        outcome = data["outcome"]
        return cls(
            outcome=Outcome(
                name=outcome["name"],
                labels=tuple(outcome["labels"]),
                values=tuple(float(v) for v in outcome["values"]),
                unit=outcome.get("unit", "points"),
                marks=tuple((str(label), float(value)) for label, value in outcome.get("marks", [])),
                kind=outcome.get("kind", "grade"),
            ),
            knots=tuple(float(k) for k in data["knots"]),
            slopes=tuple(float(s) for s in data["slopes"]),
            covariates=tuple(data["covariates"]),
            coefficients=tuple(float(c) for c in data["coefficients"]),
            thresholds=tuple(float(t) for t in data["thresholds"]),
            pupils=int(data["pupils"]),
            log_likelihood=math.nan if data["log_likelihood"] is None else float(data["log_likelihood"]),
            standard_errors={
                k: None if v is None else float(v) for k, v in data.get("standard_errors", {}).items()
            },
        )


def _logistic(x: Array) -> Array:
    """0.5 (1 + tanh(x / 2)): no overflow warnings; worked in place, as arrays here can be large."""
    result = np.multiply(x, 0.5, dtype=np.float64)
    np.tanh(result, out=result)
    result += 1.0
    result *= 0.5
    return result


def _ramps(prior: Array, knots: tuple[float, ...] | Array) -> Array:
    """The piecewise-linear basis: column k is how far x is into the piece from knot k to knot k+1."""
    edges = np.asarray(knots, dtype=np.float64)
    return np.clip(prior[:, None], edges[:-1], edges[1:]) - edges[:-1]


def _prior_part(prior: Array, knots: tuple[float, ...], slopes: tuple[float, ...]) -> Array:
    return np.asarray(_ramps(prior, knots) @ np.asarray(slopes), dtype=np.float64)


# A pupil whose sex or month of birth is not known is scored halfway between (a fit leaves them out):
# no guess that favours or disfavours them. Unknown disadvantage counts as not disadvantaged, as the
# measures count it.
NEUTRAL = {"female": 0.5, "months_younger": 5.5, "disadvantaged": 0.0}


def _covariate_matrix(frame: pl.DataFrame, covariates: tuple[str, ...]) -> Array:
    if not covariates:
        return np.zeros((frame.height, 0))
    return np.column_stack(
        [
            frame.get_column(name).cast(pl.Float64).fill_null(NEUTRAL.get(name, 0.0)).to_numpy()
            for name in covariates
        ]
    )


def _category_probabilities(index: Array, thresholds: Array) -> Array:
    below = _logistic(thresholds[None, :] - index[:, None])  # P(outcome <= j), j < last
    # Differences of the cumulative chances (0 before the first, 1 after the last), filled in place.
    j = below.shape[1]
    probabilities = np.empty((len(index), j + 1))
    probabilities[:, :j] = below
    probabilities[:, j] = 1.0
    probabilities[:, 1:] -= below
    return probabilities


@dataclass(frozen=True)
class Cells:
    """Pupils grouped by identical covariates: each cell's design row and its count per category."""

    prior: Array
    covariates: Array  # cells x covariates
    counts: Array  # cells x categories


def cells(frame: pl.DataFrame, covariates: tuple[str, ...], categories: int) -> Cells:
    """``frame``: one row per pupil with ``prior``, the covariates and ``category`` (0 … categories-1)."""
    keys = ["prior", *covariates]
    grouped = (
        frame.select(*(pl.col(k).cast(pl.Float64) for k in keys), pl.col("category").cast(pl.Int64))
        .group_by([*keys, "category"])
        .len()
        .pivot(on="category", index=keys, values="len", aggregate_function="sum")
        .fill_null(0)
        .sort(keys)
    )
    counts = np.zeros((grouped.height, categories))
    for name in grouped.columns[len(keys) :]:
        counts[:, int(name)] = grouped.get_column(name).to_numpy()
    return Cells(
        prior=grouped.get_column("prior").to_numpy().astype(np.float64),
        covariates=_covariate_matrix(grouped, covariates),
        counts=counts,
    )


MOST_DISTINCT_PRIORS = 25  # fewer distinct prior attainments than this: a knot at each


def choose_knots(prior: Array, weights: Array | None = None) -> tuple[float, ...]:
    """Knots at fixed quantiles of prior attainment (weighted by pupils), without repeats; when prior
    attainment takes only a few values (KS1's average point score), a knot at each, so every value has
    its own level (still never falling)."""
    distinct = np.unique(prior)
    if 2 <= len(distinct) <= MOST_DISTINCT_PRIORS:
        return tuple(float(v) for v in distinct)
    order = np.argsort(prior)
    values = prior[order]
    w = np.ones_like(values) if weights is None else weights[order]
    cumulative = np.cumsum(w) / w.sum()
    knots = [float(values[min(int(np.searchsorted(cumulative, q)), len(values) - 1)]) for q in KNOT_QUANTILES]
    knots[0], knots[-1] = float(values[0]), float(values[-1])
    unique = sorted(set(knots))
    if len(unique) < 2:
        raise EstimatesError("Every pupil has the same prior attainment: there is nothing to fit.")
    return tuple(unique)


@dataclass
class _Fit:
    thresholds: Array
    weights: Array  # the coefficients of the design's columns
    log_likelihood: float
    information: Array


def _log_likelihood(counts: Array, probabilities: Array) -> float:
    with np.errstate(divide="ignore"):
        logs = np.where(counts > 0, np.log(np.maximum(probabilities, 1e-300)), 0.0)
    return float((counts * logs).sum())


def _fisher_scoring(data: Cells, design: Array, start: Array, categories: int) -> _Fit:
    """Maximum likelihood for thresholds (the first categories-1 parameters) and the coefficients of
    ``design`` (cells x p). Each step solves the expected information against the score, halved until
    the likelihood rises and the thresholds stay in order."""
    j = categories - 1
    totals = data.counts.sum(axis=1)
    params = start.copy()

    def evaluate(params: Array) -> tuple[Array, Array, Array]:
        index = design @ params[j:]
        below = _logistic(params[:j][None, :] - index[:, None])
        density = below * (1.0 - below)  # f_k = F_k (1 - F_k)
        cumulative = np.hstack([np.zeros((len(index), 1)), below, np.ones((len(index), 1))])
        return np.diff(cumulative, axis=1), density, index

    def likelihood(params: Array) -> float:
        if j > 1 and np.any(np.diff(params[:j]) <= 0):
            return -math.inf
        probabilities, _, _ = evaluate(params)
        return _log_likelihood(data.counts, probabilities)

    current = likelihood(params)
    information = np.eye(len(params))
    for _ in range(_MOST_STEPS):
        probabilities, density, _ = evaluate(params)
        p = np.maximum(probabilities, 1e-300)
        score, information = _score_and_information(data.counts, totals, p, density, design)
        try:
            step = np.linalg.solve(information + 1e-10 * np.eye(len(params)), score)
        except np.linalg.LinAlgError as error:
            raise EstimatesError(
                "The data do not determine the model (a singular information matrix)."
            ) from error
        size = 1.0
        while True:
            trial = params + size * step
            value = likelihood(trial)
            if value >= current - 1e-12 * abs(current) or size < 1e-6:
                break
            size /= 2
        if value < current - 1e-12 * abs(current):
            break
        params, previous, current = trial, current, value
        if (
            abs(current - previous) <= _TOLERANCE * max(1.0, abs(current))
            and np.max(np.abs(size * step)) < 1e-6
        ):
            break
    return _Fit(
        thresholds=params[:j],
        weights=params[j:],
        log_likelihood=current,
        information=information,
    )


def _score_and_information(
    counts: Array, totals: Array, p: Array, density: Array, design: Array
) -> tuple[Array, Array]:
    """The score and the expected information (sum over cells and categories of n / p (dp)(dp)') of
    the thresholds and the coefficients of ``design``, from each cell's category probabilities ``p``
    and densities f_k = F_k (1 - F_k) at the thresholds.

    d p_c / d threshold_k is +f_k for c == k and -f_k for c == k + 1, and d p_c / d coefficients is
    -(f_c - f_{c-1}) times the cell's design row, so the information is worked out in blocks: the
    thresholds' is tridiagonal, the rest are products with the design (cells x parameters), never the
    cells x categories x parameters Jacobian, many times the work."""
    cells, j = density.shape
    weight = totals[:, None] / p  # n / p per cell and category
    padded = np.hstack([np.zeros((cells, 1)), density, np.zeros((cells, 1))])
    d_index = -(padded[:, 1:] - padded[:, :-1])  # per category
    ratio = counts / p
    # Thresholds: category k and k + 1 depend on threshold k.
    score_thresholds = density * (ratio[:, :j] - ratio[:, 1:])
    score_coefficients = design.T @ (ratio * d_index).sum(axis=1)
    diagonal = (density**2 * (weight[:, :j] + weight[:, 1:])).sum(axis=0)
    beside = -(density[:, :-1] * density[:, 1:] * weight[:, 1:j]).sum(axis=0)
    thresholds = np.diag(diagonal) + np.diag(beside, 1) + np.diag(beside, -1)
    across = design.T @ (density * (weight[:, :j] * d_index[:, :j] - weight[:, 1:] * d_index[:, 1:]))
    coefficients = design.T @ (design * (weight * d_index**2).sum(axis=1)[:, None])
    information = np.block([[thresholds, across.T], [across, coefficients]])
    return np.concatenate([score_thresholds.sum(axis=0), score_coefficients]), information


def _standard_errors(information: Array) -> Array:
    """Each parameter's standard error from the expected information; NaN for a parameter the data
    do not determine (e.g. the coefficient of a covariate every pupil shares), which is stored as
    none. Where the information is singular, the parameters outside its null space keep theirs (from
    the pseudo-inverse)."""
    size = len(information)
    if size == 0 or not np.all(np.isfinite(information)):
        return np.full(size, math.nan)
    values, vectors = np.linalg.eigh((information + information.T) / 2)
    tolerance = max(float(values.max(initial=0.0)), 1.0) * size * 1e-12
    null = vectors[:, values <= tolerance]
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.where(values > tolerance, 1.0 / np.where(values > tolerance, values, 1.0), 0.0)
        variances = (vectors**2) @ kept
    # A parameter with any weight in the null space has no finite variance.
    undetermined = (null**2).sum(axis=1) > 1e-9 if null.size else np.zeros(size, dtype=bool)
    errors = np.sqrt(np.maximum(variances, 0.0))
    errors[undetermined] = math.nan
    return np.asarray(errors, dtype=np.float64)


def fit(
    frame: pl.DataFrame,
    outcome: Outcome,
    *,
    contextual: bool = False,
    knots: tuple[float, ...] | None = None,
) -> OrdinalModel:
    """Fit the model to one row per pupil: ``prior`` (float), ``female`` (bool), ``months_younger``
    (0-11), ``disadvantaged`` (bool; used only when ``contextual``) and ``category`` (the index of the
    pupil's outcome in ``outcome.labels``). Pupils without prior attainment or outcome are left out.

    The prior attainment pieces must rise: a piece whose best fit falls is joined to its neighbour and
    the model fitted again, until none falls (the usual pool-adjacent-violators step)."""
    covariates = BASE_COVARIATES + (CONTEXTUAL_COVARIATES if contextual else ())
    categories = len(outcome.labels)
    used = frame.filter(
        pl.col("prior").is_not_null()
        & pl.col("prior").is_not_nan()
        & pl.col("category").is_not_null()
        & pl.all_horizontal(pl.col(c).is_not_null() for c in covariates)
    )
    if used.height == 0:
        raise EstimatesError(f"{outcome.name}: no pupil has both prior attainment and an outcome.")
    data = cells(used, covariates, categories)
    seen = data.counts.sum(axis=0)
    if np.count_nonzero(seen) < 2:
        raise EstimatesError(
            f"{outcome.name}: every pupil has the same outcome; there is nothing to estimate."
        )
    if np.any(seen == 0):
        missing = ", ".join(label for label, n in zip(outcome.labels, seen, strict=True) if n == 0)
        raise EstimatesError(f"{outcome.name}: no pupil has {missing}; leave the category out.")
    edges = list(knots or choose_knots(data.prior, data.counts.sum(axis=1)))
    # Start from the national distribution: thresholds at its cumulative logits, every slope flat.
    shares = np.cumsum(seen)[:-1] / seen.sum()
    start_thresholds = np.log(shares / (1 - shares))
    slopes: Array | None = None
    while True:
        design = np.hstack([_ramps(data.prior, tuple(edges)), data.covariates])
        start = np.concatenate([start_thresholds, np.zeros(design.shape[1])])
        if slopes is not None and len(slopes) == len(edges) - 1:
            start[len(start_thresholds) : len(start_thresholds) + len(slopes)] = slopes
        result = _fisher_scoring(data, design, start, categories)
        pieces = len(edges) - 1
        slopes = result.weights[:pieces]
        falling = np.flatnonzero(slopes < 0)
        if len(falling) == 0 or pieces == 1:
            break
        # Join the piece that falls most to the neighbour beside it that rises more.
        worst = int(falling[np.argmin(slopes[falling])])
        if worst == 0:
            del edges[1]
        elif worst == pieces - 1:
            del edges[-2]
        else:
            del edges[worst if slopes[worst - 1] >= slopes[worst + 1] else worst + 1]
        slopes = None
    pieces = len(edges) - 1
    if result.weights[0] < 0 and pieces == 1:
        # Outcomes fall with prior attainment overall: fitted again with it flat (no slope), so the
        # thresholds and coefficients are those of the model as stored.
        flat = np.hstack([np.zeros((len(data.prior), 1)), data.covariates])
        start = np.concatenate([start_thresholds, np.zeros(flat.shape[1])])
        result = _fisher_scoring(data, flat, start, categories)
    final_slopes = np.maximum(result.weights[:pieces], 0.0)
    j = categories - 1
    errors = _standard_errors(result.information)
    names = (
        [f"threshold {k + 1}" for k in range(j)]
        + [f"slope {k + 1}" for k in range(pieces)]
        + list(covariates)
    )
    return OrdinalModel(
        outcome=outcome,
        knots=tuple(float(k) for k in edges),
        slopes=tuple(float(s) for s in final_slopes),
        covariates=covariates,
        coefficients=tuple(float(c) for c in result.weights[pieces:]),
        thresholds=tuple(float(t) for t in result.thresholds),
        pupils=int(data.counts.sum()),
        log_likelihood=result.log_likelihood,
        # A parameter the information matrix does not pin down has no standard error (None).
        standard_errors={name: finite_or_none(float(e)) for name, e in zip(names, errors, strict=True)},
    )
