"""The reports' wording, filters and charts, without Django."""

from __future__ import annotations

import polars as pl

from keystage.core.measures.group_figures import Mean, Share
from keystage.core.reports.breakdown import Filters, breakdown
from keystage.core.reports.catalogue import format_figure
from keystage.core.reports.charts import Point, scatter_svg


def test_figures_read_as_percentages_means_and_signed_progress():
    assert format_figure(0.6749, "share") == "67%"
    assert format_figure(46.2049, "mean") == "46.20"
    assert format_figure(0.771, "progress") == "+0.77"
    assert format_figure(None, "mean") == "\u2013"


def test_filters_ignore_what_they_do_not_know_and_combine_across_groups():
    filters = Filters.parse(
        {"sex": ["male", "nonsense"], "sen": ["support", "ehcp"], "colour": ["blue"]}, ["sex", "sen"]
    )
    assert dict(filters.chosen) == {"sex": ("male",), "sen": ("ehcp", "support")}
    assert filters.describe() == (
        "Gender: Male. Special educational needs (SEN): SEN with an EHC plan or SEN support."
    )
    pupils = pl.DataFrame({"upn": list("abcd"), "sex": ["M", "M", "F", "M"], "sen": ["K", "N", "K", "E"]})
    assert filters.apply(pupils).get_column("upn").to_list() == ["a", "d"]
    assert not Filters.parse({}, ["sex"])


def test_a_breakdown_suppresses_groups_of_fewer_than_six():
    pupils = pl.DataFrame(
        {
            "upn": [str(n) for n in range(10)],
            "sex": ["F"] * 7 + ["M"] * 3,
            "score": [float(n) for n in range(10)],
            "met": [True] * 5 + [False] * 5,
        }
    )
    rows = {
        (r["group"], r["value"]): r
        for r in breakdown(pupils, {"score": Mean("score"), "met": Share("met")}, ["sex"])
    }
    assert rows[("all", "all")]["score"] == 4.5 and rows[("all", "all")]["met"] == 0.5
    assert rows[("sex", "female")]["score"] == 3.0
    assert rows[("sex", "male")]["score"] is None and rows[("sex", "male")]["score_suppressed"]


def test_a_scatter_without_links_carries_no_identity():
    points = [
        Point(100.0, 0.5, True, ref="A123", label="Smith, Ann"),
        Point(110.0, -0.2, False, ref="B456", label="Jones, Bo"),
    ]
    anonymous = scatter_svg(
        points, title="P8", x_label="KS2", y_label="P8", highlight="disadvantaged", others="other"
    )
    linked = scatter_svg(
        points,
        title="P8",
        x_label="KS2",
        y_label="P8",
        highlight="disadvantaged",
        others="other",
        link=lambda p: f"/pupil/{p.ref}",
    )
    assert "<a " not in anonymous and "Smith" not in anonymous and "A123" not in anonymous
    assert 'href="/pupil/A123"' in linked and "Smith, Ann" in linked
    assert "<title" in anonymous and "1 disadvantaged shown as filled circles" in anonymous


def test_a_bar_chart_of_shares_draws_each_bar_and_says_what_it_shows():
    from keystage.core.reports.charts import bars_svg

    svg = bars_svg(
        ["9", "8", "U"],
        [("School", [0.5, 0.25, 0.25]), ("National", [0.1, None, 0.3])],
        title="Maths <grades>",
        x_label="Grade",
    )
    assert svg.startswith("<svg") and 'role="img"' in svg and "Maths &lt;grades&gt;" in svg
    assert svg.count("<rect") == 2 + 5  # two legend swatches, five bars (one value missing)
    assert bars_svg([], [], title="Nothing", x_label="Grade").endswith("</svg>")


def test_a_progress_figure_that_rounds_to_zero_reads_plus_zero():
    from keystage.core.reports.catalogue import format_figure

    assert format_figure(-0.001, "progress") == "+0.00" and format_figure(-0.006, "progress") == "-0.01"
