"""Scatter plots: pupils' figures against their prior attainment (KS4 against KS2, or KS1 in a year
without Progress 8; KS2 against KS1), one pupil group highlighted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from keystage.core.measures.ks4.estimates import ELEMENTS
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.ks4.schools import GROUPS
from keystage.core.reports.catalogue import KEY_STAGE_LABELS, MeasureInfo
from keystage.core.reports.charts import Point, scatter_svg
from keystage.core.results.kinds import academic_year_name
from keystage.measures.models import MeasureRun
from keystage.organisations.models import Organisation
from keystage.reports.figures import NoFigures, measure_infos
from keystage.reports.pupil_figures import pupil_table


def measures_for_scatter(key_stage: str, run: MeasureRun) -> dict[str, MeasureInfo]:
    infos = measure_infos(run)
    if key_stage == "ks4":
        wanted = ("p8", "ks1_va", "a8", "p8_english", "p8_maths", "p8_ebacc", "p8_open")
        return {k: infos[k] for k in (*wanted, *(f"ks1_va_{e}" for e in ELEMENTS)) if k in infos}
    return {k: v for k, v in infos.items() if v.kind in {"mean", "progress"}}


SCATTER_X = {
    "ks4": ("ks2_pa", "KS2 prior attainment (average of reading and maths scaled scores)"),
    "ks2": ("ks1_aps", "KS1 average point score"),
}
# KS4 in a year without Progress 8: pupils against their KS1 prior attainment.
KS4_KS1_X = ("ks1_aps", "KS1 prior attainment (KS1 average point score)")


def scatter_x(run: MeasureRun) -> tuple[str, str]:
    """The prior attainment a run's pupils are plotted against (column, label)."""
    if run.key_stage == "ks4" and without_progress8(run.year) is not None:
        return KS4_KS1_X
    return SCATTER_X[run.key_stage]


@dataclass
class Scatter:
    y: MeasureInfo
    x_label: str
    group: str
    value: str
    points: list[tuple[str, float, float, bool]]  # upn, x, y, highlighted
    left_out: int  # pupils without a prior attainment or a figure


def scatter(run: MeasureRun, organisation: Organisation, y: str, group: str, value: str) -> Scatter:
    """Pupils' ``y`` against their prior attainment, with the pupils whose ``group`` is ``value``
    highlighted. KS4 (against KS2) and KS2 (against KS1) only: the other key stages have no prior
    attainment to plot against."""
    if run.key_stage not in SCATTER_X:
        raise NoFigures(f"{KEY_STAGE_LABELS[run.key_stage]} has no prior attainment to plot pupils against.")
    options = measures_for_scatter(run.key_stage, run)
    info = options.get(y) or next(iter(options.values()))
    x_column, x_label = scatter_x(run)
    pupils, pupil_measures = pupil_table(run, organisation)
    if pupils.height == 0:
        raise NoFigures(
            f"No pupils' figures are kept for {organisation.name} in {academic_year_name(run.year)}: none "
            "were stored, or they were deleted when their retention period ended."
        )
    column = pupil_measures[info.key].column
    spec = GROUPS.get(group)
    if spec is None or not all(c in pupils.columns for c in spec.columns):
        group, spec = "disadvantaged", GROUPS["disadvantaged"]
    highlighted = spec.value.fill_null("") == value
    table = pupils.select(
        "upn",
        pl.col(x_column).cast(pl.Float64).alias("x"),
        pl.col(column).cast(pl.Float64).alias("y"),
        highlighted.alias("h"),
    )
    plotted = table.drop_nulls(["x", "y"])
    points = [(upn, x, yv, bool(h)) for upn, x, yv, h in plotted.iter_rows()]
    return Scatter(info, x_label, group, value, points, table.height - plotted.height)


def drawn(
    plot: Scatter, *, title: str, highlight: str, names: Mapping[str, str] | None, link: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """The chart (SVG) and its table of every pupil plotted, by prior attainment. With ``names`` (named
    roles only) each point and row names its pupil, and, given ``link`` (a pupil page's address with
    "UPN" in it), each point links to the pupil; without, no pupil is identified."""
    named = names is not None
    known = names or {}
    points = [
        Point(
            x,
            y,
            highlighted,
            ref=upn if named else "",
            label=f"{known.get(upn, upn)}: {plot.y.format(y)}" if named else "",
        )
        for upn, x, y, highlighted in plot.points
    ]
    svg = scatter_svg(
        points,
        title=title,
        x_label=plot.x_label,
        y_label=plot.y.label,
        highlight=highlight,
        others="other pupils",
        link=(lambda p: link.replace("UPN", p.ref)) if named and link else None,
        zero_line=plot.y.kind == "progress",
    )
    rows = [
        {
            "name": known.get(upn, "") if named else "",
            "upn": upn if named else "",
            "x": x,
            "y": plot.y.format(y),
            "highlighted": h,
        }
        for upn, x, y, h in sorted(plot.points, key=lambda p: (p[1], p[2]))
    ]
    return svg, rows
