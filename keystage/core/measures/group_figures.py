"""Figures per school (or trust, LA, nation) and pupil group for measures that are a share of pupils
(GLD, phonics standard met, expected standard) or a mean over pupils (average ELGs, average scaled
score): what the primary key stages report.

Each measure names a pupil column and says who counts: a share's column is yes/no per pupil, empty for
a pupil outside its denominator (e.g. absent from a test that the rules leave out); a mean's column is a
number, empty for a pupil without one. Every figure comes with the number of pupils it counts, so the
reports can suppress small groups (``suppressed``) and say what a figure is out of.

The pupil groups are those of the KS4 school figures (``schools.GROUPS``). Figures are worked from exact
whole numbers (counts, and means as sums of values fixed to 1e-9), so the order of rows never changes
one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from keystage.core.measures.ks4.schools import (
    GroupSpec,
    chosen_groups,
    comparator_for,
    group_codes,
    value_names,
)

SUPPRESS_BELOW = 6  # DfE's usual threshold: figures of fewer pupils are not shown
# Columns a key stage may add beside a figure (``<name>_<extra>``, e.g. KS2 progress's CI).
FIGURE_EXTRAS = ("ci_low", "ci_high", "significance")
_SCALE = 1_000_000_000


@dataclass(frozen=True)
class Share:
    """The share of pupils whose ``column`` is yes, out of those for whom it is yes or no."""

    column: str


@dataclass(frozen=True)
class Mean:
    """The mean of ``column`` over the pupils who have a value."""

    column: str


Measure = Share | Mean


def group_figures(
    pupils: pl.DataFrame,
    measures: Mapping[str, Measure],
    *,
    by: str = "school",
    group_columns: GroupSpec = None,
) -> pl.DataFrame:
    """One row per (``by``, group, value), including ("all", "all"): ``cohort`` (pupils), then for
    each measure its figure (a share from 0 to 1, or a mean; null when no pupil counts) under its
    name, and the pupils it counts as ``<name>_pupils``. Pupils whose ``by`` is empty are left out.
    Sorted by ``by``, group (in the order asked for) and value (in the group's order)."""
    if by not in pupils.columns:
        raise ValueError(f"the pupils table has no column {by!r}")
    missing = sorted({m.column for m in measures.values()} - set(pupils.columns))
    if missing:
        raise ValueError(f"the pupils table lacks the column(s) {', '.join(missing)}")
    groups = chosen_groups(pupils, group_columns)
    owners = pupils.get_column(by).cast(pl.String)
    names = owners.drop_nulls().unique().sort()
    frame = pupils.with_columns(
        owners.replace_strict(names, list(range(names.len())), default=None, return_dtype=pl.Int64).alias(
            "_owner"
        ),
        *(_counted(name, measure) for name, measure in measures.items()),
    )
    sums = [
        pl.len().cast(pl.Int64).alias("cohort"),
        *(pl.col(f"_v_{name}").sum().alias(f"_sum_{name}") for name in measures),
        *(pl.col(f"_v_{name}").count().cast(pl.Int64).alias(f"{name}_pupils") for name in measures),
    ]
    parts = []
    for order, group in enumerate(groups):
        codes, values = group_codes(frame, group)
        parts.append(
            frame.lazy()
            .with_columns(codes.cast(pl.Int64).alias("_value_order"))
            .filter(pl.col("_owner").is_not_null() & pl.col("_value_order").is_not_null())
            .group_by("_owner", "_value_order")
            .agg(sums)
            .with_columns(
                pl.lit(group.name).alias("group"),
                value_names(values),
                pl.lit(order, dtype=pl.Int64).alias("_group_order"),
            )
        )
    if not parts:
        raise ValueError("no pupil groups to compute")
    figures = [
        (
            pl.when(pl.col(f"{name}_pupils") > 0).then(
                pl.col(f"_sum_{name}") / pl.col(f"{name}_pupils")
                if isinstance(measure, Share)
                else pl.col(f"_sum_{name}") / (pl.col(f"{name}_pupils") * _SCALE)
            )
        ).alias(name)
        for name, measure in measures.items()
    ]
    return (
        pl.concat(pl.collect_all(parts))
        .sort("_owner", "_group_order", "_value_order")
        .with_columns(figures)
        .select(
            pl.lit(names).gather(pl.col("_owner")).alias(by),
            "group",
            "value",
            "cohort",
            *(column for name in measures for column in (name, f"{name}_pupils")),
        )
    )


def national_figures(
    pupils: pl.DataFrame, measures: Mapping[str, Measure], *, group_columns: GroupSpec = None
) -> pl.DataFrame:
    """The same figures over all pupils (first column "national"): the like-for-like comparators."""
    everyone = pupils.with_columns(pl.lit("national").alias("national"))
    return group_figures(everyone, measures, by="national", group_columns=group_columns)


def suppressed(
    table: pl.DataFrame, measures: Mapping[str, Measure], below: int = SUPPRESS_BELOW
) -> pl.DataFrame:
    """``table`` with each figure counting fewer than ``below`` pupils (but some) emptied, with
    whatever would give it away (its national comparator stays; its CI and significance, where the table
    has them, go), and a column ``<name>_suppressed`` saying so: what pages and downloads show as
    "SUPP"."""
    hidden = ("", *(f"_{extra}" for extra in FIGURE_EXTRAS))
    return table.with_columns(
        column
        for name in measures
        for column in (
            *(
                pl.when(pl.col(f"{name}_pupils") < below)
                .then(None)
                .otherwise(pl.col(f"{name}{part}"))
                .alias(f"{name}{part}")
                for part in hidden
                if f"{name}{part}" in table.columns
            ),
            ((pl.col(f"{name}_pupils") > 0) & (pl.col(f"{name}_pupils") < below)).alias(f"{name}_suppressed"),
        )
    )


def _counted(name: str, measure: Measure) -> pl.Expr:
    """The value a pupil adds to the measure's sum: 1/0 for a share, the fixed-point value for a mean;
    null when the pupil does not count."""
    if isinstance(measure, Share):
        return pl.col(measure.column).cast(pl.Boolean).cast(pl.Int64).alias(f"_v_{name}")
    value = pl.col(measure.column).cast(pl.Float64).fill_nan(None)
    return (value * _SCALE).round().cast(pl.Int64).alias(f"_v_{name}")


def with_national(
    table: pl.DataFrame,
    national: pl.DataFrame,
    measures: Mapping[str, Measure],
    *,
    switch_like_for_like: bool = False,
) -> pl.DataFrame:
    """``table`` with the national figure of each measure beside it (``national_<name>``), from the
    row of ``national`` that its group value is compared with: like for like, except disadvantaged
    pupils, compared by default with other pupils nationally (``schools.comparator_for``)."""
    pairs = table.select("group", "value").unique().rows()
    targets = {
        f"{g}\x1f{v}": comparator_for(g, v, switch_like_for_like=switch_like_for_like) for g, v in pairs
    }
    pair = pl.concat_str(pl.col("group"), pl.col("value"), separator="\x1f")
    keyed = table.with_columns(
        pair.replace_strict({k: t[0] for k, t in targets.items()}, return_dtype=pl.String).alias(
            "comparator_group"
        ),
        pair.replace_strict({k: t[1] for k, t in targets.items()}, return_dtype=pl.String).alias(
            "comparator_value"
        ),
    )
    figures = national.select(
        pl.col("group").alias("comparator_group"),
        pl.col("value").alias("comparator_value"),
        *(pl.col(name).alias(f"national_{name}") for name in measures),
    )
    return keyed.join(figures, on=["comparator_group", "comparator_value"], how="left", maintain_order="left")


def places(
    figures: pl.DataFrame, measures: Mapping[str, Measure], *, by: str = "school", below: int = SUPPRESS_BELOW
) -> pl.DataFrame:
    """Each ``by``'s place among all of them in each measure, from the ("all", "all") rows of
    ``group_figures``: ``by``, measure, rank, out_of, percentile, quintile. Higher is better in every
    primary measure, so rank 1 is the highest figure; ties share the best rank of their tie (compared
    to 9 decimal places, so row order and floating-point noise never split one). percentile =
    ceil(100 * rank / out_of): 1 is the top 1%; quintile = ceil(5 * rank / out_of): 1 the top fifth.
    A ``by`` without a figure in a measure, or whose figure counts fewer than ``below`` pupils (it
    would be suppressed, and its place would give it away), has no place in it."""
    everyone = figures.filter((pl.col("group") == "all") & (pl.col("value") == "all"))
    if everyone.get_column(by).n_unique() != everyone.height:
        raise ValueError(f"a {by} appears twice among the ('all', 'all') rows")
    parts = []
    for name in measures:
        ranked = everyone.filter(pl.col(name).is_not_null() & (pl.col(f"{name}_pupils") >= below)).select(
            pl.col(by),
            pl.lit(name).alias("measure"),
            pl.col(name).round(9).rank(method="min", descending=True).cast(pl.Int64).alias("rank"),
            pl.len().cast(pl.Int64).alias("out_of"),
        )
        parts.append(ranked)
    table = pl.concat(parts) if parts else pl.DataFrame(schema={by: pl.String, "measure": pl.String})
    return table.with_columns(
        (pl.col("rank") * 100 / pl.col("out_of")).ceil().cast(pl.Int64).alias("percentile"),
        (pl.col("rank") * 5 / pl.col("out_of")).ceil().cast(pl.Int64).alias("quintile"),
    ).sort(by, "measure")
