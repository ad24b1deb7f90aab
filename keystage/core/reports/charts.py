"""Charts drawn as SVG on the server: the same drawing on the page, in the PDF and without JavaScript.

A scatter of pupils (e.g. Progress 8 against KS2 prior attainment), with a group highlighted by shape as
well as colour (so it reads in greyscale and for colour-blind readers). Each point may link to its
pupil; without links, points carry no identity at all. Every chart on a page also has a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    highlighted: bool
    ref: str = ""  # what a link to the pupil needs (never shown to a reader who may not see pupils)
    label: str = ""  # the point's name for a screen reader and tooltip ("" for anonymised readers)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def scatter_svg(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    highlight: str,
    others: str,
    link: Callable[[Point], str] | None = None,
    zero_line: bool = False,
) -> str:
    """The scatter as an ``<svg>`` element. ``link`` gives each point's address (named readers only)."""
    xs = [p.x for p in points] or [0.0]
    ys = [p.y for p in points] or [0.0]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min([*ys, 0.0] if zero_line else ys), max([*ys, 0.0] if zero_line else ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def sy(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    counted = sum(p.highlighted for p in points)
    desc = (
        f"{len(points)} pupils: {y_label} against {x_label}. {counted} {highlight} shown as filled circles, "
        f"{len(points) - counted} {others} as hollow squares. The table below gives the same figures."
    )
    # A chart whose points are links is a group of links, not one image (axe: no nested controls).
    role = "group" if link is not None else "img"
    out = [
        f'<svg class="ks-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="{role}" '
        f'aria-labelledby="chart-title chart-desc" font-family="Arial, Helvetica, sans-serif" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#b1b4b6"/>',
    ]
    for tick in x_ticks:
        x = sx(tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#f3f2f1"/>')
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" font-size="12">'
            f"{_tick(tick)}</text>"
        )
    for tick in y_ticks:
        y = sy(tick)
        colour = "#505a5f" if zero_line and tick == 0 else "#f3f2f1"
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="{colour}"/>')
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{_tick(tick)}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="13">'
        f"{escape(x_label)}</text>"
    )
    out.append(
        f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'font-size="13">{escape(y_label)}</text>'
    )
    # Others first, so the highlighted group is drawn on top.
    for point in sorted(points, key=lambda p: p.highlighted):
        x, y = sx(point.x), sy(point.y)
        if point.highlighted:
            mark = (
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#1d70b8" stroke="#0b0c0c" stroke-width="1"/>'
            )
        else:
            mark = (
                # Hollow, but the whole square is the target (pointer-events), not just its outline.
                f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="none" '
                f'stroke="#505a5f" stroke-width="1.5" pointer-events="all"/>'
            )
        if link is not None and point.ref:
            name = escape(point.label, quote=True)
            out.append(
                f'<a href="{escape(link(point), quote=True)}" class="ks-chart__point" aria-label="{name}">'
                f"<title>{escape(point.label)}</title>{mark}</a>"
            )
        else:
            out.append(mark)
    out.append("</svg>")
    return "".join(out)


# Series of a bar chart: dark and light, so they read apart in greyscale too.
BAR_FILLS = (("#1d70b8", "#0b0c0c"), ("#ffffff", "#505a5f"))


def bars_svg(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    x_label: str,
    y_label: str = "Share of entries",
    ident: str = "bars",
) -> str:
    """Grouped bars of shares (0 to 1) per category, e.g. each grade's share of a subject's entries at a
    school beside the nation's; at most two series. A missing value draws no bar. ``ident`` names the
    chart's title and description, different for each chart on a page."""
    count = max(len(categories), 1)
    tallest = max([v for _, values in series for v in values if v is not None] or [0.0])
    y_ticks = nice_ticks(0.0, max(tallest, 0.05))
    top = y_ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM - 24  # room for the legend

    def sy(y: float) -> float:
        return TOP + 24 + plot_h - y / top * plot_h

    slot = plot_w / count
    bar = min(28.0, slot * 0.8 / max(len(series), 1))
    names = " and ".join(name for name, _ in series)
    about = f"{y_label} by {x_label.lower()}: {names}. The table below gives the same figures."
    out = [
        f'<svg class="ks-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="Arial, Helvetica, sans-serif" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(about)}</desc>',
    ]
    for index, (name, _) in enumerate(series[:2]):
        fill, stroke = BAR_FILLS[index]
        x = LEFT + index * 180
        out.append(f'<rect x="{x}" y="4" width="14" height="14" fill="{fill}" stroke="{stroke}"/>')
        out.append(f'<text x="{x + 20}" y="16" font-size="12">{escape(name)}</text>')
    for tick in y_ticks:
        y = sy(tick)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#f3f2f1"/>')
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{tick * 100:g}%</text>'
        )
    for position, category in enumerate(categories):
        middle = LEFT + slot * (position + 0.5)
        start = middle - bar * len(series[:2]) / 2
        for index, (_, values) in enumerate(series[:2]):
            value = values[position] if position < len(values) else None
            if value is None:
                continue
            fill, stroke = BAR_FILLS[index]
            y = sy(value)
            out.append(
                f'<rect x="{start + index * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{sy(0) - y:.1f}" fill="{fill}" stroke="{stroke}"/>'
            )
        out.append(
            f'<text x="{middle:.1f}" y="{sy(0) + 18:.1f}" text-anchor="middle" font-size="12">'
            f"{escape(category)}</text>"
        )
    out.append(f'<line x1="{LEFT}" y1="{sy(0):.1f}" x2="{LEFT + plot_w}" y2="{sy(0):.1f}" stroke="#0b0c0c"/>')
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="13">'
        f"{escape(x_label)}</text>"
    )
    out.append(
        f'<text transform="translate(16 {TOP + 24 + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'font-size="13">{escape(y_label)}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _tick(value: float) -> str:
    return f"{value:g}"
