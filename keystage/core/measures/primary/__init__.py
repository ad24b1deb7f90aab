"""Primary measures (EYFSP, phonics, KS1, KS2): each pupil's outcomes read through the year's
assessment framework (keystage.core.reference.frameworks), then shares and means per school and pupil
group (keystage.core.measures.group_figures).

``KEY_STAGES`` lists them: the year groups each assesses, its pupil figures, the measures of its
school figures, its headline, and any figures added to group figures from the pupils (KS2 progress
confidence intervals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from keystage.core.measures.group_figures import Measure
from keystage.core.measures.primary import eyfsp, ks1, ks2, phonics, progress
from keystage.core.reference.frameworks import Framework


@dataclass(frozen=True)
class KeyStage:
    name: str
    year_groups: tuple[int, ...]  # 0 is Reception
    pupil_figures: Callable[[pl.DataFrame, pl.DataFrame, Framework], pl.DataFrame]
    measures: Callable[[Framework], dict[str, Measure]]
    headline: str  # the measure a summary shows first
    headline_words: str
    # Figures that need the pupil table as well as a table of group figures (school, trust, LA or
    # national rows from group_figures): with_extras(figures, pupils) adds them, e.g. KS2 progress CIs.
    with_extras: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame] | None = None


KEY_STAGES: dict[str, KeyStage] = {
    stage.name: stage
    for stage in (
        KeyStage("eyfsp", (0,), eyfsp.eyfsp_pupils, eyfsp.eyfsp_measures, "gld", "good level of development"),
        KeyStage(
            "phonics",
            (1, 2),
            phonics.phonics_pupils,
            lambda _f: phonics.MEASURES,
            "phonics_y1_met",
            "Year 1 met",
        ),
        KeyStage(
            "ks1",
            (2,),
            ks1.ks1_pupils,
            lambda _f: ks1.MEASURES,
            "ks1_rwm_expected",
            "reading, writing and maths expected",
        ),
        KeyStage(
            "ks2",
            (6,),
            ks2.ks2_pupils,
            lambda _f: ks2.MEASURES,
            "ks2_rwm_expected",
            "reading, writing and maths expected",
            with_extras=progress.progress_confidence,
        ),
    )
}
