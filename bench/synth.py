"""Synthetic national data: time to generate a national year, rows per second, and the ratio to a
per-pupil Python baseline measured in this run on a sample.

    keystage bench synth [--scale national|mid] [--sample 20000]

The baseline does the same work, pupil by pupil in a plain Python loop: it draws pupils of the year
groups the generator makes, in the same shares, each with characteristics and a latent ability, and
the same rows per pupil as the generated year has: each primary assessment of the pupil's year group
(early learning goals, phonics marks, teacher assessments, test scores) and, in Year 11, KS2 scores and
about nine KS4 grades. The ratio is how many times more rows per second the vectorised generator makes.
"""

from __future__ import annotations

import argparse
import random
import time

import polars as pl

from keystage.core.synth import SynthSpec, SynthYear, generate, load_parameters


def year_layout(year: SynthYear) -> tuple[dict[int, float], dict[int, list[str]], float]:
    """What the generated year holds per pupil: each year group's share of the pupils, the primary
    assessments its pupils have results in, and the KS4 results per Year 11 pupil."""
    counts = dict(year.pupils.group_by("nc_year").len().iter_rows())
    total = sum(counts.values())
    shares = {int(nc): n / total for nc, n in counts.items()}
    assessed = (
        year.primary_results.join(year.pupils.select("upn", "nc_year"), on="upn")
        .group_by("nc_year")
        .agg(pl.col("assessment").unique().sort())
    )
    assessments = {int(nc): list(names) for nc, names in assessed.iter_rows()}
    year_11 = counts.get(11, 0)
    return shares, assessments, year.ks4_results.height / year_11 if year_11 else 0.0


_TA = ("PKF", "WTS", "EXS", "GDS")


def _primary_result(rng: random.Random, assessment: str, ability: float) -> str:
    """One primary result drawn for a pupil of ``ability``, in the shape its assessment is written."""
    draw = ability + rng.gauss(0, 0.7)
    if assessment.startswith("elg_"):
        return "2" if draw > -0.9 else "1"
    if assessment.startswith("phonics"):
        return str(min(40, max(0, round(33 + 6 * draw))))
    if assessment.endswith("_test"):
        return str(min(120, max(80, round(104 + 7 * draw))))
    return _TA[min(3, max(0, round(2 + draw)))]


def baseline_rows_per_second(year: SynthYear, sample: int, seed: int = 1) -> float:
    params = load_parameters()
    rng = random.Random(seed)
    pupils, ks4 = params["pupils"], params["ks4"]
    shares, assessments, ks4_per_pupil = year_layout(year)
    year_groups, weights = list(shares), list(shares.values())
    nine = ks4_per_pupil - 8  # the share of Year 11 pupils with nine results rather than eight
    rows = 0
    started = time.perf_counter()
    for nc_year in rng.choices(year_groups, weights, k=sample):
        fsm = rng.random() < pupils["disadvantaged_mean"]
        sen = rng.random()
        female = rng.random() < pupils["female"]
        ability = (
            rng.gauss(0, 1)
            - 0.6 * fsm
            - (1.35 if sen < 0.035 else 0.65 if sen < 0.165 else 0)
            + 0.06 * female
        )
        record = {"upn": f"A{rng.randrange(10**12):012d}", "nc_year": nc_year}
        rows += 1
        for assessment in assessments.get(nc_year, ()):
            record[assessment] = _primary_result(rng, assessment, ability)
            rows += 1
        if nc_year == 11:
            record["ks2_reading"] = min(120, max(80, round(105 + 6.8 * ability)))
            record["ks2_maths"] = min(120, max(80, round(105 + 6.8 * ability)))
            progress = 0.8 * ability + 0.6 * rng.gauss(0, 1)
            subjects = 9 if rng.random() < nine else 8
            for subject in range(subjects):
                grade = min(
                    9, max(0, round(ks4["grade_mean"] + ks4["grade_sd"] * progress + rng.gauss(0, 0.85)))
                )
                record[f"s{subject}"] = "U" if grade == 0 else str(grade)
                rows += 1
    return rows / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="keystage bench synth")
    parser.add_argument("--scale", default="national", choices=["national", "mid"])
    parser.add_argument("--sample", type=int, default=20000, help="pupils in the baseline's sample")
    options = parser.parse_args(argv)
    spec = SynthSpec.at_scale(options.scale)
    started = time.perf_counter()
    year = generate(spec)
    seconds = time.perf_counter() - started
    ks4_pupils = year.pupils.filter(year.pupils["nc_year"] == 11).height
    rows = year.pupils.height + year.ks4_results.height + year.primary_results.height
    vectorised = rows / seconds
    baseline = baseline_rows_per_second(year, options.sample)
    print(
        f"scale: {options.scale}: {year.schools.height} schools, {year.pupils.height:,} pupils "
        f"({ks4_pupils:,} in Year 11), {year.ks4_results.height:,} KS4 and "
        f"{year.primary_results.height:,} primary results"
    )
    print(f"generated in {seconds:.1f} s: {vectorised:,.0f} rows/s")
    print(
        f"baseline (per-pupil Python loop, the same rows per pupil, {options.sample:,} pupils): "
        f"{baseline:,.0f} rows/s"
    )
    print(f"ratio: {vectorised / baseline:.1f}x the baseline")


if __name__ == "__main__":
    main()
