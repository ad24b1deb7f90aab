"""A synthetic national KS5 (A level) outcomes dataset, in keystage's KS5 import format
(``keystage.core.estimates.ks5``), from a synthetic KS4 cohort two years before.

Students with higher KS4 average points are likelier to take A levels; each takes three (some four)
subjects, drawn by popularity; each grade comes from a latent score rising with KS4 points, plus the
institution's value added, small effects of sex and disadvantage, the subject's difficulty and noise,
cut into U to A*. Parameters: the [ks5] section of calibration.toml.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import polars as pl

from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from keystage.core.reference.ks4_catalogue import Catalogue
from keystage.core.synth.generator import SynthSpec, generate, load_parameters
from keystage.core.synth.output import ks4_measures_pupils

GRADES = ("U", "E", "D", "C", "B", "A", "A*")


def ks5_results(ks4: pl.DataFrame, *, seed: int, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """A level results in the KS5 import format. ``ks4``: one row per KS4 pupil with school (DfE
    number), upn, sex, month_of_birth, disadvantaged and ks4_aps (pupils without ks4_aps are left out)."""
    ks5 = (params or load_parameters())["ks5"]
    rng = np.random.default_rng(seed)
    pupils = ks4.filter(pl.col("ks4_aps").is_not_null())
    aps = pupils.get_column("ks4_aps").to_numpy()
    taking = rng.random(len(aps)) < 1 / (
        1 + np.exp(-(ks5["take_up_mean"] + ks5["take_up_slope"] * (aps - 5)))
    )
    students = pupils.filter(pl.Series(taking))
    n = students.height
    institutions, institution = np.unique(
        students.get_column("school").to_numpy().astype(str), return_inverse=True
    )
    value_added = rng.normal(0, ks5["institution_value_added_sd"], len(institutions))[institution]
    subjects = list(ks5["subjects"])
    shares = np.array([ks5["subjects"][s][0] for s in subjects])
    difficulty = np.array([ks5["subjects"][s][1] for s in subjects])
    counts = np.where(rng.random(n) < ks5["subjects_four"], 4, 3)
    # Each student's subjects: distinct, drawn by popularity (Gumbel top-k).
    keys = np.log(shares / shares.sum())[None, :] - np.log(-np.log(rng.random((n, len(subjects)))))
    chosen = np.argsort(-keys, axis=1)[:, :4]
    student = np.repeat(np.arange(n), counts)
    slot = np.concatenate([np.arange(c) for c in counts]) if n else np.zeros(0, int)
    subject = chosen[student, slot]
    female = (students.get_column("sex").to_numpy() == "F").astype(float)
    disadvantaged = students.get_column("disadvantaged").fill_null(False).to_numpy().astype(float)
    latent = (
        (
            ks5["progress_slope"] * (students.get_column("ks4_aps").to_numpy() - ks5["progress_centre"])
            + value_added
            + ks5["female"] * female
            + ks5["disadvantaged"] * disadvantaged
        )[student]
        - difficulty[subject]
        + rng.normal(0, 1, len(student))
    )
    grade = np.searchsorted(np.asarray(ks5["cuts"]), latent)
    rows = students.select(
        "upn",
        pl.col("school").cast(pl.String).alias("institution"),
        "sex",
        pl.col("month_of_birth").cast(pl.String),
        pl.when(pl.col("disadvantaged").fill_null(False))
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N"))
        .alias("disadvantaged"),
        pl.col("ks4_aps").round(2).cast(pl.String),
    )
    return rows[student.tolist()].with_columns(
        pl.Series("subject", np.array(subjects)[subject]),
        pl.Series("grade", np.array(GRADES)[grade]),
    )


def synthetic_ks5_year(spec: SynthSpec, catalogue: Catalogue) -> pl.DataFrame:
    """The A level results of ``spec.year`` in the KS5 import format: the synthetic KS4 cohort of two
    years before (the same scale and seed), scored with ``catalogue``, goes on to A levels."""
    ks4_year = spec.year - 2
    year = generate(dataclasses.replace(spec, year=ks4_year))
    measures = pupil_measures(year.ks4_results, ks4_measures_pupils(year), points_table(catalogue, ks4_year))
    subjects = SubjectMeasures(measures, catalogue.discount_descriptions)
    pupils = measures.pupils.join(subjects.average_points(), on="upn", how="left")
    return ks5_results(pupils, seed=spec.seed + 5)
