"""keystage's KS1-based value added, the engine alone: KS1 points and average point score, groups by
equal point score, group means and value added, school figures beside the Progress 8 table's rows,
pupils left out counted, stored groups in plain JSON, and the table of years without Progress 8."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.core.measures.ks4.prior_attainment import without_progress8


def _pupils() -> pl.DataFrame:
    # A8 elements: English, maths, EBacc, open; a8 is their sum.
    rows = [
        ("S1", "P1", "EXS", "EXS", "EXS", (12, 14, 15, 12), "F"),
        ("S1", "P2", "EXS", "EXS", "EXS", (8, 10, 12, 9), "M"),
        ("S2", "P3", "EXS", "exs ", "EXS", (10, 12, 9, 9), "F"),
        ("S2", "P4", "GDS", "EXS", "GDS", (16, 18, 21, 20), "M"),
        ("S2", "P5", "EXS", "GDS", "GDS", (14, 16, 18, 18), "F"),  # P4's APS, reading and writing swapped
        ("S2", "P6", None, None, None, (4, 6, 3, 3), "M"),
        ("S2", "P7", "BLW", "BLW", "PKF", (2, 2, 0, 1), "F"),
        ("S2", "P8", "EXS", "EXS", "", (9, 9, 9, 9), "M"),
    ]
    return pl.DataFrame(
        {
            "school": [r[0] for r in rows],
            "upn": [r[1] for r in rows],
            "ks1_reading": [r[2] for r in rows],
            "ks1_writing": [r[3] for r in rows],
            "ks1_maths": [r[4] for r in rows],
            "a8_english": [float(r[5][0]) for r in rows],
            "a8_maths": [float(r[5][1]) for r in rows],
            "a8_ebacc": [float(r[5][2]) for r in rows],
            "a8_open": [float(r[5][3]) for r in rows],
            "a8": [float(sum(r[5])) for r in rows],
            "sex": [r[6] for r in rows],
        }
    )


def test_2025_and_2026_have_no_progress_8_and_say_why():
    assert without_progress8(2026).message == (
        "DfE publishes no Progress 8 for 2026 (these pupils sat no KS2 tests in 2021)"
    )
    assert without_progress8(2025).ks2_year == 2020
    assert (
        without_progress8(2024) is None
        and without_progress8(2027) is None
        and without_progress8(None) is None
    )


def test_ks1_points_give_an_average_point_score_weighting_english_and_maths_equally():
    table = ks1.with_ks1_prior(_pupils())
    aps = dict(table.select("upn", "ks1_aps").iter_rows())
    assert (aps["P1"], aps["P3"], aps["P4"], aps["P5"]) == (8, 8, 9.5, 9.5)  # ((10 + 8) / 2 + 10) / 2
    pag = dict(table.select("upn", "ks1_pag").iter_rows())
    assert pag["P1"] == pag["P2"] == pag["P3"] and pag["P4"] == pag["P5"] > pag["P1"]
    missing = dict(table.select("upn", "ks1_missing").iter_rows())
    assert missing["P6"] == ks1.NO_KS1 and missing["P7"] == ks1.NOT_SCORED and missing["P8"] == ks1.NOT_SCORED
    assert missing["P1"] is None
    assert ks1.unknown_codes(_pupils().with_columns(pl.lit("XYZ").alias("ks1_maths"))) == ["XYZ"]
    assert ks1.unknown_codes(_pupils()) == []  # BLW and PKF, the 2016-2018 interim codes, are known


def test_value_added_is_against_the_groups_national_means_divided_as_progress_8():
    table = ks1.with_ks1_prior(_pupils())
    groups = ks1.national_groups(table, "test nation")
    exs = groups.group(int(table.filter(pl.col("upn") == "P1").item(0, "ks1_pag")))
    assert exs is not None and exs["pupils"] == 3 and exs["a8"] == pytest.approx((53 + 39 + 40) / 3)
    scored = {row["upn"]: row for row in ks1.with_value_added(table, groups).iter_rows(named=True)}
    assert scored["P1"]["ks1_va"] == pytest.approx((53 - 44) / 10)
    assert scored["P1"]["ks1_va_maths"] == pytest.approx((14 - 12) / 2)
    assert scored["P1"]["ks1_va_ebacc"] == pytest.approx((15 - 12) / 3)
    assert scored["P6"]["ks1_va"] is None and scored["P7"]["ks1_va"] is None
    # The national SD of pupils' value added, ddof 1.
    values = [scored[u]["ks1_va"] for u in ("P1", "P2", "P3", "P4", "P5")]
    mean = sum(values) / 5
    assert groups.sd["va"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in values) / 4))


def test_school_figures_count_who_is_left_out_and_have_an_interval():
    table = ks1.with_ks1_prior(_pupils())
    groups = ks1.national_groups(table, "test nation")
    figures = ks1.value_added_figures(
        ks1.with_value_added(table, groups), groups, group_columns=["all", "sex"]
    )
    two = figures.filter((pl.col("school") == "S2") & (pl.col("group") == "all")).row(0, named=True)
    assert (two["ks1_va_pupils"], two["ks1_none"], two["ks1_other"]) == (3, 1, 2)
    half = 1.96 * groups.sd["va"] / math.sqrt(3)
    assert two["ks1_va_ci_high"] - two["ks1_va"] == pytest.approx(half)
    assert set(figures.filter(pl.col("school") == "S1").get_column("value")) == {"all", "female", "male"}
    assert ks1.missing_words(1, 2) == (
        "1 pupil has no KS1 assessment and 2 pupils have a KS1 assessment that gives no KS1 point score "
        "(e.g. BLW, absent, disapplied or a subject missing) and are not in the value added"
    )
    nation = ks1.national_value_added(ks1.with_value_added(table, groups), groups, group_columns=["all"])
    assert nation.item(0, "ks1_va") == pytest.approx(0, abs=1e-8)


def test_the_groups_are_stored_as_plain_json_and_read_back():
    table = ks1.with_ks1_prior(_pupils().head(1))  # one pupil: no spread, so no SD
    groups = ks1.national_groups(table, "one pupil")
    data = json.loads(json.dumps(groups.to_json(), allow_nan=False))
    assert data["sd"]["va"] is None
    again = ks1.Ks1Groups.from_json(data)
    assert again.by_group.equals(groups.by_group) and again.label == "one pupil"
    figures = ks1.value_added_figures(ks1.with_value_added(table, again), again, group_columns=["all"])
    assert figures.item(0, "ks1_va") == 0 and figures.item(0, "ks1_va_ci_low") is None
