"""KS2 to KS4 estimates on a national synthetic cohort: fit every outcome (Attainment 8 in bands and each
subject's grade), then score every pupil at the three ambition levels; print the times, and the ratio to
a baseline measured in the same run: an ordinary least-squares line of Attainment 8 on the same
covariates (NumPy's lstsq over every pupil), the cheapest model anyone would fit.

    keystage bench estimates [--scale national|mid|small] [--contextual]

Goal: the national cohort (about 560,000 pupils) fitted, checked on held-out schools and scored within
a few minutes on two cores, so a fit can run as a background task when a national year changes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from bench.measures import REFERENCE
from keystage.core.estimates.datasets import ks4_outcomes
from keystage.core.estimates.engine import fit_outcomes, score
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.measures.ks4.subjects import SubjectMeasures
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from keystage.core.synth.output import ks4_measures_pupils


def least_squares_a8(frame: pl.DataFrame) -> tuple[float, np.ndarray]:
    """The baseline: A8 on prior attainment (and its square), sex and month of birth, by lstsq."""
    used = frame.filter(pl.col("prior").is_not_null())
    started = time.perf_counter()
    prior = used.get_column("prior").to_numpy()
    design = np.column_stack(
        [
            np.ones(used.height),
            prior,
            prior**2,
            used.get_column("female").cast(pl.Float64).to_numpy(),
            used.get_column("months_younger").to_numpy(),
        ]
    )
    coefficients, *_ = np.linalg.lstsq(design, used.get_column("value").to_numpy(), rcond=None)
    predicted = design @ coefficients
    return time.perf_counter() - started, predicted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="keystage bench estimates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="national", choices=["national", "mid", "small"])
    parser.add_argument("--contextual", action="store_true", help="use disadvantage too")
    options = parser.parse_args(argv)

    print(f"Generating the {options.scale} synthetic year and its KS4 measures ...", flush=True)
    started = time.perf_counter()
    spec = SynthSpec.at_scale(options.scale)
    year = generate(spec)
    catalogue = import_dfe_2019_folder(REFERENCE / "ks4" / "dfe-2019")
    measures = pupil_measures(year.ks4_results, ks4_measures_pupils(year), points_table(catalogue, spec.year))
    subjects = SubjectMeasures(measures, catalogue.discount_descriptions)
    print(f"  {measures.pupils.height:,} pupils in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    outcomes = ks4_outcomes(measures.pupils, subjects.entries())
    prepare = time.perf_counter() - started
    baseline, _ = least_squares_a8(outcomes[0].frame)

    started = time.perf_counter()
    fitted, skipped = fit_outcomes(outcomes, contextual=options.contextual)
    fitting = time.perf_counter() - started

    started = time.perf_counter()
    pupils = outcomes[0].frame
    scored_rows = sum(score(outcome, pupils).height for outcome in fitted)
    scoring = time.perf_counter() - started

    a8 = fitted[0]
    print(f"\nOutcomes: {len(fitted)} fitted, {len(skipped)} skipped")
    for reason in skipped:
        print(f"  skipped {reason}")
    print(f"  preparing the outcome tables      {prepare:7.2f} s")
    print(f"  fitting, checking and ambition    {fitting:7.2f} s  ({fitting / len(fitted):.2f} s an outcome)")
    print(f"    Attainment 8 alone              {a8.seconds:7.2f} s  ({a8.model.pupils:,} pupils)")
    print(f"  scoring every pupil x outcome x 3 {scoring:7.2f} s  ({scored_rows:,} estimates)")
    print(f"  baseline: least squares of A8     {baseline:7.2f} s")
    ratio = a8.seconds / baseline
    print(f"  ratio, Attainment 8 fit (with its check and ambition) to the baseline: {ratio:.1f}x")
    calibrated = sum(outcome.calibrated for outcome in fitted)
    print(f"\nCalibrated within bounds for every group in the model: {calibrated} of {len(fitted)} outcomes")
    for outcome in fitted[:3]:
        everyone = outcome.calibration.filter(pl.col("group") == "all").row(0, named=True)
        print(
            f"  {outcome.name}: held-out estimate {everyone['estimate']:.2f} against actual "
            f"{everyone['actual']:.2f} ({everyone['pupils']:,} pupils); top 20% shift "
            f"{outcome.spread.shifts[80]:+.2f}, top 5% {outcome.spread.shifts[95]:+.2f}"
        )


if __name__ == "__main__":
    main()
