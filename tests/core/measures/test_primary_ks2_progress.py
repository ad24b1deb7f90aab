"""KS2 progress from KS1, worked by hand on a few pupils: KS1 average point score (maths counted
twice), who is left out, prior attainment group means, a pupil's progress, nominal scores, writing
points, the floor on extreme negative scores, a school's mean with its confidence interval, and that
neither a missing KS1 nor the order of rows changes anything else."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keystage.core.measures.group_figures import group_figures
from keystage.core.measures.primary import KEY_STAGES, ks2, progress
from keystage.core.reference.frameworks import FrameworkLibrary

FRAMEWORK = FrameworkLibrary.from_directory().for_year("ks2", 2026)


def ks1(reading: str, writing: str, maths: str) -> dict[str, str]:
    return {"ks1_reading_ta": reading, "ks1_writing_ta": writing, "ks1_maths_ta": maths}


EXS = ks1("EXS", "EXS", "EXS")  # APS 8


def results(rows: dict[str, dict[str, str]]) -> pl.DataFrame:
    long = [(upn, code, value) for upn, outcomes in rows.items() for code, value in outcomes.items()]
    return pl.DataFrame(long, schema=["upn", "assessment", "result"], orient="row")


def pupils(rows: dict[str, dict[str, str]], schools: dict[str, str] | None = None) -> pl.DataFrame:
    upns = list(rows)
    return pl.DataFrame({"upn": upns, "school": [(schools or {}).get(u, "S") for u in upns]})


def ks2_table(rows: dict[str, dict[str, str]], schools: dict[str, str] | None = None) -> pl.DataFrame:
    return ks2.ks2_pupils(results(rows), pupils(rows, schools), FRAMEWORK)


def column(table: pl.DataFrame, name: str) -> dict[str, object]:
    return dict(table.select("upn", name).iter_rows())


def test_ks1_aps_counts_maths_twice_and_a_or_d_at_ks1_leaves_the_pupil_out() -> None:
    rows = {
        # English (10 + 8) / 2 = 9; APS (9 + 6) / 2 = 7.5 (a plain mean of the three would be 8).
        "P1": {**ks1("GDS", "EXS", "WTS"), "ks2_reading_test": "100"},
        # English 6, maths 10: APS 8 (a plain mean would be 7.33).
        "P2": {**ks1("WTS", "WTS", "GDS"), "ks2_reading_test": "104"},
        "P3": {**ks1("A", "EXS", "EXS"), "ks2_reading_test": "110"},
        "P4": {**ks1("EXS", "D", "EXS"), "ks2_reading_test": "110"},
        "P5": {"ks1_reading_ta": "EXS", "ks1_maths_ta": "EXS", "ks2_reading_test": "110"},  # no writing
        "P6": {"ks2_reading_test": "110"},  # no KS1 at all
        "P7": {**ks1("PK1", "PK2", "PK4"), "ks2_reading_test": "90"},  # English 2.75, APS 3.375
    }
    table = ks2_table(rows)
    assert column(table, "ks1_aps") == {
        "P1": 7.5,
        "P2": 8.0,
        "P3": None,
        "P4": None,
        "P5": None,
        "P6": None,
        "P7": 3.375,
    }
    for upn in ("P3", "P4", "P5", "P6"):
        row = table.filter(pl.col("upn") == upn).row(0, named=True)
        assert row["ks2_pag"] is None
        assert row["ks2_reading_progress"] is None and row["ks2_reading_progress_unadjusted"] is None
        assert row["ks2_reading_score"] == 110  # attainment is unaffected
    groups = table.sort("upn").get_column("ks2_pag").to_list()
    p1, p2, p7 = groups[0], groups[1], groups[6]
    assert p7 < p1 < p2  # numbered from the lowest APS up


def test_prior_attainment_groups_are_numbered_over_every_possible_aps() -> None:
    tables = progress.load_tables()
    possible = tables.possible_aps()
    assert possible[0] == 2.5 and possible[-1] == 10.0  # PK1 everywhere .. GDS everywhere
    frame = pl.DataFrame({"aps": [2.5, 10.0, 8.0, None, 8.1]})
    pag = frame.select(progress.prior_attainment_group(pl.col("aps"), tables)).to_series().to_list()
    assert pag[0] == 1 and pag[1] == len(possible)
    assert pag[2] == possible.index(8.0) + 1
    assert pag[3] is None and pag[4] is None  # no APS; an APS the points cannot give


def test_a_pupils_progress_is_their_score_against_their_groups_national_mean() -> None:
    rows = {
        # PAG of APS 8: reading 100, 104, 106, 110 -> mean 105.
        "E1": {**EXS, "ks2_reading_test": "100", "ks2_maths_test": "96"},
        "E2": {**EXS, "ks2_reading_test": "104", "ks2_maths_test": "A"},
        "E3": {**EXS, "ks2_reading_test": "106", "ks2_maths_test": "100"},
        "E4": {**EXS, "ks2_reading_test": "110", "ks2_maths_test": "M"},
        # A different PAG (APS 10): alone, so exactly at its mean.
        "G1": {**ks1("GDS", "GDS", "GDS"), "ks2_reading_test": "120", "ks2_maths_test": "Q"},
    }
    table = ks2_table(rows)
    assert column(table, "ks2_reading_progress_unadjusted") == {
        "E1": -5.0,
        "E2": -1.0,
        "E3": 1.0,
        "E4": 5.0,
        "G1": 0.0,
    }
    assert column(table, "ks2_reading_progress") == column(table, "ks2_reading_progress_unadjusted")
    assert column(table, "ks2_reading_progress_was_adjusted") == dict.fromkeys(rows, False)
    # Maths: A, M and Q are out; the PAG mean is of E1 and E3 only: 98.
    assert column(table, "ks2_maths_progress") == {"E1": -2.0, "E2": None, "E3": 2.0, "E4": None, "G1": None}
    assert column(table, "ks2_maths_progress_was_adjusted")["E2"] is None


def test_nominal_scores_for_pupils_working_below_the_test_or_without_a_scaled_score() -> None:
    rows = {
        # Same PAG (APS 6). Reading scores: 93; B with PK4 -> 73; no test, TA PK6 -> 79; NS -> 79.
        "W1": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "93"},
        "W2": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "B", "ks2_reading_ta": "PK4"},
        "W3": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_ta": "PK6"},
        "W4": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "NS"},
        # Out: B with the engagement model (no nominal score), B with no TA, T, AS, and L (left).
        "W5": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "B", "ks2_reading_ta": "EM"},
        "W6": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "B"},
        "W7": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "T"},
        "W8": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "AS"},
        "W9": {**ks1("WTS", "WTS", "WTS"), "ks2_reading_test": "L"},
    }
    table = ks2_table(rows)
    # Mean of 93, 73, 79, 79 = 81.
    assert column(table, "ks2_reading_progress") == {
        "W1": 12.0,
        "W2": -8.0,
        "W3": -2.0,
        "W4": -2.0,
        "W5": None,
        "W6": None,
        "W7": None,
        "W8": None,
        "W9": None,
    }
    # Nominal scores are for progress only: the average scaled score still counts W1 alone.
    assert column(table, "ks2_reading_score")["W2"] is None
    assert column(table, "ks2_reading_score")["W1"] == 93


def test_writing_progress_uses_teacher_assessment_points_and_leaves_out_a_l_f_p() -> None:
    rows = {
        "T1": {**EXS, "ks2_writing_ta": "GDS"},  # 113
        "T2": {**EXS, "ks2_writing_ta": "WTS"},  # 91
        "T3": {**EXS, "ks2_writing_ta": "EXS"},  # 103
        "T4": {**EXS, "ks2_writing_ta": "PK6"},  # 79
        **{f"T{i}": {**EXS, "ks2_writing_ta": code} for i, code in enumerate("ALFP", start=5)},
        "T9": {**EXS, "ks2_writing_ta": "EM"},
    }
    table = ks2_table(rows)
    # Mean of 113, 91, 103, 79 = 96.5.
    assert column(table, "ks2_writing_progress") == {
        "T1": 16.5,
        "T2": -5.5,
        "T3": 6.5,
        "T4": -17.5,
        "T5": None,
        "T6": None,
        "T7": None,
        "T8": None,
        "T9": None,
    }


def floor_cohort() -> dict[str, dict[str, str]]:
    """100 pupils of one PAG: 50 score 100, 49 score 110, one scores 80. Mean 104.7, so progress is
    -4.7, +5.3 and -24.7. 1% of 100 is one pupil: the cut falls half way between the two lowest
    distinct scores, so the floor is (-24.7 + -4.7) / 2 = -14.7 and only the 80 is raised to it."""
    rows = {f"A{i:02}": {**EXS, "ks2_reading_test": "100"} for i in range(50)}
    rows |= {f"B{i:02}": {**EXS, "ks2_reading_test": "110"} for i in range(49)}
    rows["LOW"] = {**EXS, "ks2_reading_test": "80"}
    return rows


def test_the_floor_raises_an_extreme_negative_pupil_to_their_groups_floor() -> None:
    table = ks2_table(floor_cohort())
    low = table.filter(pl.col("upn") == "LOW").row(0, named=True)
    assert low["ks2_reading_progress_unadjusted"] == pytest.approx(-24.7)
    assert low["ks2_reading_progress"] == pytest.approx(-14.7)
    assert low["ks2_reading_progress_was_adjusted"] is True
    others = table.filter(pl.col("upn") != "LOW")
    assert others.get_column("ks2_reading_progress_was_adjusted").to_list() == [False] * 99
    assert_frame_equal(
        others.select(pl.col("ks2_reading_progress").alias("p")),
        others.select(pl.col("ks2_reading_progress_unadjusted").alias("p")),
    )
    a_pupil = table.filter(pl.col("upn") == "A00").row(0, named=True)
    assert a_pupil["ks2_reading_progress"] == pytest.approx(-4.7)
    school = group_figures(table, ks2.MEASURES, group_columns=["all"]).row(0, named=True)
    # The school mean uses the adjusted score: (50 * -4.7 + 49 * 5.3 - 14.7) / 100 = 0.1.
    assert school["ks2_reading_progress"] == pytest.approx(0.1)
    assert school["ks2_reading_progress_pupils"] == 100


def test_a_schools_progress_and_confidence_interval_worked_on_paper() -> None:
    # One PAG; 7 pupils score 100 and 7 score 110: mean 105, progress -5 or +5. National SD (ddof 1)
    # of the 14 scores of ±5: sqrt(14 * 25 / 13) = sqrt(350 / 13) = 5.1887.
    rows: dict[str, dict[str, str]] = {}
    schools: dict[str, str] = {}
    for i in range(6):
        rows[f"L{i}"] = {**EXS, "ks2_reading_test": "100"}
        schools[f"L{i}"] = "LOW"
        rows[f"H{i}"] = {**EXS, "ks2_reading_test": "110"}
        schools[f"H{i}"] = "HIGH"
    rows["M1"] = {**EXS, "ks2_reading_test": "100"}
    rows["M2"] = {**EXS, "ks2_reading_test": "110"}
    schools |= {"M1": "MIXED", "M2": "MIXED"}
    table = ks2_table(rows, schools)
    figures = group_figures(table, ks2.MEASURES, group_columns=["all"])
    with_ci = KEY_STAGES["ks2"].with_extras
    assert with_ci is progress.progress_confidence
    table_ci = progress.progress_confidence(figures, table)
    by_school = {row["school"]: row for row in table_ci.iter_rows(named=True)}
    sd = math.sqrt(350 / 13)
    six = 1.96 * sd / math.sqrt(6)  # 4.1519
    two = 1.96 * sd / math.sqrt(2)  # 7.1910
    assert by_school["LOW"]["ks2_reading_progress"] == pytest.approx(-5.0)
    assert by_school["LOW"]["ks2_reading_progress_ci_low"] == pytest.approx(-5 - six)
    assert by_school["LOW"]["ks2_reading_progress_ci_high"] == pytest.approx(-5 + six)
    assert by_school["LOW"]["ks2_reading_progress_ci_high"] == pytest.approx(-0.8481, abs=1e-4)
    assert by_school["LOW"]["ks2_reading_progress_significance"] == "below"
    assert by_school["HIGH"]["ks2_reading_progress_ci_low"] == pytest.approx(5 - six)
    assert by_school["HIGH"]["ks2_reading_progress_significance"] == "above"
    assert by_school["MIXED"]["ks2_reading_progress"] == pytest.approx(0.0, abs=1e-12)
    assert by_school["MIXED"]["ks2_reading_progress_ci_high"] == pytest.approx(two)
    assert by_school["MIXED"]["ks2_reading_progress_significance"] == "not significant"
    # No maths results: no figure, no interval, no significance.
    assert by_school["LOW"]["ks2_maths_progress"] is None
    assert by_school["LOW"]["ks2_maths_progress_ci_low"] is None
    assert by_school["LOW"]["ks2_maths_progress_significance"] is None
    assert table_ci.columns[: len(figures.columns)] == figures.columns


def test_confidence_needs_the_progress_columns() -> None:
    figures = pl.DataFrame({"school": ["S"], "group": ["all"], "value": ["all"]})
    with pytest.raises(ValueError, match="ks2_reading_progress"):
        progress.progress_confidence(figures, pl.DataFrame({"upn": ["P"]}))
    assert KEY_STAGES["ks1"].with_extras is None


def test_without_ks1_results_the_progress_columns_are_empty_and_the_rest_of_ks2_unchanged() -> None:
    ks2_only = {
        "P1": {"ks2_reading_test": "104", "ks2_writing_ta": "EXS", "ks2_maths_test": "99"},
        "P2": {"ks2_reading_test": "B", "ks2_reading_ta": "PK5", "ks2_writing_ta": "WTS"},
    }
    without = ks2_table(ks2_only)
    with_ks1 = ks2_table({upn: {**outcomes, **EXS} for upn, outcomes in ks2_only.items()})
    assert without.columns == with_ks1.columns
    assert without.schema == with_ks1.schema
    assert without.schema["ks1_aps"] == pl.Float64 and without.schema["ks2_pag"] == pl.Int64
    assert without.schema["ks2_reading_progress_was_adjusted"] == pl.Boolean
    for name in progress.COLUMNS:
        assert without.get_column(name).null_count() == 2, name
    attainment = [c for c in without.columns if c not in progress.COLUMNS]
    assert_frame_equal(without.select(attainment), with_ks1.select(attainment))
    assert with_ks1.get_column("ks2_reading_progress").null_count() == 0
    figures = group_figures(without, ks2.MEASURES, group_columns=["all"]).row(0, named=True)
    assert figures["ks2_reading_progress"] is None and figures["ks2_reading_progress_pupils"] == 0
    assert figures["ks2_reading_expected"] == pytest.approx(0.5)


def test_the_order_of_rows_changes_no_figure() -> None:
    rows = floor_cohort()
    rows |= {
        f"W{i}": {**ks1("WTS", "EXS", "WTS"), "ks2_reading_test": str(85 + 3 * i), "ks2_writing_ta": wt}
        for i, wt in enumerate(["WTS", "EXS", "GDS", "PK6", "WTS", "EXS", "A"])
    }
    rows |= {
        f"G{i}": {**ks1("GDS", "GDS", "EXS"), "ks2_maths_test": str(101 + i * 2), "ks2_writing_ta": "GDS"}
        for i in range(9)
    }
    schools = {upn: f"S{len(upn) % 3}" for upn in rows}
    first = ks2_table(rows, schools)
    order = list(rows)
    random.Random(7).shuffle(order)
    shuffled_rows = {upn: rows[upn] for upn in order}
    long = results(shuffled_rows).sample(fraction=1.0, shuffle=True, seed=3)
    second = ks2.ks2_pupils(long, pupils(shuffled_rows, schools), FRAMEWORK)
    assert_frame_equal(first.sort("upn"), second.sort("upn"), check_exact=True)
    figures = [
        progress.progress_confidence(group_figures(t, ks2.MEASURES, group_columns=["all"]), t)
        for t in (first, second)
    ]
    assert_frame_equal(figures[0], figures[1], check_exact=True)


def test_every_point_value_names_its_source() -> None:
    tables = progress.load_tables()
    for table in (tables.ks1_points, tables.test_without_score, tables.below_test, tables.writing):
        for value in table.values():
            assert value.source, value.code
    assert tables.ks1_points["EXS"].value == 8 and tables.ks1_points["EXS"].check
    assert tables.writing["WTS"].value == 91
    assert tables.below_test_results == ("B",)
    with pytest.raises(progress.ProgressTableError, match="appears twice"):
        progress.parse_tables(
            {
                "ks1_points": [{"code": "EXS", "points": 8, "source": "x"}] * 2,
                "test_without_score": [{"code": "NS", "score": 79, "source": "x"}],
                "below_test": [{"code": "PK6", "score": 79, "source": "x"}],
                "writing": [{"code": "EXS", "score": 103, "source": "x"}],
            }
        )
