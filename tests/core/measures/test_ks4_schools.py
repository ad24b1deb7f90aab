"""KS4 school-level measures: groups, confidence intervals, banding, national comparators, ranks and
trust/LA aggregates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.core.measures.ks4.estimates import Estimates, load_dfe_estimates
from keystage.core.measures.ks4.schools import (
    GROUPS,
    Group,
    aggregate,
    banding,
    comparator,
    national_measures,
    rank_schools,
    school_measures,
    significance,
    with_comparators,
)
from keystage.core.reference.dfe_files import KS4_PROGRESS8, shipped_path

PROGRESS8 = shipped_path(KS4_PROGRESS8)  # DfE's files as keystage ships them

DEFAULTS: dict[str, Any] = {
    "school": "8004001",
    "a8": 40.0,
    "a8_english": 8.0,
    "a8_maths": 8.0,
    "a8_ebacc": 12.0,
    "a8_open": 12.0,
    "ebacc_entered": False,
    "ebacc_aps": 4.0,
    "em_4plus": False,
    "em_5plus": False,
    "ks2_pa": 100.0,
    "pag": 14,
    "p8": 0.0,
    "p8_english": 0.0,
    "p8_maths": 0.0,
    "p8_ebacc": 0.0,
    "p8_open": 0.0,
    "p8_adjusted": None,  # defaults to p8
    "p8_was_adjusted": False,
    "sex": "F",
    "disadvantaged": False,
    "sen": "N",
    "eal": False,
    "non_mobile": True,
    "ethnicity_group": "WHIT",
    "month_of_birth": 9,
}
SCHEMA = {
    "school": pl.String,
    "upn": pl.String,
    "a8": pl.Float64,
    "a8_english": pl.Float64,
    "a8_maths": pl.Float64,
    "a8_ebacc": pl.Float64,
    "a8_open": pl.Float64,
    "ebacc_entered": pl.Boolean,
    "ebacc_aps": pl.Float64,
    "em_4plus": pl.Boolean,
    "em_5plus": pl.Boolean,
    "ks2_pa": pl.Float64,
    "pag": pl.Int64,
    "p8": pl.Float64,
    "p8_english": pl.Float64,
    "p8_maths": pl.Float64,
    "p8_ebacc": pl.Float64,
    "p8_open": pl.Float64,
    "p8_adjusted": pl.Float64,
    "p8_was_adjusted": pl.Boolean,
    "sex": pl.String,
    "disadvantaged": pl.Boolean,
    "sen": pl.String,
    "eal": pl.Boolean,
    "non_mobile": pl.Boolean,
    "ethnicity_group": pl.String,
    "month_of_birth": pl.Int64,
}


def pupils(*rows: dict[str, Any]) -> pl.DataFrame:
    """A pupil table: each row the defaults with its changes; a pupil without KS2 (ks2_pa None) has no
    P8 figures."""
    records = []
    for index, changes in enumerate(rows):
        record = {**DEFAULTS, "upn": f"UPN{index:05d}", **changes}
        if record["ks2_pa"] is None and "p8" not in changes:
            record.update(
                pag=None,
                p8=None,
                p8_english=None,
                p8_maths=None,
                p8_ebacc=None,
                p8_open=None,
                p8_was_adjusted=None,
            )
        if record["p8_adjusted"] is None:
            record["p8_adjusted"] = record["p8"]
        records.append(record)
    return pl.DataFrame(records, schema=SCHEMA)


@pytest.fixture(scope="module")
def dfe_2024() -> Estimates:
    return load_dfe_estimates(PROGRESS8, "2024prov")


def row(
    table: pl.DataFrame, group: str = "all", value: str = "all", school: str = "8004001"
) -> dict[str, Any]:
    rows = table.filter(pl.col("school") == school, pl.col("group") == group, pl.col("value") == value)
    assert rows.height == 1, (school, group, value, rows)
    return rows.row(0, named=True)


def test_issue_example_school_of_nine_pupils(dfe_2024: Estimates) -> None:
    scores = [0, 0.1, 0.2, 0.3, 0.4, 0.3, 0.2, 0.25, 0.3]
    table = school_measures(pupils(*({"p8": p8} for p8 in scores)), dfe_2024, group_columns=["all"])

    figures = row(table)

    assert table.height == 1
    assert figures["cohort"] == 9 and figures["p8_pupils"] == 9
    assert round(figures["p8"], 2) == 0.23
    assert round(figures["p8_ci_low"], 2) == -0.70
    assert round(figures["p8_ci_high"], 2) == 1.15
    assert figures["p8_ci_high"] - figures["p8"] == pytest.approx(1.96 * 1.41628 / 3)
    assert figures["banding"] == "average"
    assert figures["significance"] == "not significant"
    assert figures["estimates"] == "DfE 2024 provisional estimates"


def test_headline_figures_of_a_school(dfe_2024: Estimates) -> None:
    table = school_measures(
        pupils(
            {
                "a8": 60.0,
                "a8_english": 12.0,
                "ebacc_entered": True,
                "ebacc_aps": 6.0,
                "em_4plus": True,
                "em_5plus": True,
                "p8": 1.0,
                "p8_english": 0.5,
            },
            {
                "a8": 30.0,
                "a8_english": 6.0,
                "ebacc_entered": True,
                "ebacc_aps": 3.0,
                "em_4plus": True,
                "p8": -3.0,
                "p8_adjusted": -2.0,
                "p8_was_adjusted": True,
                "p8_english": -1.5,
            },
            {"a8": 45.0, "a8_english": 9.0, "ks2_pa": None},  # no KS2: in attainment, not in P8
            {"a8": 25.0, "a8_english": 5.0, "ebacc_aps": 2.0, "p8": 0.5, "p8_english": 1.0},
        ),
        dfe_2024,
        group_columns=["all"],
    )

    figures = row(table)

    assert figures["cohort"] == 4
    assert figures["p8_pupils"] == 3
    assert figures["a8"] == pytest.approx(40.0)
    assert figures["a8_english"] == pytest.approx(8.0)
    assert figures["p8"] == pytest.approx((1.0 - 2.0 + 0.5) / 3)  # the adjusted scores
    assert figures["p8_unadjusted"] == pytest.approx((1.0 - 3.0 + 0.5) / 3)
    assert figures["p8_english"] == pytest.approx(0.0)
    assert figures["pupils_adjusted"] == 1
    assert figures["ebacc_entry"] == pytest.approx(0.5)
    assert figures["ebacc_aps"] == pytest.approx(15.0 / 4)
    assert figures["em_4plus"] == pytest.approx(0.5)
    assert figures["em_5plus"] == pytest.approx(0.25)
    # Each element's CI uses its own national SD.
    half = 1.96 * dfe_2024.sd["english"] / math.sqrt(3)
    assert figures["p8_english_ci_low"] == pytest.approx(-half)
    assert figures["p8_english_ci_high"] == pytest.approx(half)
    assert figures["p8_maths_ci_high"] == pytest.approx(1.96 * dfe_2024.sd["maths"] / math.sqrt(3))


def test_a_school_without_any_p8_has_no_banding(dfe_2024: Estimates) -> None:
    table = school_measures(pupils({"ks2_pa": None}, {"ks2_pa": None}), dfe_2024, group_columns=["all"])

    figures = row(table)

    assert figures["cohort"] == 2 and figures["p8_pupils"] == 0
    assert figures["a8"] == pytest.approx(40.0)
    for name in (
        "p8",
        "p8_unadjusted",
        "p8_ci_low",
        "p8_ci_high",
        "p8_open_ci_low",
        "banding",
        "significance",
    ):
        assert figures[name] is None, name
    assert figures["pupils_adjusted"] == 0


@pytest.mark.parametrize(
    ("p8", "low", "high", "band", "significant"),
    [
        (0.6, 0.1, 1.1, "well above", "above"),
        (0.5, 0.01, 0.99, "well above", "above"),
        (0.45, 0.1, 0.8, "above", "above"),
        (0.7, -0.1, 1.5, "average", "not significant"),  # high but not significant
        (0.3, 0.0, 0.6, "average", "not significant"),  # the CI touches 0
        (-0.3, -0.6, -0.01, "below", "below"),
        (-0.5, -0.9, -0.1, "well below", "below"),
        (-0.7, -1.5, 0.1, "average", "not significant"),
        (None, None, None, None, None),
    ],
)
def test_banding_follows_the_rules(
    p8: float | None, low: float | None, high: float | None, band: str | None, significant: str | None
) -> None:
    frame = pl.DataFrame(
        {"p8": [p8], "low": [low], "high": [high]}, schema={k: pl.Float64 for k in ("p8", "low", "high")}
    )

    result = frame.select(
        banding(pl.col("p8"), pl.col("low"), pl.col("high")).alias("band"),
        significance(pl.col("low"), pl.col("high")).alias("significance"),
    )

    assert result.row(0) == (band, significant)


def test_banding_of_real_schools(dfe_2024: Estimates) -> None:
    # 100 pupils: half-width 1.96 * 1.41628 / 10 = 0.2776.
    table = school_measures(
        pupils(
            *({"school": "1000001", "p8": 0.6} for _ in range(100)),
            *({"school": "1000002", "p8": 0.3} for _ in range(100)),
            *({"school": "1000003", "p8": 0.2} for _ in range(100)),
            *({"school": "1000004", "p8": -0.3} for _ in range(100)),
            *({"school": "1000005", "p8": -0.6} for _ in range(100)),
        ),
        dfe_2024,
        group_columns=["all"],
    )

    assert table["banding"].to_list() == ["well above", "above", "average", "below", "well below"]
    assert table["significance"].to_list() == ["above", "above", "not significant", "below", "below"]


def test_every_group_value_with_its_own_figures(dfe_2024: Estimates) -> None:
    table = school_measures(
        pupils(
            {
                "sex": "M",
                "disadvantaged": True,
                "sen": "E",
                "eal": True,
                "ks2_pa": 85.0,
                "p8": -1.0,
                "ethnicity_group": "ASIA",
                "month_of_birth": 8,
                "non_mobile": False,
            },
            {"sex": "F", "sen": "K", "eal": None, "ks2_pa": 105.0, "p8": 0.5, "month_of_birth": 1},
            {"sex": "F", "ks2_pa": 112.0, "p8": 1.0},
            {"sex": "F", "ks2_pa": None, "ethnicity_group": None},
        ),
        dfe_2024,
    )

    got = {(g, v): (c, p) for g, v, c, p in table.select("group", "value", "cohort", "p8_pupils").rows()}
    assert got == {
        ("all", "all"): (4, 3),
        ("sex", "female"): (3, 2),
        ("sex", "male"): (1, 1),
        ("disadvantaged", "disadvantaged"): (1, 1),
        ("disadvantaged", "other"): (3, 2),
        ("sen", "ehcp"): (1, 1),
        ("sen", "support"): (1, 1),
        ("sen", "none"): (2, 1),
        ("eal", "eal"): (1, 1),
        ("eal", "english"): (2, 1),  # EAL unknown: in no EAL value
        ("prior_attainment", "low"): (1, 1),
        ("prior_attainment", "middle"): (1, 1),
        ("prior_attainment", "high"): (1, 1),  # no KS2: in no band
        ("non_mobile", "non_mobile"): (3, 2),
        ("non_mobile", "mobile"): (1, 1),
        ("ethnicity", "ASIA"): (1, 1),
        ("ethnicity", "WHIT"): (2, 2),
        ("month_of_birth", "september"): (2, 1),
        ("month_of_birth", "january"): (1, 1),
        ("month_of_birth", "august"): (1, 1),
    }
    # Rows come in the groups' order and each group's own order of values.
    assert table.select("group", "value").rows()[:8] == [
        ("all", "all"),
        ("sex", "female"),
        ("sex", "male"),
        ("disadvantaged", "disadvantaged"),
        ("disadvantaged", "other"),
        ("sen", "ehcp"),
        ("sen", "support"),
        ("sen", "none"),
    ]
    assert table.filter(pl.col("group") == "month_of_birth")["value"].to_list() == [
        "september",
        "january",
        "august",
    ]
    # Small groups are computed in full: suppression is the reports' job.
    assert row(table, "sex", "male")["p8"] == pytest.approx(-1.0)
    assert row(table, "sex", "male")["banding"] == "average"
    assert row(table, "sex", "female")["p8"] == pytest.approx(0.75)


def test_codes_written_loosely_fall_in_the_same_groups(dfe_2024: Estimates) -> None:
    """Analysts' files write codes as they come: " m", "f ", "k"; they count as M, F and K."""
    table = school_measures(
        pupils(
            {"sex": " m", "sen": "k"},
            {"sex": "f ", "sen": " E"},
            {"sex": "M", "sen": None},
            {"sex": "?"},
        ),
        dfe_2024,
        group_columns=["all", "sex", "sen"],
    )
    got = {(g, v): c for g, v, c in table.select("group", "value", "cohort").rows()}
    assert got == {
        ("all", "all"): 4,
        ("sex", "female"): 1,
        ("sex", "male"): 2,  # "?" is in no sex value
        ("sen", "ehcp"): 1,
        ("sen", "support"): 1,
        ("sen", "none"): 1,  # the default row's "N"; None is in no SEN value
    }


def test_groups_asked_for_and_missing_columns(dfe_2024: Estimates) -> None:
    table = pupils({}, {"sex": "M"}).drop("ethnicity_group", "month_of_birth")

    default = school_measures(table, dfe_2024)
    assert "ethnicity" not in default["group"].to_list()  # no column: not computed by default
    assert set(default["group"]) == {
        "all",
        "sex",
        "disadvantaged",
        "sen",
        "eal",
        "prior_attainment",
        "non_mobile",
    }

    chosen = school_measures(table, dfe_2024, group_columns=["sex"])
    assert chosen.select("group", "value").rows() == [("sex", "female"), ("sex", "male")]

    with pytest.raises(ValueError, match="'ethnicity' needs the column"):
        school_measures(table, dfe_2024, group_columns=["all", "ethnicity"])
    with pytest.raises(ValueError, match="unknown pupil group"):
        school_measures(table, dfe_2024, group_columns=["shoe_size"])
    with pytest.raises(ValueError, match="lacks the column"):
        school_measures(table.drop("p8_adjusted"), dfe_2024)


def test_groups_of_your_own(dfe_2024: Estimates) -> None:
    looked_after = Group(
        "looked_after", ("looked_after",), pl.when(pl.col("looked_after")).then(pl.lit("yes")), None
    )
    table = pupils({}, {}).with_columns(pl.Series("looked_after", [True, False]))

    result = school_measures(table, dfe_2024, group_columns={"looked_after": looked_after})

    assert result.select("group", "value", "cohort").rows() == [("looked_after", "yes", 1)]


def test_the_group_names() -> None:
    assert list(GROUPS) == [
        "all",
        "sex",
        "disadvantaged",
        "sen",
        "eal",
        "prior_attainment",
        "non_mobile",
        "ethnicity",
        "month_of_birth",
    ]


def test_prior_attainment_bands_at_their_edges(dfe_2024: Estimates) -> None:
    table = school_measures(
        pupils(*({"ks2_pa": score} for score in (80.0, 99.5, 100.0, 109.5, 110.0, 120.0))),
        dfe_2024,
        group_columns=["prior_attainment"],
    )

    # DfE's bands: below the expected standard (100) low, 110 and above high.
    assert table.select("value", "cohort").rows() == [("low", 2), ("middle", 2), ("high", 2)]


def _cohort(n: int, schools: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    p8 = np.round(rng.normal(0, 1.3, n), 6)
    floor = -3.0
    ks2 = np.where(rng.random(n) < 0.1, np.nan, np.round(rng.normal(104, 7, n) * 2) / 2)
    frame = pl.DataFrame(
        {
            "school": (8000000 + rng.integers(0, schools, n)).astype(str),
            "upn": [f"U{i:07d}" for i in range(n)],
            "a8": np.round(rng.uniform(0, 90, n) * 4) / 4,
            "a8_english": rng.uniform(0, 18, n),
            "a8_maths": rng.uniform(0, 18, n),
            "a8_ebacc": rng.uniform(0, 27, n),
            "a8_open": rng.uniform(0, 27, n),
            "ebacc_entered": rng.random(n) < 0.4,
            "ebacc_aps": rng.uniform(0, 9, n),
            "em_4plus": rng.random(n) < 0.6,
            "em_5plus": rng.random(n) < 0.4,
            "ks2_pa": ks2,
            "p8": p8,
            "p8_english": rng.normal(0, 1.6, n),
            "p8_maths": rng.normal(0, 1.5, n),
            "p8_ebacc": rng.normal(0, 1.6, n),
            "p8_open": rng.normal(0, 1.6, n),
            "p8_adjusted": np.maximum(p8, floor),
            "p8_was_adjusted": p8 < floor,
            "sex": rng.choice(["M", "F"], n),
            "disadvantaged": rng.random(n) < 0.25,
            "sen": rng.choice(["E", "K", "N"], n, p=[0.05, 0.15, 0.8]),
            "eal": rng.random(n) < 0.2,
            "non_mobile": rng.random(n) < 0.9,
            "ethnicity_group": rng.choice(["WHIT", "ASIA", "BLAC", "MIXD"], n),
            "month_of_birth": rng.integers(1, 13, n),
            "trust": rng.choice(["T1", "T2", ""], n),
        }
    ).with_columns(pl.col("ks2_pa").fill_nan(None), pl.col("trust").replace("", None))
    no_ks2 = pl.col("ks2_pa").is_null()
    return frame.with_columns(
        *[
            pl.when(no_ks2).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("p8", "p8_english", "p8_maths", "p8_ebacc", "p8_open", "p8_adjusted", "p8_was_adjusted")
        ]
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 300), schools=st.integers(1, 6))
def test_order_of_rows_never_changes_any_figure(seed: int, size: int, schools: int) -> None:
    estimates = load_dfe_estimates(PROGRESS8, "2024prov")
    cohort = _cohort(size, schools, seed=seed % 1000)
    shuffled = cohort.sample(fraction=1.0, shuffle=True, seed=seed)

    assert school_measures(cohort, estimates).equals(school_measures(shuffled, estimates))
    assert national_measures(cohort, estimates).equals(national_measures(shuffled, estimates))
    assert aggregate(cohort, estimates, by="trust").equals(aggregate(shuffled, estimates, by="trust"))
    assert rank_schools(school_measures(cohort, estimates)).equals(
        rank_schools(school_measures(shuffled, estimates))
    )


def test_national_figures_over_every_pupil(dfe_2024: Estimates) -> None:
    cohort = _cohort(3_000, 20, seed=4)

    national = national_measures(cohort, dfe_2024)
    schools = school_measures(cohort, dfe_2024)

    assert set(national["school"]) == {"national"}
    everyone = row(national, school="national")
    assert everyone["cohort"] == 3_000
    assert everyone["p8_pupils"] == cohort["p8"].count()
    assert everyone["p8"] == pytest.approx(cohort["p8_adjusted"].mean())
    assert everyone["a8"] == pytest.approx(cohort["a8"].mean())
    # The nation's groups add up from the schools' groups.
    by_group = schools.group_by("group", "value").agg(pl.col("cohort").sum()).sort("group", "value")
    assert by_group.rows() == national.select("group", "value", "cohort").sort("group", "value").rows()


def test_disadvantaged_pupils_are_compared_with_other_pupils_nationally(dfe_2024: Estimates) -> None:
    cohort = _cohort(2_000, 10, seed=6)
    national = national_measures(cohort, dfe_2024)

    default = comparator(national, "disadvantaged", "disadvantaged")
    switched = comparator(national, "disadvantaged", "disadvantaged", switch_like_for_like=True)
    other = comparator(national, "disadvantaged", "other")
    boys = comparator(national, "sex", "male")

    assert default is not None and switched is not None and other is not None and boys is not None
    assert (default["group"], default["value"]) == ("disadvantaged", "other")
    assert (switched["group"], switched["value"]) == ("disadvantaged", "disadvantaged")
    assert (other["group"], other["value"]) == ("disadvantaged", "other")
    assert (boys["group"], boys["value"]) == ("sex", "male")
    assert comparator(national, "ethnicity", "CHIN") is None  # no such pupils nationally


def test_comparators_beside_each_school_row(dfe_2024: Estimates) -> None:
    cohort = _cohort(2_000, 10, seed=7)
    national = national_measures(cohort, dfe_2024)
    schools = school_measures(cohort, dfe_2024)

    compared = with_comparators(schools, national)
    switched = with_comparators(schools, national, switch_like_for_like=True)

    assert compared.height == schools.height
    assert compared.select(schools.columns).equals(schools)
    disadvantaged = compared.filter(
        pl.col("group") == "disadvantaged", pl.col("value") == "disadvantaged"
    ).row(0, named=True)
    assert disadvantaged["comparator_value"] == "other"
    assert disadvantaged["national_p8"] == row(national, "disadvantaged", "other", school="national")["p8"]
    like = switched.filter(pl.col("group") == "disadvantaged", pl.col("value") == "disadvantaged").row(
        0, named=True
    )
    assert like["national_p8"] == row(national, "disadvantaged", "disadvantaged", school="national")["p8"]
    girls = compared.filter(pl.col("group") == "sex", pl.col("value") == "female").row(0, named=True)
    assert girls["national_a8"] == row(national, "sex", "female", school="national")["a8"]


def test_percentile_and_quintile_among_schools(dfe_2024: Estimates) -> None:
    # Ten schools with P8 0.9, 0.8 ... 0.0; the third and fourth tie at 0.7.
    scores = [0.9, 0.8, 0.7, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    table = pupils(*({"school": f"10000{i:02d}", "p8": p8} for i, p8 in enumerate(scores)))
    table = pl.concat([table, pupils({"school": "2000000", "ks2_pa": None})])  # no P8: not ranked

    ranked = rank_schools(school_measures(table, dfe_2024))

    assert ranked.columns == ["school", "p8", "rank", "schools", "percentile", "quintile"]
    assert ranked["school"].to_list() == [f"10000{i:02d}" for i in range(10)]
    assert ranked["rank"].to_list() == [1, 2, 3, 3, 5, 6, 7, 8, 9, 10]
    assert ranked["percentile"].to_list() == [10, 20, 30, 30, 50, 60, 70, 80, 90, 100]
    assert ranked["quintile"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert set(ranked["schools"]) == {10}


def test_percentile_one_is_the_top_one_percent(dfe_2024: Estimates) -> None:
    table = pupils(*({"school": f"1{i:06d}", "p8": 1 - i / 1000} for i in range(300)))

    ranked = rank_schools(school_measures(table, dfe_2024, group_columns=["all"]))

    assert ranked.filter(pl.col("percentile") == 1)["school"].to_list() == ["1000000", "1000001", "1000002"]
    assert ranked.group_by("quintile").len().sort("quintile")["len"].to_list() == [60] * 5


def test_trust_and_la_aggregates_pool_their_pupils(dfe_2024: Estimates) -> None:
    table = pupils(
        {"school": "8004001", "p8": 1.0},
        {"school": "8004001", "p8": 1.0},
        {"school": "8004001", "p8": 1.0},
        {"school": "8002001", "p8": -1.0},
        {"school": "8002002", "p8": 0.5},
    ).with_columns(
        pl.Series("trust", ["T", "T", "T", "T", None]),
        pl.Series("la", ["800", "800", "800", "800", "800"]),
    )

    trusts = aggregate(table, dfe_2024, by="trust", group_columns=["all"])
    las = aggregate(table, dfe_2024, by="la", group_columns=["all", "sex"])

    assert trusts.columns[0] == "trust" and "school" not in trusts.columns
    assert trusts.select("trust", "cohort").rows() == [("T", 4)]  # the maintained school is in no trust
    assert trusts["p8"][0] == pytest.approx(0.5)  # (1 + 1 + 1 - 1) / 4, not the mean of two schools
    assert las.filter(pl.col("group") == "all").select("la", "cohort").rows() == [("800", 5)]
    assert las["p8"][0] == pytest.approx(2.5 / 5)
    with pytest.raises(ValueError, match="no column 'trust_name'"):
        aggregate(table, dfe_2024, by="trust_name")


def test_a_national_cohort_is_handled_whole(dfe_2024: Estimates) -> None:
    cohort = _cohort(60_000, 300, seed=8)

    table = school_measures(cohort, dfe_2024)

    assert table.filter(pl.col("group") == "all")["cohort"].sum() == 60_000
    assert table.filter(pl.col("group") == "all").height == 300
    assert table["banding"].null_count() == 0
