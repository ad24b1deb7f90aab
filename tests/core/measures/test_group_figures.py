"""Shares and means per school, trust and pupil group, as the primary key stages report them, worked
by hand; who counts is the pupil column being empty or not."""

from __future__ import annotations

import polars as pl
import pytest

from keystage.core.measures.group_figures import (
    Mean,
    Share,
    group_figures,
    national_figures,
    places,
    suppressed,
    with_national,
)

MEASURES = {"met": Share("met"), "score": Mean("score")}


def pupils() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "school": ["S1", "S1", "S1", "S1", "S2"],
            "trust": ["T", "T", "T", "T", None],
            "sex": ["F", "M", "F", "M", "F"],
            "met": [True, False, None, True, False],  # the third pupil is outside the denominator
            "score": [100.0, 110.0, None, 90.0, 80.5],
        }
    )


def one(table: pl.DataFrame, owner: str, group: str = "all", value: str = "all") -> dict:
    found = table.filter(
        (pl.col(table.columns[0]) == owner) & (pl.col("group") == group) & (pl.col("value") == value)
    )
    assert found.height == 1
    return found.row(0, named=True)


def test_shares_count_only_pupils_in_the_denominator_and_means_only_pupils_with_a_value():
    table = group_figures(pupils(), MEASURES, group_columns=["all", "sex"])
    s1 = one(table, "S1")
    assert (s1["cohort"], s1["met_pupils"], s1["met"]) == (4, 3, pytest.approx(2 / 3))
    assert (s1["score_pupils"], s1["score"]) == (3, pytest.approx(100))
    girls = one(table, "S1", "sex", "female")
    assert (girls["cohort"], girls["met"], girls["met_pupils"], girls["score"]) == (2, 1.0, 1, 100.0)
    assert one(table, "S2")["score"] == 80.5
    assert table.get_column("school").to_list() == ["S1", "S1", "S1", "S2", "S2"]  # S2 has no boys


def test_trusts_and_the_nation_add_up_their_pupils():
    trusts = group_figures(pupils(), MEASURES, by="trust", group_columns=["all"])
    assert trusts.select("trust", "cohort").rows() == [("T", 4)]  # S2 has no trust
    nation = one(national_figures(pupils(), MEASURES, group_columns=["all"]), "national")
    assert (nation["cohort"], nation["met"], nation["score"]) == (5, 0.5, pytest.approx(380.5 / 4))


def test_small_groups_are_suppressed_and_say_so():
    table = suppressed(group_figures(pupils(), MEASURES, group_columns=["all"]), MEASURES, below=3)
    s1, s2 = one(table, "S1"), one(table, "S2")
    assert s1["met"] == pytest.approx(2 / 3) and not s1["met_suppressed"]
    assert s2["met"] is None and s2["met_suppressed"] and s2["score"] is None


def test_the_order_of_rows_never_changes_a_figure():
    table = group_figures(pupils(), MEASURES)
    assert group_figures(pupils().reverse(), MEASURES).equals(table)


def test_national_comparators_are_like_for_like_except_disadvantaged_pupils():
    frame = pupils().with_columns(pl.Series("disadvantaged", [True, False, False, False, True]))
    groups = ["all", "disadvantaged"]
    table = group_figures(frame, MEASURES, group_columns=groups)
    nation = national_figures(frame, MEASURES, group_columns=groups)
    compared = with_national(table, nation, MEASURES)
    disadvantaged = one(compared, "S1", "disadvantaged", "disadvantaged")
    # Nationally, other pupils' scores are 110 and 90 (the third has none): mean 100.
    assert (disadvantaged["comparator_value"], disadvantaged["national_score"]) == ("other", 100.0)
    assert one(compared, "S1")["national_met"] == 0.5
    switched = with_national(table, nation, MEASURES, switch_like_for_like=True)
    assert one(switched, "S1", "disadvantaged", "disadvantaged")["national_score"] == pytest.approx(90.25)


def test_suppression_by_default_below_six_pupils_and_never_of_a_figure_with_none():
    table = suppressed(group_figures(pupils(), MEASURES, group_columns=["all"]), MEASURES)
    assert one(table, "S1")["met"] is None and one(table, "S1")["met_suppressed"]  # 3 pupils
    empty = pupils().with_columns(pl.lit(None, dtype=pl.Boolean).alias("met"))
    nobody = one(suppressed(group_figures(empty, MEASURES, group_columns=["all"]), MEASURES), "S1")
    assert nobody["met"] is None and nobody["met_pupils"] == 0 and not nobody["met_suppressed"]


def test_places_rank_schools_by_each_measure_with_ties_sharing_and_small_schools_left_out():
    table = pl.DataFrame(
        {
            "school": ["A", "B", "C", "D", "A"],
            "group": ["all", "all", "all", "all", "sex"],
            "value": ["all", "all", "all", "all", "female"],
            "gld": [0.8, 0.6, 0.8, 0.9, 0.1],
            "gld_pupils": [10, 10, 10, 3, 5],
        }
    )
    ranked = places(table, {"gld": Share("gld")})
    # D counts 3 pupils: its figure would be suppressed, so it has no place that would give it away.
    assert ranked.select("school", "rank", "out_of", "percentile", "quintile").rows() == [
        ("A", 1, 3, 34, 2),
        ("B", 3, 3, 100, 5),
        ("C", 1, 3, 34, 2),
    ]
    assert places(table, {"gld": Share("gld")}, below=0).filter(pl.col("school") == "D").item(0, "rank") == 1


def test_a_suppressed_figure_takes_its_confidence_interval_and_significance_with_it():
    table = pl.DataFrame(
        {
            "progress": [1.5, 0.2],
            "progress_pupils": [2, 30],
            "progress_ci_low": [-1.07, -0.5],
            "progress_ci_high": [4.07, 0.9],
            "progress_significance": ["not significant", "not significant"],
        }
    )
    hidden = suppressed(table, {"progress": Mean("progress")})
    assert hidden.row(0) == (None, 2, None, None, None, True)
    assert hidden.row(1) == (0.2, 30, -0.5, 0.9, "not significant", False)
