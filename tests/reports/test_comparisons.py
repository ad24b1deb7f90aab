"""Every "above/below national" wording compares the figures as they are printed: figures that differ
only below the printed precision read "in line with national" (the inspection summary, the
dashboard's significance, the subjects' Sig tags), never "below national (+0.00 against +0.00)"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string

from keystage.core.reports.catalogue import (
    KS4_MEASURES,
    compare_shown,
    shown_number,
    significance_shown,
)
from keystage.core.reports.inspection import Evidence, YearFigure, statements
from keystage.measures.models import SubjectFigure
from keystage.reports.figures import Headline
from keystage.reports.subjects import _subject_row

P8, A8, EM4 = KS4_MEASURES["p8"], KS4_MEASURES["a8"], KS4_MEASURES["em_4plus"]


def _name(year: int) -> str:
    return f"{year - 1}/{str(year)[-2:]}"


@pytest.mark.parametrize(
    ("figure", "national", "kind", "expected"),
    [
        (0.6312, 0.6348, "share", "in line with"),  # 63% against 63%
        (0.6351, 0.6348, "share", "above"),  # 64% against 63%
        (-0.004, 0.001, "progress", "in line with"),  # +0.00 against +0.00
        (-0.006, 0.001, "progress", "below"),  # -0.01 against +0.00
        (46.214, 46.206, "mean", "in line with"),  # 46.21 against 46.21
        (46.216, 46.206, "mean", "above"),  # 46.22 against 46.21
        (None, 0.5, "share", None),
    ],
)
def test_figures_are_compared_as_they_are_printed(figure, national, kind, expected):
    assert compare_shown(figure, national, kind) == expected


def test_the_number_compared_is_the_number_printed():
    assert shown_number(0.6348, "share") == 63.0 and shown_number(-0.004, "progress") == 0.0
    assert shown_number(float("nan"), "mean") is None


def test_a_significance_stands_only_where_the_printed_figures_agree():
    assert significance_shown("below", -0.004, 0.001, "progress") == "in line"
    assert significance_shown("below", -0.02, -0.05, "progress") == "not significant"  # prints above
    assert significance_shown("above", 0.66, 0.63, "share") == "above"
    assert significance_shown("not significant", 0.6312, 0.6348, "share") == "not significant"


def test_the_inspection_summary_says_nothing_of_a_difference_it_does_not_print():
    # Significantly below national by the interval, but 63% against 63% as printed.
    tight = Evidence(EM4, (YearFigure(2026, 0.6312, 0.6348, 60_000, 0.6300, 0.6325),))
    assert statements([tight], _name) == []
    assert tight.significance == "in line"
    # P8 -0.004 falling each year, "now below national" only by the unrounded figures.
    falling = Evidence(
        P8,
        tuple(
            YearFigure(2024 + i, f, 0.001, 150, f - 0.3, f + 0.3) for i, f in enumerate((0.3, 0.1, -0.004))
        ),
    )
    assert statements([falling], _name) == []
    # The same trend to a figure that prints below national is said, with figures that show it.
    [below] = statements(
        [Evidence(A8, tuple(YearFigure(2024 + i, f, 46.0, 150) for i, f in enumerate((48.0, 47.0, 45.994))))],
        _name,
    )
    assert below.text.endswith("is now below national (45.99 against 46.00).")
    # A run of significant years ends at a year printed in line.
    run = Evidence(
        EM4,
        (
            YearFigure(2025, 0.60, 0.63, 60_000, 0.59, 0.61),
            YearFigure(2026, 0.6312, 0.6348, 60_000, 0.6300, 0.6325),
        ),
    )
    assert run.years[0].compared(EM4) == "below" and run.significance == "in line"


def test_the_dashboard_shows_no_sig_tag_for_figures_printed_the_same():
    same = Headline(P8, -0.004, 0.001, 400_000, ci_low=-0.008, ci_high=-0.001, significance="below")
    differs = Headline(P8, -0.3, 0.001, 200, ci_low=-0.5, ci_high=-0.1, significance="below")
    assert (same.text, same.national_text) == ("+0.00", "+0.00")
    assert same.compared == "in line" and differs.compared == "below"
    a8 = Headline(A8, 46.214, 46.206, 400_000, ci_low=46.21, ci_high=46.22, significance="above")
    report = SimpleNamespace(
        headlines=[same, a8],
        source=SimpleNamespace(collected=True, provisional=False, words="National figures."),
        cohort=400_000,
        pupils_adjusted=0,
        trend_years=[],
    )
    html = render_to_string(
        "reports/dashboard.html",
        {
            "report": report,
            "organisation": SimpleNamespace(pk=1, name="The Nation's School", dfe_number="8001234"),
            "key_stage": "ks4",
            "key_stage_label": "KS4",
            "year": 2024,
            "year_name": "2023/24",
            "is_school": True,
        },
    )
    card = html.split('id="progress-8"', 1)[1].split("</dl>", 1)[0]
    assert "In line with national" in card and "Significantly" not in card
    table = html.split('id="headlines"', 1)[1].split("</table>", 1)[0]
    assert "Sig+" not in table and "Sig\u2212" not in table  # 46.21 against 46.21: no tag
    differs_html = render_to_string(
        "reports/dashboard.html",
        {
            "report": SimpleNamespace(**{**vars(report), "headlines": [differs]}),
            "organisation": SimpleNamespace(pk=1, name="A School", dfe_number="8001234"),
            "key_stage": "ks4",
            "key_stage_label": "KS4",
            "year": 2024,
            "year_name": "2023/24",
            "is_school": True,
        },
    )
    assert "Significantly below national" in differs_html and "Sig\u2212" in differs_html


def test_a_subjects_value_added_that_prints_as_zero_is_not_significant():
    figure = SubjectFigure(
        subject="2210",
        subject_name="Mathematics",
        cohort=300_000,
        entries=300_000,
        entry_share=0.99,
        average_points=4.8,
        va=0.003,
        va_pupils=300_000,
        va_ci_low=0.001,
        va_ci_high=0.005,
        significance="above",
    )
    row = _subject_row(figure, None)
    assert (row.va, row.significance) == ("+0.00", "in line")
    figure.va, figure.va_ci_low, figure.va_ci_high = 0.3, 0.2, 0.4
    assert _subject_row(figure, None).significance == "above"
