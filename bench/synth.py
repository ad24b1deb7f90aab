"""Synthetic national data: time to generate a national year, rows per second, and the ratio to a
per-pupil Python baseline measured in this run on a sample.

    keystage bench synth [--scale national|mid] [--sample 20000]

The baseline draws the same things per pupil (characteristics, a latent ability, KS2 scores and
about nine KS4 grades) in a plain Python loop; the ratio is how many times more rows per second
the vectorised generator makes.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from keystage.core.synth import SynthSpec, generate, load_parameters


def baseline_rows_per_second(sample: int, seed: int = 1) -> float:
    params = load_parameters()
    rng = random.Random(seed)
    pupils, ks4 = params["pupils"], params["ks4"]
    rows = 0
    started = time.perf_counter()
    for _ in range(sample):
        fsm = rng.random() < pupils["disadvantaged_mean"]
        sen = rng.random()
        female = rng.random() < pupils["female"]
        ability = (
            rng.gauss(0, 1)
            - 0.6 * fsm
            - (1.35 if sen < 0.035 else 0.65 if sen < 0.165 else 0)
            + 0.06 * female
        )
        record = {
            "upn": f"A{rng.randrange(10**12):012d}",
            "ks2_reading": min(120, max(80, round(105 + 6.8 * ability))),
            "ks2_maths": min(120, max(80, round(105 + 6.8 * ability))),
        }
        progress = 0.8 * ability + 0.6 * rng.gauss(0, 1)
        subjects = 9 if rng.random() < 1 / (1 + math.exp(-progress)) else 8
        for _subject in range(subjects):
            grade = min(9, max(0, round(ks4["grade_mean"] + ks4["grade_sd"] * progress + rng.gauss(0, 0.85))))
            record[f"s{_subject}"] = "U" if grade == 0 else str(grade)
            rows += 1
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
    baseline = baseline_rows_per_second(options.sample)
    print(
        f"scale: {options.scale}: {year.schools.height} schools, {year.pupils.height:,} pupils "
        f"({ks4_pupils:,} in Year 11), {year.ks4_results.height:,} KS4 and "
        f"{year.primary_results.height:,} primary results"
    )
    print(f"generated in {seconds:.1f} s: {vectorised:,.0f} rows/s")
    print(f"baseline (per-pupil Python loop, {options.sample:,} pupils): {baseline:,.0f} rows/s")
    print(f"ratio: {vectorised / baseline:.1f}x the baseline")


if __name__ == "__main__":
    main()
