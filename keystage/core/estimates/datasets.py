"""The data a model is fitted on and scores: one row per pupil with prior attainment, the covariates and,
for fitting, the outcome as a category and a value.

Pupil columns (``pupil_frame``): school, upn, prior, female, months_younger, disadvantaged, sen, eal.
An outcome's frame adds ``category`` (index into its labels) and ``value`` (the actual outcome: grade
points, or Attainment 8 itself for a banded outcome).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from keystage.core.estimates.model import EstimatesError, Outcome, months_younger
from keystage.core.measures.primary import progress
from keystage.core.measures.primary.progress import ProgressTables
from keystage.core.reference.frameworks import Framework

SMALLEST_BAND = 50  # pupils nationally: a thinner band or grade is joined to its neighbour
FEWEST_ENTRANTS = 500  # pupils with prior attainment nationally, for a subject to get estimates
MOST_GRADES = 20


@dataclass(frozen=True)
class OutcomeData:
    key: str  # a stable name for storing and linking: "a8", or "subject:<code>"
    outcome: Outcome
    frame: pl.DataFrame


def pupil_frame(pupils: pl.DataFrame, prior: str) -> pl.DataFrame:
    """The model's columns from a measures pupil table (school, upn, ``prior``, sex, month_of_birth,
    disadvantaged and, if there, sen and eal)."""
    optional = [pl.col(c) for c in ("sen", "eal") if c in pupils.columns]
    return pupils.select(
        pl.col("school").cast(pl.String),
        pl.col("upn"),
        pl.col(prior).cast(pl.Float64).fill_nan(None).alias("prior"),
        # Not known (null, or neither F nor M): left out of fits, scored halfway (model.NEUTRAL).
        pl.when(pl.col("sex").is_in(["F", "M"])).then(pl.col("sex") == "F").alias("female"),
        months_younger(pl.col("month_of_birth")).alias("months_younger"),
        pl.col("disadvantaged").fill_null(False),
        *optional,
    )


def join_thin(
    sizes: list[int], least: int = SMALLEST_BAND, barriers: frozenset[int] | set[int] = frozenset()
) -> list[list[int]]:
    """Consecutive categories joined until each run has ``least`` pupils (or two runs are left): a thin
    run joins its neighbour on the side of the median pupil, so the rare extremes fold inwards. A run
    never spans a barrier (a category that must start a run, such as the first at or above a mark, so
    that "the chance of reaching the mark" stays exact); a thin run boxed in by barriers stays thin."""
    runs = [[k] for k in range(len(sizes))]
    total = sum(sizes)
    cumulative = np.cumsum(sizes)
    middle = int(np.searchsorted(cumulative, total / 2)) if total else 0
    kept: set[int] = set()  # first categories of thin runs that cannot be joined

    def size(run: list[int]) -> int:
        return sum(sizes[k] for k in run)

    def joinable(i: int, j: int) -> bool:
        return runs[max(i, j)][0] not in barriers

    while len(runs) > 2:
        thin = [i for i, run in enumerate(runs) if size(run) < least and run[0] not in kept]
        if not thin:
            break
        i = thin[0]
        upwards = i == 0 or (i < len(runs) - 1 and runs[i][-1] < middle)
        choices = [i + 1, i - 1] if upwards else [i - 1, i + 1]
        j = next(
            (j for j in choices if 0 <= j < len(runs) and joinable(i, j)),
            None,
        )
        if j is None:
            kept.add(runs[i][0])
            continue
        low, high = min(i, j), max(i, j)
        runs[low : high + 1] = [runs[low] + runs[high]]
    return runs


def _barriers(values: list[float], marks: tuple[tuple[str, float], ...]) -> set[int]:
    """For each mark, the first category (by value, ascending) at or above it."""
    found = set()
    for _, mark in marks:
        first = next((k for k, value in enumerate(values) if value >= mark - 1e-9), None)
        if first:
            found.add(first)
    return found


def banded_outcome(
    name: str,
    frame: pl.DataFrame,
    column: str,
    *,
    width: float,
    top: float,
    start: float = 0.0,
    unit: str = "points",
    marks: tuple[tuple[str, float], ...] = (),
    key: str | None = None,
) -> OutcomeData:
    """A continuous outcome in bands of ``width`` from ``start`` to ``top`` (values below ``start`` in
    the first band, named "under ..."), thin bands (fewer than ``SMALLEST_BAND`` pupils) joined to the
    neighbour towards the middle; each band's value is the mean of its pupils' outcomes. A mark
    should fall on a band's edge, so that "at least the mark" is whole bands."""
    present = frame.with_columns(pl.col(column).cast(pl.Float64).alias("value")).filter(
        pl.col("value").is_not_null() & pl.col("value").is_not_nan()
    )
    count = math.ceil((top - start) / width)
    band = np.clip(np.floor((present.get_column("value").to_numpy() - start) / width), 0, count - 1).astype(
        np.int64
    )
    band_lows = [start + k * width for k in range(count)]
    runs = join_thin(np.bincount(band, minlength=count).tolist(), barriers=_barriers(band_lows, marks))
    edges = [run[0] for run in runs] + [count]  # category k is bands edges[k] to edges[k+1] - 1
    category = np.searchsorted(np.asarray(edges[1:-1]), band, side="right")
    with_category = present.with_columns(pl.Series("category", category.astype(np.int64)))
    means = with_category.group_by("category").agg(pl.col("value").mean()).sort("category")
    below_start = bool((present.get_column("value") < start).any())
    labels = []
    for k in range(len(edges) - 1):
        low, high = start + edges[k] * width, start + edges[k + 1] * width
        if k == len(edges) - 2:
            labels.append(f"{low:g} or more")
        elif k == 0 and below_start:
            labels.append(f"under {high:g}")
        else:
            labels.append(f"{low:g} to under {high:g}")
    # A mark counts the bands that start at or above it: their values are their means, so compare
    # with each band's lower edge instead (a band's mean may sit above the mark it starts at).
    values = tuple(means.get_column("value").to_list())
    lows = [start + edges[k] * width for k in range(len(edges) - 1)]
    shifted = tuple((label, _first_value_from(mark, lows, values)) for label, mark in marks)
    return OutcomeData(
        key=key or column,
        outcome=Outcome(name, tuple(labels), values, unit, shifted, kind="band"),
        frame=with_category,
    )


def _first_value_from(mark: float, lows: list[float], values: tuple[float, ...]) -> float:
    """The value of the first band starting at or above ``mark``: "at least this value" is then
    exactly the bands from there up (values rise band by band)."""
    for low, value in zip(lows, values, strict=True):
        if low >= mark - 1e-9:
            return value
    return math.inf


GCSE_MARKS = (("grade 4 or above", 4.0), ("grade 5 or above", 5.0))


def graded_outcome(
    key: str, name: str, frame: pl.DataFrame, marks: tuple[tuple[str, float], ...] | None = None
) -> OutcomeData:
    """A graded outcome: ``frame`` has each pupil's ``points`` and ``grade`` (text); a category per
    distinct points value, labelled by the grade most often given those points. ``marks`` default to
    GCSE's standard and strong passes when every grade is a 9-1 grade (or a pair, as combined
    science's "54"), else none."""
    grades = (
        frame.group_by("points", "grade")
        .len()
        .sort(["points", "len", "grade"], descending=[False, True, False])
        .group_by("points", maintain_order=True)
        .agg(pl.col("grade").first(), pl.col("len").sum())
        .sort("points")
    )
    if grades.height > MOST_GRADES:
        raise EstimatesError(f"{name}: more than {MOST_GRADES} different points; not a graded outcome.")
    points, labels = grades.get_column("points").to_list(), grades.get_column("grade").to_list()
    if marks is None:
        nine_to_one = all(label == "U" or (label.isdigit() and len(label) <= 2) for label in labels)
        marks = GCSE_MARKS if nine_to_one else ()
    runs = join_thin(grades.get_column("len").to_list(), barriers=_barriers(points, marks))
    number = {points[k]: i for i, run in enumerate(runs) for k in run}
    labelled = frame.with_columns(
        pl.col("points").replace_strict(number, return_dtype=pl.Int64).alias("category"),
        pl.col("points").alias("value"),
    )
    means = labelled.group_by("category").agg(pl.col("value").mean()).sort("category")
    return OutcomeData(
        key=key,
        outcome=Outcome(
            name,
            tuple(
                labels[run[0]] if len(run) == 1 else f"{labels[run[0]]} to {labels[run[-1]]}" for run in runs
            ),
            tuple(means.get_column("value").to_list()),
            "grade points",
            marks,
            kind="grade",
        ),
        frame=labelled,
    )


def ks4_outcomes(pupils: pl.DataFrame, entries: pl.DataFrame | None = None) -> list[OutcomeData]:
    """KS2 to KS4: Attainment 8 in bands of 5 points, then each subject's grade for pupils who entered
    it (subjects with ``FEWEST_ENTRANTS`` or more entrants with prior attainment). ``pupils``: a KS4
    measures pupil table (with ``ks2_pa`` and ``a8``); ``entries``: ``SubjectMeasures.entries()``."""
    base = pupil_frame(pupils, "ks2_pa").with_columns(pupils.get_column("a8").cast(pl.Float64).alias("a8"))
    found = [banded_outcome("Attainment 8", base, "a8", width=5, top=90)]
    if entries is None:
        return found
    with_prior = entries.join(base.filter(pl.col("prior").is_not_null()).select("upn"), on="upn", how="semi")
    counts = with_prior.group_by("subject", "subject_name").len().filter(pl.col("len") >= FEWEST_ENTRANTS)
    for subject, name in counts.sort("subject_name").select("subject", "subject_name").iter_rows():
        mine = entries.filter(pl.col("subject") == subject).select("upn", "points", "grade")
        frame = base.join(mine, on="upn", how="inner")
        try:
            found.append(graded_outcome(f"subject:{subject}", name, frame))
        except EstimatesError:
            continue  # not graded like a GCSE: no estimate
    return found


KS2_SCALED_MARKS = (("the expected standard (100 or more)", 100.0), ("a high score (110 or more)", 110.0))
RWM_KEY = "ks2_rwm"


def ks2_outcomes(frame: pl.DataFrame, framework: Framework, tables: ProgressTables) -> list[OutcomeData]:
    """KS1 to KS2 (Year 3 estimates): reading and maths (KS2 scores in bands of two, a pupil working
    below the test at its nominal score, as KS2 progress counts them), writing (the teacher assessment)
    and reading, writing and maths together at the expected standard, from the KS1 average point score.

    ``frame``: one row per Year 6 pupil with school, upn, sex, month_of_birth, disadvantaged (sen,
    eal), and their KS1 and KS2 results as columns named like the assessments (``ks1_reading_ta`` ...,
    ``ks2_reading_test``, ``ks2_writing_ta`` ...)."""
    scores = frame.with_columns(
        progress.ks1_aps(tables).alias("ks1_aps"),
        *(progress.ks2_score(s, framework, tables).alias(f"_{s}") for s in ("reading", "writing", "maths")),
        pl.col("ks2_writing_ta").alias("_writing_ta"),
    )
    base = pupil_frame(scores, "ks1_aps").with_columns(
        scores.get_column("_reading"), scores.get_column("_maths"), scores.get_column("_writing"),
        scores.get_column("_writing_ta"),
    )  # fmt: skip
    found = [
        banded_outcome(
            f"KS2 {subject}",
            base,
            f"_{subject}",
            width=2,
            top=120,
            start=80,
            unit="scaled score",
            marks=KS2_SCALED_MARKS,
            key=f"ks2_{subject}",
        )
        for subject in ("reading", "maths")
    ]
    writing_points = tables.numbers(tables.writing)
    writing = base.filter(pl.col("_writing").is_not_null()).select(
        *[c for c in base.columns if not c.startswith("_")],
        pl.col("_writing").alias("points"),
        pl.col("_writing_ta").alias("grade"),
    )
    found.append(
        graded_outcome(
            "ks2_writing",
            "KS2 writing",
            writing,
            marks=(
                ("the expected standard (EXS or GDS)", writing_points["EXS"]),
                ("greater depth (GDS)", writing_points["GDS"]),
            ),
        )
    )
    met = (
        (pl.col("_reading") >= 100)
        & (pl.col("_maths") >= 100)
        & (pl.col("_writing") >= writing_points["EXS"])
    ).cast(pl.Float64)
    both = base.with_columns(met.alias("value")).filter(pl.col("value").is_not_null())
    found.append(
        OutcomeData(
            key=RWM_KEY,
            outcome=Outcome(
                "KS2 reading, writing and maths",
                ("not all three", "all three at the expected standard"),
                (0.0, 1.0),
                "share",
                (("the expected standard in all three", 1.0),),
                kind="outcome",
            ),
            frame=both.with_columns(pl.col("value").cast(pl.Int64).alias("category")),
        )
    )
    return found
