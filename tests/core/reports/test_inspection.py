"""The inspection summary's rules: which statements significance, place among schools and trend make,
and which they do not."""

from __future__ import annotations

from keystage.core.reports.catalogue import KS4_MEASURES
from keystage.core.reports.inspection import Evidence, YearFigure, statements

P8, A8 = KS4_MEASURES["p8"], KS4_MEASURES["a8"]


def _name(year: int) -> str:
    return f"{year - 1}/{str(year)[-2:]}"


def _p8(*cis: tuple[float, float], pupils: int = 150, quintile: int | None = None) -> Evidence:
    years = tuple(
        YearFigure(
            2024 + i, (low + high) / 2, 0.0, pupils, low, high, quintile if i == len(cis) - 1 else None
        )
        for i, (low, high) in enumerate(cis)
    )
    return Evidence(P8, years)


def _a8(*figures: float, national: float = 46.0, pupils: int = 150) -> Evidence:
    return Evidence(A8, tuple(YearFigure(2024 + i, f, national, pupils) for i, f in enumerate(figures)))


def test_significantly_above_for_three_years_running_is_a_strength_that_says_so():
    [made] = statements([_p8((0.1, 0.5), (0.05, 0.4), (0.2, 0.6))], _name)
    assert made.kind == "strength" and made.rule == "significance"
    assert (
        made.text == "Progress 8 (adjusted) was significantly above national in each of the last three years "
        "(+0.40 against +0.00)."
    )


def test_significantly_below_this_year_only_is_an_area_to_investigate_for_that_year():
    [made] = statements([_p8((0.1, 0.5), (-0.2, 0.3), (-0.6, -0.1))], _name)
    assert made.kind == "investigate" and "significantly below national in 2025/26" in made.text


def test_a_place_in_the_top_or_bottom_fifth_is_said_when_nothing_is_significant():
    top = statements([_p8((-0.1, 0.3), quintile=1)], _name)
    bottom = statements([_p8((-0.3, 0.1), quintile=5)], _name)
    middle = statements([_p8((-0.3, 0.1), quintile=3)], _name)
    assert [s.rule for s in top] == ["place"] and top[0].kind == "strength" and "top 20%" in top[0].text
    assert bottom[0].kind == "investigate" and "bottom 20%" in bottom[0].text
    assert middle == []


def test_three_years_rising_to_above_national_is_a_strength_and_falling_below_an_area_to_investigate():
    [rising] = statements([_a8(44.0, 45.5, 47.0)], _name)
    [falling] = statements([_a8(48.0, 46.5, 45.0)], _name)
    assert rising.kind == "strength" and rising.rule == "trend"
    assert (
        rising.text == "Attainment 8 rose each year from 2023/24 to 2025/26 and is now above national "
        "(47.00 against 46.00)."
    )
    assert (
        falling.kind == "investigate"
        and "fell each year from 2023/24 to 2025/26 and is now below" in falling.text
    )


def test_no_trend_is_claimed_from_a_flat_year_a_gap_a_change_too_small_to_see_or_the_wrong_side_of_national():
    flat = _a8(44.0, 47.0, 47.0)
    unseen = _a8(45.0, 46.5, 46.501)  # 46.50 and 46.50 on the page
    below = _a8(40.0, 42.0, 44.0)  # rising, but still below national
    gap = Evidence(
        A8,
        (
            YearFigure(2022, 44.0, 46.0, 150),
            YearFigure(2024, 45.5, 46.0, 150),
            YearFigure(2025, 47.0, 46.0, 150),
        ),
    )
    assert statements([flat, unseen, below, gap], _name) == []


def test_nothing_is_said_of_a_figure_counting_fewer_than_six_pupils():
    assert statements([_p8((0.5, 0.9), pupils=5), _a8(44.0, 45.5, 47.0, pupils=4)], _name) == []


def test_a_group_is_compared_with_its_national_comparator_and_named():
    years = (YearFigure(2026, -0.5, 0.1, 40, -0.8, -0.2),)
    group = Evidence(
        P8, years, "disadvantaged", "disadvantaged", "disadvantaged pupils", "other pupils nationally"
    )
    strength, investigate = statements([group, _p8((0.1, 0.5))], _name)
    assert strength.kind == "strength" and investigate.evidence is group  # strengths first
    assert investigate.text.startswith(
        "Progress 8 (adjusted) of disadvantaged pupils was significantly below other pupils nationally "
        "in 2025/26 (-0.50 against +0.10)"
    )


def test_a_year_without_figures_ends_a_run_of_significant_years():
    years = (
        YearFigure(2019, 0.4, 0.0, 150, 0.1, 0.7),
        YearFigure(2022, 0.4, 0.0, 150, 0.1, 0.7),
        YearFigure(2023, 0.4, 0.0, 150, 0.1, 0.7),
    )
    [made] = statements([Evidence(P8, years)], _name)
    assert "in each of the last two years" in made.text
