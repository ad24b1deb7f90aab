"""A school's inspection-style summary: its headline measures (and some pupil groups') with their place
among schools and three years' trend, and the statements the rules of core.reports.inspection make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keystage.core.measures.ks4.schools import comparator_for
from keystage.core.reports import inspection
from keystage.core.reports.catalogue import KEY_STAGE_LABELS, PRIMARY_HEADLINES, ks4_headlines, value_label
from keystage.core.results.kinds import academic_year_name
from keystage.measures import services as measures
from keystage.organisations.models import School
from keystage.reports.figures import (
    NoFigures,
    SignificanceShown,
    Source,
    figure_rows,
    headline_of,
    measure_infos,
    national_rows,
    run_for,
    source_of,
    years_with_figures,
)

# Groups whose figures the summary's rules also read: (group, value, who, which measures).
_INSPECTED_GROUPS: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "ks4": [
        ("disadvantaged", "disadvantaged", "disadvantaged pupils", ("p8", "a8")),
        ("prior_attainment", "low", "pupils of low prior attainment", ("p8",)),
        ("prior_attainment", "middle", "pupils of middle prior attainment", ("p8",)),
        ("prior_attainment", "high", "pupils of high prior attainment", ("p8",)),
    ],
    "ks2": [
        (
            "disadvantaged",
            "disadvantaged",
            "disadvantaged pupils",
            ("ks2_rwm_expected", "ks2_reading_progress", "ks2_writing_progress", "ks2_maths_progress"),
        ),
    ],
}


@dataclass
class InspectionSummary:
    school: School
    key_stage: str
    year: int
    source: Source
    years: list[int]  # oldest first
    headlines: list[inspection.Evidence]
    strengths: list[inspection.Statement]
    to_investigate: list[inspection.Statement]

    @property
    def year_names(self) -> list[str]:
        return [academic_year_name(y) for y in self.years]

    @property
    def table(self) -> list[tuple[inspection.Evidence, list[str], SignificanceShown]]:
        """Each headline measure with its figure in each year, as shown, and its latest significance."""
        return [(e, e.row(self.years), SignificanceShown(e.significance)) for e in self.headlines]


def inspection_summary(school: School, key_stage: str, year: int) -> InspectionSummary:
    """The school's headline measures with their place among schools and three years' trend, and the
    plain statements the rules of ``core.reports.inspection`` make from them."""
    latest = run_for(key_stage, year)
    infos = measure_infos(latest)
    years = [y for y in sorted(years_with_figures(key_stage)) if y <= year][-inspection.TREND_YEARS :]
    wanted = [("all", "all")] + [(g, v) for g, v, _, _ in _INSPECTED_GROUPS.get(key_stage, [])]
    rows: dict[int, dict[tuple[str, str], Any]] = {}
    nationals: dict[int, dict[tuple[str, str], Any]] = {}
    for each in years:
        run = latest if each == year else measures.latest_run(key_stage, each)
        if run is None:
            continue
        rows[each] = {
            (r.group, r.value): r
            for r in figure_rows(run, school).filter(group__in={g for g, _ in wanted})
            if (r.group, r.value) in wanted
        }
        nationals[each] = national_rows(run)
    if ("all", "all") not in rows.get(year, {}):
        raise NoFigures(
            f"{school.name} has no {KEY_STAGE_LABELS[key_stage]} figures for {academic_year_name(year)}."
        )

    def evidence(key: str, group: str = "all", value: str = "all", who: str = "") -> inspection.Evidence:
        info = infos[key]
        compared = comparator_for(group, value) if group != "all" else ("all", "all")
        series = []
        for each in sorted(rows):
            row = rows[each].get((group, value))
            if row is None:
                continue
            h = headline_of(info, row, nationals[each].get(compared))
            series.append(
                inspection.YearFigure(each, h.figure, h.national, h.pupils, h.ci_low, h.ci_high, h.quintile)
            )
        if group == "all":
            against = "national"
        elif compared != (group, value):
            against = f"{value_label(*compared).lower()} pupils nationally"
        else:
            against = f"{who} nationally"
        return inspection.Evidence(info, tuple(series), group, value, who, against)

    names = ks4_headlines(year) if key_stage == "ks4" else PRIMARY_HEADLINES[key_stage]
    headlines = [evidence(name) for name in names if name in infos]
    headlines = [e for e in headlines if e.years and e.latest.year == year and e.latest.pupils]
    groups = [
        evidence(key, group, value, who)
        for group, value, who, keys in _INSPECTED_GROUPS.get(key_stage, [])
        for key in keys
        if key in infos
    ]
    groups = [e for e in groups if e.years and e.latest.year == year]  # nothing said of an older year
    made = inspection.statements([*headlines, *groups], academic_year_name)
    return InspectionSummary(
        school,
        key_stage,
        year,
        source_of(latest),
        sorted(rows),
        headlines,
        [s for s in made if s.kind == "strength"],
        [s for s in made if s.kind == "investigate"],
    )
