"""KS4 Progress 8 estimates: DfE's published files, the platform's own national estimates and the
negative-score floors."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystage.core.measures.ks4.estimates import (
    Estimates,
    EstimatesFileError,
    available_releases,
    load_dfe_estimates,
    load_dfe_pillar_estimates,
    national_floors,
    platform_estimates,
    published_floors,
)
from keystage.core.reference.dfe_files import KS4_PROGRESS8, shipped_path

PROGRESS8 = shipped_path(KS4_PROGRESS8)  # DfE's files as keystage ships them


@pytest.fixture(scope="module")
def dfe_2024() -> Estimates:
    return load_dfe_estimates(PROGRESS8, "2024prov")


def test_the_four_published_releases_are_found_oldest_first() -> None:
    assert available_releases(PROGRESS8) == ["2022rev", "2023prov", "2023rev", "2024prov"]


@pytest.mark.parametrize(
    ("release", "label", "p8_sd"),
    [
        ("2022rev", "DfE 2022 revised estimates", 1.408359),
        ("2023prov", "DfE 2023 provisional estimates", 1.412814),
        ("2023rev", "DfE 2023 revised estimates", 1.414023),
        ("2024prov", "DfE 2024 provisional estimates", 1.41628),
    ],
)
def test_every_release_loads_whole(release: str, label: str, p8_sd: float) -> None:
    estimates = load_dfe_estimates(PROGRESS8, release)

    assert estimates.label == label
    assert estimates.sd["p8"] == p8_sd
    assert set(estimates.sd) == {"p8", "english", "maths", "ebacc", "open"}
    assert estimates.floors is None
    assert estimates.by_pag.columns == ["pag", "a8", "english", "maths", "ebacc", "open"]
    assert estimates.by_pag.schema["pag"] == pl.Int64
    assert estimates.by_pag["pag"].to_list() == list(range(1, 35))
    assert estimates.by_pag.null_count().sum_horizontal().item() == 0
    # A8 estimates rise with prior attainment (group 1 is the lowest), from about 16 to about 83.
    assert estimates.by_pag["a8"].is_sorted()
    assert 10 < estimates.by_pag["a8"][0] < 20
    assert 80 < estimates.by_pag["a8"][-1] < 85
    assert estimates.ranges.columns == ["pag", "low", "high"]
    assert estimates.ranges.row(0) == (1, 59.0, 82.0)
    assert estimates.ranges.row(1) == (2, 82.5, 86.0)
    assert estimates.ranges.row(33) == (34, 119.5, 120.0)


def test_2024_provisional_figures_match_the_published_file(dfe_2024: Estimates) -> None:
    assert dfe_2024.by_pag.row(0) == (1, 15.96, 3.86, 2.39, 4.36, 5.34)
    assert dfe_2024.by_pag.row(33) == (34, 82.03, 16.14, 16.71, 25.02, 24.15)
    assert dfe_2024.sd == {
        "p8": 1.41628,
        "english": 1.614052,
        "maths": 1.487134,
        "ebacc": 1.637291,
        "open": 1.616699,
    }


def test_ready_reckoner_pupil_with_ks2_79_and_no_points_scores_minus_1_60(dfe_2024: Estimates) -> None:
    pupil = dfe_2024.assign_pag(pl.DataFrame({"upn": ["A"], "ks2_pa": [79.0], "a8": [0.0]}))
    assert pupil["pag"].to_list() == [1]

    scored = pupil.join(dfe_2024.by_pag.select("pag", pl.col("a8").alias("estimate")), on="pag")
    p8 = (scored["a8"] - scored["estimate"]) / 10

    assert p8[0] == pytest.approx(-1.596)
    assert round(p8[0], 2) == -1.60


def test_assign_pag_uses_the_upper_bounds_as_dfe_does(dfe_2024: Estimates) -> None:
    frame = pl.DataFrame(
        {
            "upn": list("ABCDEFGHIJ"),
            "ks2_pa": [82.0, 82.5, 82.25, 119.5, 120.0, None, 59.0, 100.0, 86.25, 93.0],
        }
    )

    assigned = dfe_2024.assign_pag(frame)

    assert assigned.columns == ["upn", "ks2_pa", "pag"]
    assert assigned.schema["pag"] == pl.Int64
    assert assigned["pag"].to_list() == [1, 2, 2, 34, 34, None, 1, 14, 3, 7]


def test_assign_pag_on_another_column_and_nan(dfe_2024: Estimates) -> None:
    frame = pl.DataFrame({"prior": [float("nan"), 105.0], "pag": [9, 9]})

    assigned = dfe_2024.assign_pag(frame, ks2_column="prior")

    assert assigned["pag"].to_list() == [None, 19]  # the old pag column is replaced


def test_assign_pag_refuses_a_missing_or_text_column(dfe_2024: Estimates) -> None:
    with pytest.raises(ValueError, match="ks2_pa"):
        dfe_2024.assign_pag(pl.DataFrame({"upn": ["A"]}))
    with pytest.raises(ValueError, match="numeric"):
        dfe_2024.assign_pag(pl.DataFrame({"ks2_pa": ["100"]}))


def test_assign_pag_of_an_empty_table(dfe_2024: Estimates) -> None:
    empty = pl.DataFrame({"ks2_pa": []}, schema={"ks2_pa": pl.Float64})
    assert dfe_2024.assign_pag(empty).schema == pl.Schema({"ks2_pa": pl.Float64, "pag": pl.Int64})


def test_ebacc_pillar_estimates_load() -> None:
    pillars = load_dfe_pillar_estimates(PROGRESS8, "2024prov")

    assert pillars.columns == ["pag", "science", "humanities", "languages"]
    assert pillars.height == 34
    assert pillars.row(0) == (1, 1.83, 1.72, 4.36)


def _copy(tmp_path: Path, release: str = "2024prov") -> Path:
    for name in (f"a8_estimates_{release}.csv", f"p8_sd_{release}.csv"):
        shutil.copy(PROGRESS8 / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8-sig")
    assert old in text
    path.write_text("\ufeff" + text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("a8_estimates_2024prov.csv", "Attainment 8 average", "A8", "a8_estimates_2024prov.csv: no column"),
        (
            "a8_estimates_2024prov.csv",
            "1,59 to 82,15.96",
            "1,59 to 82,lots",
            "csv, line 4: a8 'lots' is not a number",
        ),
        ("a8_estimates_2024prov.csv", "2,82.5 to 86", "2,82.5 - 86", "range '82.5 - 86'"),
        ("a8_estimates_2024prov.csv", "2,82.5 to 86", "1,82.5 to 86", "appears twice"),
        ("a8_estimates_2024prov.csv", "2,82.5 to 86", "2,81 to 86", "groups 1 and 2 overlap"),
        ("a8_estimates_2024prov.csv", "3,86.5 to", "x,86.5 to", "group 'x' is not a whole number"),
        ("p8_sd_2024prov.csv", "1.41628", "", "p8_sd_2024prov.csv, line 2: p8 '' is not a number"),
        ("p8_sd_2024prov.csv", "1.41628", "-1.41628", "must be above 0"),
        ("p8_sd_2024prov.csv", "p8stdev", "p8sd", "p8_sd_2024prov.csv: no column 'p8stdev'"),
    ],
)
def test_malformed_files_are_refused_naming_the_file(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = _copy(tmp_path)
    _edit(folder / file, old, new)

    with pytest.raises(EstimatesFileError) as raised:
        load_dfe_estimates(folder, "2024prov")

    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_second_row_of_standard_deviations_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "p8_sd_2024prov.csv").open("a", encoding="utf-8") as handle:
        handle.write("1,1,1,1,1\n")

    with pytest.raises(EstimatesFileError, match=r"p8_sd_2024prov\.csv: expected one row .* found 2"):
        load_dfe_estimates(folder, "2024prov")


def test_a_missing_or_empty_file_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "p8_sd_2024prov.csv").unlink()
    with pytest.raises(EstimatesFileError, match=r"p8_sd_2024prov\.csv: file not found"):
        load_dfe_estimates(folder, "2024prov")

    (folder / "a8_estimates_2024prov.csv").write_text("")
    with pytest.raises(EstimatesFileError, match=r"a8_estimates_2024prov\.csv: the file is empty"):
        load_dfe_estimates(folder, "2024prov")


def test_a_file_without_bom_or_in_another_encoding(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "a8_estimates_2024prov.csv"
    path.write_text(path.read_text(encoding="utf-8-sig"), encoding="utf-8")  # no BOM: still fine
    assert load_dfe_estimates(folder, "2024prov").by_pag.height == 34

    path.write_bytes(b"\xff\xfe" + "KS2 prior attainment group".encode("utf-16-le"))
    with pytest.raises(EstimatesFileError, match=r"a8_estimates_2024prov\.csv: not a readable UTF-8 CSV"):
        load_dfe_estimates(folder, "2024prov")


def test_release_names_are_checked_and_only_complete_releases_listed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a release name"):
        load_dfe_estimates(PROGRESS8, "../2024prov")
    folder = _copy(tmp_path, "2024prov")
    shutil.copy(PROGRESS8 / "a8_estimates_2023rev.csv", folder / "a8_estimates_2023rev.csv")  # no SD file

    assert available_releases(folder) == ["2024prov"]
    assert available_releases(tmp_path / "nowhere") == []


# Platform estimates ------------------------------------------------------------------------------


def _platform_pupils() -> pl.DataFrame:
    # Group 1: A8 10 and 30 (mean 20); group 2: A8 40, 50, 60 (mean 50); one pupil without KS2.
    return pl.DataFrame(
        {
            "pag": [1, 1, 2, 2, 2, None],
            "a8": [10.0, 30.0, 40.0, 50.0, 60.0, 80.0],
            "a8_english": [2.0, 6.0, 8.0, 10.0, 12.0, 16.0],
            "a8_maths": [2.0, 6.0, 8.0, 10.0, 12.0, 16.0],
            "a8_ebacc": [3.0, 9.0, 12.0, 15.0, 18.0, 24.0],
            "a8_open": [3.0, 9.0, 12.0, 15.0, 18.0, 24.0],
        },
        schema_overrides={"pag": pl.Int64},
    )


def test_platform_estimates_are_national_means_per_group(dfe_2024: Estimates) -> None:
    estimates = platform_estimates(_platform_pupils(), dfe_2024.ranges, "keystage national 2026 (5 pupils)")

    assert estimates.label == "keystage national 2026 (5 pupils)"
    assert estimates.by_pag.columns == ["pag", "a8", "english", "maths", "ebacc", "open"]
    assert estimates.by_pag.rows() == [(1, 20.0, 4.0, 4.0, 6.0, 6.0), (2, 50.0, 10.0, 10.0, 15.0, 15.0)]
    assert estimates.ranges.equals(dfe_2024.ranges)
    # P8: -1, +1 (group 1) and -1, 0, +1 (group 2): sample SD sqrt(4 / 4) = 1. English: (2-4)/2 = -1,
    # +1, (8-10)/2 = -1, 0, +1: also 1; EBacc and open: (3-6)/3 = -1 ... also 1.
    assert estimates.sd == pytest.approx({"p8": 1.0, "english": 1.0, "maths": 1.0, "ebacc": 1.0, "open": 1.0})
    assert estimates.floors is not None
    assert estimates.floors.columns == ["pag", "p8_floor"]
    assert estimates.floors["pag"].to_list() == [1, 2]


def test_platform_estimates_need_pupils_with_a_group(dfe_2024: Estimates) -> None:
    pupils = _platform_pupils().with_columns(pl.lit(None, dtype=pl.Int64).alias("pag"))
    with pytest.raises(ValueError, match="no pupils have a prior attainment group"):
        platform_estimates(pupils, dfe_2024.ranges, "x")
    with pytest.raises(ValueError, match="a8_open"):
        platform_estimates(_platform_pupils().drop("a8_open"), dfe_2024.ranges, "x")


def test_platform_estimates_do_not_depend_on_row_order(dfe_2024: Estimates) -> None:
    pupils = _national_p8(2_000, seed=5).select(
        "pag",
        (pl.col("p8") * 10 + 40).alias("a8"),
        *((pl.col("p8") * 2 + 8).alias(name) for name in ("a8_english", "a8_maths", "a8_ebacc", "a8_open")),
    )
    first = platform_estimates(pupils, dfe_2024.ranges, "x")
    second = platform_estimates(pupils.sample(fraction=1.0, shuffle=True, seed=9), dfe_2024.ranges, "x")

    assert first.by_pag.equals(second.by_pag)
    assert first.sd == second.sd
    assert first.floors is not None and second.floors is not None
    assert first.floors.equals(second.floors)


# Negative-score floors ---------------------------------------------------------------------------


def _national_p8(n: int, seed: int) -> pl.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    pag = rng.integers(1, 35, n)
    # Spread differs by group, with a long negative tail, as real P8 does.
    p8 = rng.normal(0.0, 0.6 + pag / 40, n) - rng.exponential(0.3, n)
    return pl.DataFrame({"pag": pag, "p8": p8}, schema={"pag": pl.Int64, "p8": pl.Float64})


def test_floors_cap_about_one_percent_of_pupils_nationally() -> None:
    pupils = _national_p8(20_000, seed=1)

    floors = national_floors(pupils)

    assert floors.columns == ["pag", "p8_floor"]
    assert floors["pag"].to_list() == list(range(1, 35))
    below = pupils.join(floors, on="pag").filter(pl.col("p8") < pl.col("p8_floor")).height
    assert below == 200  # exactly 1% here: the cut falls between two pupils


def test_floors_are_one_number_of_sds_below_each_group_mean() -> None:
    pupils = _national_p8(10_000, seed=2)

    floors = national_floors(pupils, share=0.02)

    stats = pupils.group_by("pag").agg(pl.col("p8").mean().alias("mean"), pl.col("p8").std().alias("sd"))
    k = floors.join(stats, on="pag").select((pl.col("mean") - pl.col("p8_floor")) / pl.col("sd"))
    assert k.to_series().min() == pytest.approx(k.to_series().max())
    assert k.to_series()[0] > 1.5  # a couple of SDs below the mean, never above it
    assert pupils.join(floors, on="pag").filter(pl.col("p8") < pl.col("p8_floor")).height == 200


def test_floors_of_groups_without_spread_cap_no_one() -> None:
    pupils = pl.DataFrame(
        {"pag": [1] * 200 + [2, 3, 3], "p8": [float(i) / 100 for i in range(200)] + [-5.0, -1.0, -1.0]},
        schema={"pag": pl.Int64, "p8": pl.Float64},
    )

    floors = dict(national_floors(pupils).rows())

    assert floors[2] == -5.0 and floors[3] == -1.0  # the lowest score: nobody raised
    assert pupils.filter(pl.col("pag") == 1, pl.col("p8") < floors[1]).height == 2  # 1% of 203


def test_floors_ignore_pupils_without_a_score_and_check_the_share() -> None:
    pupils = pl.DataFrame(
        {"pag": [1, 1, 1, None], "p8": [0.0, 1.0, None, -9.0]}, schema_overrides={"pag": pl.Int64}
    )
    assert national_floors(pupils)["pag"].to_list() == [1]
    with pytest.raises(ValueError, match="share"):
        national_floors(pupils, share=0.5)
    with pytest.raises(ValueError, match="no pupils have a P8"):
        national_floors(pupils.filter(pl.col("p8").is_null()))


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(
        st.tuples(st.integers(1, 4), st.floats(-4, 3, allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=150,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_floors_never_depend_on_row_order(scores: list[tuple[int, float]], seed: int) -> None:
    pupils = pl.DataFrame(scores, schema={"pag": pl.Int64, "p8": pl.Float64}, orient="row")

    shuffled = pupils.sample(fraction=1.0, shuffle=True, seed=seed)

    assert national_floors(pupils).equals(national_floors(shuffled))


def test_published_floors_put_one_percent_of_a_normal_spread_with_dfes_sd_below(dfe_2024) -> None:
    import numpy as np

    floors = published_floors(dfe_2024)

    assert floors.columns == ["pag", "p8_floor"] and floors["pag"].to_list() == list(range(1, 35))
    assert floors["p8_floor"].n_unique() == 1  # one national SD: the same floor in every group
    floor = floors["p8_floor"][0]
    # Pupils spread normally about each group's mean of 0 with DfE's national SD: about 1% below.
    rng = np.random.default_rng(5)
    p8 = rng.normal(0.0, dfe_2024.sd["p8"], 200_000)
    assert (p8 < floor).mean() == pytest.approx(0.01, abs=0.001)
    assert published_floors(dfe_2024, share=0.05)["p8_floor"][0] > floor  # a bigger share, a higher floor
    with pytest.raises(ValueError, match="share"):
        published_floors(dfe_2024, share=0.6)


def test_published_floors_are_the_same_whoever_is_scored(dfe_2024) -> None:
    """They are the estimates' alone: no pupil is an input."""
    again = load_dfe_estimates(PROGRESS8, "2024prov")
    assert published_floors(dfe_2024).equals(published_floors(again))
    older = load_dfe_estimates(PROGRESS8, "2022rev")
    assert published_floors(older)["p8_floor"][0] != published_floors(dfe_2024)["p8_floor"][0]
