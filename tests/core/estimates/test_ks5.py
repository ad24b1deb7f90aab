"""KS5 (A level) outcomes: the import format is checked row by row with every kind of problem named, a
synthetic national dataset comes from a synthetic KS4 cohort, and KS4 to KS5 benchmark estimates fitted
on it are calibrated on held-out institutions and rise with KS4 average points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from keystage.core.estimates.engine import fit_outcome
from keystage.core.estimates.ks5 import Ks5FileError, check_ks5_rows, ks5_outcomes, read_ks5_outcomes
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.ks5 import synthetic_ks5_year
from keystage.core.synth.output import ks4_measures_pupils
from tests.core.reference.test_ks4_catalogue import DFE_2019

GOOD = {
    "upn": "A123456789012",
    "institution": "8004001",
    "sex": "F",
    "month_of_birth": "3",
    "disadvantaged": "N",
    "ks4_aps": "6.25",
    "subject": "Mathematics",
    "grade": "A*",
}


@pytest.fixture(scope="module")
def catalogue():
    return import_dfe_2019_folder(DFE_2019)


@pytest.fixture(scope="module")
def dataset(catalogue) -> pl.DataFrame:
    spec = SynthSpec(year=2026, seed=21, secondary_schools=200, primary_schools=0)
    return check_ks5_rows(synthetic_ks5_year(spec, catalogue))


def test_a_good_file_is_read_and_typed(tmp_path: Path) -> None:
    path = tmp_path / "ks5.csv"
    pl.DataFrame([GOOD, {**GOOD, "subject": "Physics", "grade": "b"}]).write_csv(path)
    rows = read_ks5_outcomes(path)
    assert rows.get_column("points").to_list() == [60.0, 40.0]
    assert rows.get_column("grade").to_list() == ["A*", "B"]
    assert rows.get_column("ks4_aps").to_list() == [6.25, 6.25]
    assert rows.get_column("disadvantaged").to_list() == [False, False]


def test_every_kind_of_problem_is_named_with_its_rows(tmp_path: Path) -> None:
    bad = [
        GOOD,
        {**GOOD, "upn": "B1", "grade": "A**"},
        {**GOOD, "upn": "C123456789012", "month_of_birth": "13", "sex": "X"},
        {**GOOD, "upn": "D123456789012", "ks4_aps": "lots", "institution": "12"},
    ]
    path = tmp_path / "ks5.csv"
    pl.DataFrame(bad).write_csv(path)
    with pytest.raises(Ks5FileError) as raised:
        read_ks5_outcomes(path)
    message = str(raised.value)
    assert "1 row(s) without a UPN of 13 characters (row 3)" in message
    assert "without a grade A*, A, B, C, D, E or U (row 3)" in message
    assert "without sex M or F (row 4)" in message and "without a month of birth 1-12 (row 4)" in message
    assert "KS4 average point score from 0 to 9 (row 5)" in message
    assert "7-digit DfE number (row 5)" in message
    missing = tmp_path / "short.csv"
    pl.DataFrame([{k: v for k, v in GOOD.items() if k != "ks4_aps"}]).write_csv(missing)
    with pytest.raises(Ks5FileError, match="lacks the column\\(s\\) ks4_aps"):
        read_ks5_outcomes(missing)
    disagreeing = pl.DataFrame([GOOD, {**GOOD, "subject": "Physics", "ks4_aps": "5.0"}])
    with pytest.raises(Ks5FileError, match="1 student\\(s\\) whose rows disagree"):
        check_ks5_rows(disagreeing)
    not_csv = tmp_path / "ks5.csv"
    not_csv.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(Ks5FileError):
        read_ks5_outcomes(not_csv)


def test_the_synthetic_dataset_looks_like_a_national_year(dataset: pl.DataFrame) -> None:
    shares = dataset.get_column("grade").value_counts(normalize=True)
    share = dict(zip(shares.get_column("grade"), shares.get_column("proportion"), strict=True))
    assert 0.05 < share["A*"] < 0.2 and share["U"] < 0.06 and share["B"] > share["E"]
    per_student = dataset.group_by("upn").len().get_column("len")
    assert set(per_student.unique()) <= {3, 4}


def test_ks5_estimates_are_calibrated_and_rise_with_ks4(dataset: pl.DataFrame) -> None:
    outcomes = {data.key: data for data in ks5_outcomes(dataset)}
    assert "ks5_aps" in outcomes and "alevel:Mathematics" in outcomes
    assert outcomes["alevel:Mathematics"].outcome.labels == ("U", "E", "D", "C", "B", "A", "A*")
    for key in ("ks5_aps", "alevel:Mathematics", "alevel:Psychology"):
        fitted = fit_outcome(outcomes[key])
        assert fitted.calibration.filter(pl.col("in_model")).get_column("within").all(), key
        grid = pl.DataFrame({"prior": np.arange(3.0, 9.01, 0.25)}).with_columns(
            pl.lit(False).alias("female"), pl.lit(0.0).alias("months_younger")
        )
        expected = fitted.model.expected(fitted.model.probabilities(grid))
        assert np.all(np.diff(expected) >= 0) and expected[-1] - expected[0] > 20, key


def test_ks4_average_points_are_the_mean_points_of_each_pupils_subjects(catalogue) -> None:
    year = generate(SynthSpec(year=2026, seed=3, secondary_schools=2, primary_schools=0))
    measures = pupil_measures(year.ks4_results, ks4_measures_pupils(year), points_table(catalogue, 2026))
    subjects = SubjectMeasures(measures, catalogue.discount_descriptions)
    entries = subjects.entries()
    upn = entries.get_column("upn")[0]
    mine = entries.filter(pl.col("upn") == upn).get_column("points")
    aps = subjects.average_points().filter(pl.col("upn") == upn).get_column("ks4_aps").item()
    assert aps == pytest.approx(mine.mean())


def test_a_subject_everyone_got_the_same_grade_in_is_left_out_not_the_fit(dataset: pl.DataFrame) -> None:
    same = dataset.with_columns(
        pl.when(pl.col("subject") == "History").then(pl.lit("A")).otherwise(pl.col("grade")).alias("grade"),
        pl.when(pl.col("subject") == "History").then(50.0).otherwise(pl.col("points")).alias("points"),
    )
    keys = {data.key for data in ks5_outcomes(same)}
    assert "alevel:History" not in keys and "alevel:Mathematics" in keys


def test_the_same_subject_twice_is_refused() -> None:
    with pytest.raises(Ks5FileError, match="the same subject twice \\(rows 2, 3\\)"):
        check_ks5_rows(pl.DataFrame([GOOD, GOOD]))
