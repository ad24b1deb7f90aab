"""Trusts and LAs: each of their schools side by side with the key stage's headline measures."""

from __future__ import annotations

from dataclasses import dataclass

from keystage.core.reports.catalogue import PRIMARY_HEADLINES, MeasureInfo, ks4_headlines
from keystage.measures.models import figure_model
from keystage.organisations.models import Organisation, School
from keystage.reports.figures import (
    Headline,
    Source,
    figure_rows,
    headline_of,
    measure_infos,
    national_rows,
    run_for,
    source_of,
)

# Measures with columns of their own beside their figure (on the page and in the workbook).
BESIDE: dict[str, tuple[str, ...]] = {
    "p8": ("P8 confidence interval", "P8 banding"),
    "ks1_va": ("Value added confidence interval",),
}


def beside(figure: Headline) -> list[str]:
    """A school's figure in its measure's columns of BESIDE: its interval, and Progress 8's banding."""
    if figure.info.key == "p8":
        return [figure.ci_text, figure.banding]
    if figure.info.key == "ks1_va":
        return [figure.ci_text]
    return []


@dataclass
class SchoolRow:
    school: School
    cohort: int
    figures: dict[str, Headline]  # by measure, in the order the measures are shown

    @property
    def cells(self) -> list[tuple[Headline, list[str]]]:
        """Each measure's figure with what it shows beside it."""
        return [(figure, beside(figure)) for figure in self.figures.values()]


def schools_side_by_side(
    organisation: Organisation, key_stage: str, year: int, *, sort: str = "", descending: bool = True
) -> tuple[list[SchoolRow], list[MeasureInfo], Headline | None, Source]:
    """Each of the organisation's schools with the key stage's headline measures (and P8's CI and
    banding), sortable by any of them; and the organisation's own all-pupil figure of the first; and
    where the national figures come from."""
    run = run_for(key_stage, year)
    infos = measure_infos(run)
    names = ks4_headlines(year) if key_stage == "ks4" else PRIMARY_HEADLINES[key_stage][:4]
    shown = [infos[n] for n in names if n in infos]
    national = national_rows(run).get(("all", "all"))
    stored = (
        figure_model(key_stage)
        .objects.filter(run=run, school__in=organisation.schools(), group="all", value="all")
        .select_related("school")
    )
    rows = [
        SchoolRow(row.school, row.cohort, {info.key: headline_of(info, row, national) for info in shown})
        for row in stored
        if row.school is not None
    ]
    key = sort if sort in {i.key for i in shown} else ""
    if key:
        present = [r for r in rows if r.figures[key].figure is not None]
        absent = [r for r in rows if r.figures[key].figure is None]
        present.sort(key=lambda r: r.figures[key].figure or 0.0, reverse=descending)
        rows = present + absent
    else:
        rows.sort(key=lambda r: r.school.name)
    own = figure_rows(run, organisation).filter(group="all", value="all").first()
    own_figure = headline_of(shown[0], own, national) if own is not None and shown else None
    return rows, shown, own_figure, source_of(run)
