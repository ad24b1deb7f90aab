"""Progress 8 of each pupil: A8 and its elements against the estimates of the pupil's prior
attainment group, and the adjusted score that raises an extreme negative score to its group's floor
(floors from national figures, never from the pupils of a run). Rules: shared/domain/ks4-measures.md.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import polars as pl

from keystage.core.measures.ks4.estimates import Estimates, national_floors

if TYPE_CHECKING:
    from keystage.core.measures.ks4.pupils import PupilMeasures


def progress(table: pl.DataFrame, estimates: Estimates | None) -> pl.DataFrame:
    """Progress 8 and its elements against the estimates of the pupil's prior attainment group;
    the adjusted score raises an extreme negative score to its group's floor."""
    columns = ["p8", "p8_english", "p8_maths", "p8_ebacc", "p8_open", "p8_adjusted"]
    if estimates is None:
        return table.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("pag"),
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in columns),
            pl.lit(None, dtype=pl.Boolean).alias("p8_was_adjusted"),
        )
    table = estimates.assign_pag(table, "ks2_pa")
    groups = estimates.by_pag.select(
        pl.col("pag").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64).alias(f"_est_{c}") for c in ("a8", "english", "maths", "ebacc", "open")),
    )
    table = table.join(groups, on="pag", how="left", maintain_order="left")
    table = table.with_columns(
        ((pl.col("a8") - pl.col("_est_a8")) / 10).alias("p8"),
        ((pl.col("a8_english") - pl.col("_est_english")) / 2).alias("p8_english"),
        ((pl.col("a8_maths") - pl.col("_est_maths")) / 2).alias("p8_maths"),
        ((pl.col("a8_ebacc") - pl.col("_est_ebacc")) / 3).alias("p8_ebacc"),
        ((pl.col("a8_open") - pl.col("_est_open")) / 3).alias("p8_open"),
    ).drop("_est_a8", "_est_english", "_est_maths", "_est_ebacc", "_est_open")
    return _apply_floors(table, estimates.floors)


def _apply_floors(table: pl.DataFrame, floors: pl.DataFrame | None) -> pl.DataFrame:
    """p8_adjusted: P8 raised to its group's floor where it is below it; P8 itself without floors."""
    table = table.drop("p8_adjusted", "p8_was_adjusted", strict=False)
    if floors is None:
        return table.with_columns(
            pl.col("p8").alias("p8_adjusted"),
            pl.when(pl.col("p8").is_null()).then(None).otherwise(False).alias("p8_was_adjusted"),
        )
    floors = floors.select(pl.col("pag").cast(pl.Int64), pl.col("p8_floor").cast(pl.Float64))
    below = pl.col("p8") < pl.col("p8_floor")
    return (
        table.join(floors, on="pag", how="left", maintain_order="left")
        .with_columns(
            pl.when(below).then(pl.col("p8_floor")).otherwise(pl.col("p8")).alias("p8_adjusted"),
            pl.when(pl.col("p8").is_null())
            .then(None)
            .otherwise(below.fill_null(False))
            .alias("p8_was_adjusted"),
        )
        .drop("p8_floor")
    )


def with_national_floors(
    measures: PupilMeasures, floors: pl.DataFrame | None = None
) -> tuple[PupilMeasures, pl.DataFrame]:
    """The measures with negative-score floors (pag, p8_floor) applied, replacing any, and the floors.

    Floors come from national figures, never from the pupils of a run (the same pupils must get the
    same adjusted P8 alone or beside others): pass them (``estimates.national_floors`` of a national
    cohort, or ``estimates.published_floors``). Without ``floors``, ``measures`` must be that national
    cohort itself: its own P8 distribution sets them, as DfE sets them."""
    if floors is None:
        floors = national_floors(measures.pupils.select("pag", "p8").drop_nulls())
    pupils = _apply_floors(measures.pupils, floors).select(measures.pupils.columns)
    return dataclasses.replace(measures, pupils=pupils), floors
