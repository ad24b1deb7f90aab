"""Trends: a measure over the years an organisation has figures for, read from the stored runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.measures.loading import KS4
from keystage.measures.models import (
    MeasureRun,
    PrimaryFigure,
    RunStatus,
    SchoolFigure,
    figure_model,
)
from keystage.organisations.models import School

logger = logging.getLogger(__name__)


KS4_TREND_MEASURES = ("a8", "p8", "ebacc_entry", "ebacc_aps", "em_4plus", "em_5plus")
# keystage's KS1-based value added, in the years without Progress 8 only.
KS4_GAP_TREND_MEASURES = ("ks1_va",)


def trend_table(
    key_stage: str,
    *,
    school: School | None = None,
    organisation_id: int | None = None,
    years: Iterable[int] | None = None,
) -> pl.DataFrame:
    """Every measure of a school (or trust or LA by ``organisation_id``, else the nation) year by year,
    from the latest complete run of each year that covers every school: one row per measure, and for
    each year its figure, the pupils it counts and the national figure, side by side
    (``<year> figure``, ``<year> pupils``, ``<year> national``), oldest year first. Years with no run
    are left out; a year whose run does not include the school has empty cells."""
    runs = MeasureRun.objects.filter(key_stage=key_stage, school__isnull=True, status=RunStatus.COMPLETE)
    if years is not None:
        runs = runs.filter(year__in=list(years))
    latest: dict[int, MeasureRun] = {}
    for run in runs.order_by("year", "computed_at", "pk"):
        latest[run.year] = run
    rows: list[tuple[int, str, float | None, int | None, float | None]] = []
    for year, run in sorted(latest.items()):
        rows.extend(_trend_rows(key_stage, run, school, organisation_id, year))
    long = pl.DataFrame(
        rows,
        schema={
            "year": pl.Int64,
            "measure": pl.String,
            "figure": pl.Float64,
            "pupils": pl.Int64,
            "national": pl.Float64,
        },
        orient="row",
    )
    measures = list(dict.fromkeys(long.get_column("measure").to_list()))
    table = pl.DataFrame({"measure": measures})
    for year in sorted(latest):
        one = long.filter(pl.col("year") == year).select(
            "measure",
            pl.col("figure").alias(f"{year} figure"),
            pl.col("pupils").alias(f"{year} pupils"),
            pl.col("national").alias(f"{year} national"),
        )
        table = table.join(one, on="measure", how="left", maintain_order="left")
    return table


def _trend_rows(
    key_stage: str, run: MeasureRun, school: School | None, organisation_id: int | None, year: int
) -> Iterator[tuple[int, str, float | None, int | None, float | None]]:
    where: dict[str, Any] = {"run": run, "group": "all", "value": "all"}
    model = figure_model(key_stage)
    national = model.objects.national().filter(**where).first()
    if school is not None:
        mine = model.objects.filter(school=school, **where).first()
    elif organisation_id is not None:
        mine = model.objects.filter(organisation_id=organisation_id, **where).first()
    else:
        mine = national
    for measure in _trend_measures(key_stage, year, mine or national):
        own = None if mine is None else mine.measure(measure)
        yield (
            year,
            measure,
            None if own is None else own.figure,
            None if own is None else own.pupils,
            None if national is None else national.measure(measure).figure,
        )


def _trend_measures(key_stage: str, year: int, row: SchoolFigure | PrimaryFigure | None) -> Iterable[str]:
    """KS4's trend measures (KS1-based value added too in a year without Progress 8); a primary key
    stage's are those its row has, which follow the year's framework."""
    if key_stage == KS4:
        gap = without_progress8(year) is not None
        return (*KS4_TREND_MEASURES, *(KS4_GAP_TREND_MEASURES if gap else ()))
    return list(row.figures) if isinstance(row, PrimaryFigure) else []
