"""Stored explanations are made for every pupil in one pass; they must read exactly as the engine's
own explanation of each pupil (keystage.core.measures.ks4.pupils.explain)."""

from __future__ import annotations

from datetime import date

import polars as pl

from keystage.core.measures.ks4.estimates import load_dfe_estimates
from keystage.core.measures.ks4.explanations import explanations
from keystage.core.measures.ks4.points import points_table
from keystage.core.measures.ks4.progress import with_national_floors
from keystage.core.measures.ks4.pupils import pupil_measures
from keystage.core.reference.ks4_catalogue import import_dfe_2019_folder
from keystage.core.synth import SynthSpec, generate
from tests.core.reference.test_ks4_catalogue import DFE_2019

PROGRESS8 = DFE_2019.parent / "progress8"


def test_every_pupils_explanation_reads_as_the_engines():
    year = generate(SynthSpec.at_scale("school", seed=7))
    pupils = year.pupils.filter(pl.col("nc_year") == 11).select("upn", "ks2_reading", "ks2_maths")
    june, november = date(2026, 6, 15), date(2025, 11, 4)
    first, second = pupils.get_column("upn").head(2).to_list()
    extra = pl.DataFrame(
        [
            (first, "60146084", "4", november),  # an early entry: it counts, a later one does not
            (first, "99999999", "5", june),  # not in the catalogue
            (first, "60182179", "Z", june),  # not a grade of history
            (second, "60146084", "2", june),  # same series as their maths: the best counts
        ],
        schema=["upn", "qan", "grade", "exam_date"],
        orient="row",
    )
    results = pl.concat([year.ks4_results, extra])
    points = points_table(import_dfe_2019_folder(DFE_2019), 2026)
    measures = pupil_measures(results, pupils, points, load_dfe_estimates(PROGRESS8, "2024prov"))
    measures, _floors = with_national_floors(measures)

    ours = explanations(measures)

    assert set(ours) == set(pupils.get_column("upn"))
    for upn in pupils.get_column("upn"):
        assert ours[upn] == measures.explain(upn)
    joined = "\n".join(ours[first] + ours[second])
    assert any("raised to the floor" in lines[-1] for lines in ours.values())
    for words in (
        "a later entry",
        "not in the catalogue",
        "not a grade",
        "in the same series (Summer 2026) counts",
    ):
        assert words in joined
