"""Explore data in detail: one measure by every pupil group, from the stored group figures beside
their national comparators, or, with filters, worked from the pupils the filters keep."""

from __future__ import annotations

from dataclasses import dataclass

from keystage.core.measures.group_figures import Measure
from keystage.core.measures.ks4.schools import comparator_for
from keystage.core.reports.breakdown import Filters, breakdown
from keystage.core.reports.catalogue import MeasureInfo, groups_for, ordered, value_label
from keystage.measures.models import MeasureRun
from keystage.organisations.models import Organisation
from keystage.reports.figures import (
    NoFigures,
    Source,
    figure_rows,
    headline_of,
    measure_infos,
    national_rows,
    run_for,
    source_of,
)
from keystage.reports.pupil_figures import pupil_table


@dataclass
class BreakdownRow:
    group: str
    value: str
    cohort: int
    figure: str
    national: str  # "" when no national figure applies
    pupils: int
    comparator: str = ""  # which national group it is compared with, when not like for like

    @property
    def all_pupils(self) -> bool:
        return self.group == "all"

    @property
    def value_label(self) -> str:
        return "" if self.group == "all" else value_label(self.group, self.value)


@dataclass
class Breakdown:
    measure: MeasureInfo
    rows: list[BreakdownRow]
    filters: Filters
    switched: bool
    national_note: str
    source: Source
    measures: list[MeasureInfo]  # every measure the key stage can be explored by


def explore(
    organisation: Organisation,
    key_stage: str,
    year: int,
    measure: str,
    filters: Filters,
    *,
    switch: bool = False,
) -> Breakdown:
    """One measure by every pupil group: from the stored group figures with their national comparators
    (the disadvantaged switch chooses which), or with filters, worked from the pupils the filters keep,
    without national figures."""
    run = run_for(key_stage, year)
    infos = measure_infos(run)
    info = infos.get(measure) or next(iter(infos.values()))
    if filters:
        rows = _filtered_rows(run, organisation, info, filters)
        note = (
            "National figures are shown for unfiltered data only: with a filter applied there is no "
            "like-for-like national figure, and the comparator cannot be switched."
        )
        return Breakdown(info, rows, filters, False, note, source_of(run), list(infos.values()))
    national = national_rows(run)
    stored = {(r.group, r.value): r for r in figure_rows(run, organisation)}
    if not stored:
        raise NoFigures(f"{organisation.name} has no figures for this key stage and year.")
    rows = []
    for group, value in ordered(stored):
        compared = comparator_for(group, value, switch_like_for_like=switch)
        headline = headline_of(info, stored[(group, value)], national.get(compared))
        differs = compared != (group, value)
        rows.append(
            BreakdownRow(
                group,
                value,
                stored[(group, value)].cohort,
                headline.text,
                headline.national_text,
                headline.pupils,
                comparator=f"national {compared[1]} pupils" if differs else "",
            )
        )
    note = (
        "Each group is compared with the same group nationally, except disadvantaged pupils: compared by "
        "default with other (non-disadvantaged) pupils nationally, to set an aspiration. Switch the "
        "comparator to compare them with disadvantaged pupils nationally."
        if not switch
        else "Each group, disadvantaged pupils too, is compared with the same group nationally."
    )
    return Breakdown(info, rows, filters, switch, note, source_of(run), list(infos.values()))


def _filtered_rows(
    run: MeasureRun, organisation: Organisation, info: MeasureInfo, filters: Filters
) -> list[BreakdownRow]:
    pupils, pupil_measures = pupil_table(run, organisation)
    kept = filters.apply(pupils)
    chosen: dict[str, Measure] = {info.key: pupil_measures[info.key]}
    figures = {
        (row["group"], row["value"]): row for row in breakdown(kept, chosen, groups_for(run.key_stage))
    }
    rows = []
    for row in (figures[pair] for pair in ordered(figures)):
        rows.append(
            BreakdownRow(
                row["group"],
                row["value"],
                row["cohort"],
                "SUPP" if row[f"{info.key}_suppressed"] else info.format(row[info.key]),
                "",
                row[f"{info.key}_pupils"],
            )
        )
    return rows
