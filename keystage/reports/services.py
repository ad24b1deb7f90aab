"""The reports: what each page shows, read from the stored measures (keystage.measures). Nothing here
recomputes a national cohort; a filtered breakdown works from one school's (or trust's, LA's) stored
pupil figures.

Access is the views' job (keystage.reports.views checks the role and organisation before calling);
these functions take the organisation they are given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import polars as pl
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from keystage.core import key_stages
from keystage.core.measures import pipeline
from keystage.core.measures.group_figures import SUPPRESS_BELOW, Measure
from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.core.measures.ks4.estimates import ELEMENTS
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.ks4.schools import GROUPS, comparator_for
from keystage.core.measures.primary import KEY_STAGES
from keystage.core.refusals import Refused
from keystage.core.reports import inspection
from keystage.core.reports.breakdown import Filters, breakdown
from keystage.core.reports.catalogue import (
    KEY_STAGE_LABELS,
    KS4_KS1_VA_MEASURES,
    KS4_MEASURES,
    KS4_PUPIL_MEASURES,
    NO_FIGURE,
    PRIMARY_HEADLINES,
    MeasureInfo,
    format_figure,
    group_values,
    groups_for,
    ks4_headlines,
    ks4_measures,
    ordered,
    primary_measures,
    significance_shown,
    value_label,
)
from keystage.core.results.kinds import academic_year_name
from keystage.measures import services as measures
from keystage.measures import trends as measure_trends
from keystage.measures.models import (
    MeasureRun,
    PrimaryFigure,
    PrimaryPupilFigure,
    PupilFigure,
    RunStatus,
    SchoolFigure,
    SubjectFigure,
)
from keystage.organisations.models import Organisation, School
from keystage.pupils.models import Pupil
from keystage.results.models import Collection, SubmittedPupil
from keystage.results.pages import kinds_for

KEY_STAGES_SHOWN = ("ks4", "ks2", "ks1", "phonics", "eyfsp")
# The collections each key stage reads.
_KINDS = {key: info.kinds for key, info in key_stages.KEY_STAGES.items()}
TREND_YEARS = 3


class NoFigures(Refused):
    """There is nothing to show yet, and why (shown to the reader)."""


# Which figures ---------------------------------------------------------------------------------


def years_with_figures(key_stage: str) -> list[int]:
    """Years with a complete run of the key stage covering every school, newest first."""
    return sorted(
        set(
            MeasureRun.objects.filter(
                key_stage=key_stage, status=RunStatus.COMPLETE, school__isnull=True
            ).values_list("year", flat=True)
        ),
        reverse=True,
    )


def key_stages_of(organisation: Organisation) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(key stage, its label, years with figures) that an organisation's reports cover: a school's
    phase decides (a primary school has no KS4); trusts and LAs have them all."""
    school = organisation if isinstance(organisation, School) else None
    shown = []
    for key_stage in KEY_STAGES_SHOWN:
        if school is not None and not _school_has(school, key_stage):
            continue
        years = years_with_figures(key_stage)
        if years:
            named = [(y, academic_year_name(y)) for y in years]
            shown.append((key_stage, KEY_STAGE_LABELS[key_stage], named))
    return shown


def _school_has(school: School, key_stage: str) -> bool:
    """Whether the school takes part in the key stage's collections (by its phase)."""
    return bool(set(_KINDS[key_stage]) & set(kinds_for(school)))


def no_progress8_words(key_stage: str, year: int) -> str:
    """What every report of a KS4 year without Progress 8 says at its head; "" otherwise."""
    gap = without_progress8(year) if key_stage == "ks4" else None
    if gap is None:
        return ""
    return f"{gap.message}. In its place: {ks1.NAME}."


def run_for(key_stage: str, year: int) -> MeasureRun:
    if key_stage not in KEY_STAGE_LABELS:
        raise NoFigures("There is no such key stage.")
    run = measures.latest_run(key_stage, year)
    if run is None:
        raise NoFigures(
            f"There are no {KEY_STAGE_LABELS[key_stage]} figures for {academic_year_name(year)} yet: they "
            "appear once schools have confirmed their results."
        )
    return run


# Where the national figures come from ---------------------------------------------------------


@dataclass
class Source:
    run: MeasureRun
    provisional: bool
    deadline: Any  # the final deadline, if a collection has one
    collected: bool = True  # False: no collection of the year on this platform (results loaded otherwise)

    @property
    def words(self) -> str:
        run = self.run
        platform = (
            f"National figures are worked out by keystage from {run.national_pupils:,} pupils at "
            f"{run.national_schools:,} schools"
        )
        if run.background:
            platform += (
                f", including a {run.background.lower()}: synthetic schools counted for the demonstration "
                f"beside {run.schools:,} of this platform's schools"
            )
        when = timezone.localtime(run.computed_at).strftime("%-d %B %Y at %H:%M") if run.computed_at else ""
        if not self.collected:
            status = (
                "This year was not collected on this platform: the figures come from results loaded "
                "another way (from files, or a demonstration's), and change only when worked out again"
            )
        elif self.provisional:
            status = "Provisional: they change as schools confirm results" + (
                f", until the final deadline of {self.deadline:%-d %B %Y}" if self.deadline else ""
            )
        else:
            status = "Final: the collection's final deadline has passed"
        return f"{platform}. {status}. Last worked out {when}."


def source_of(run: MeasureRun) -> Source:
    collections = Collection.objects.filter(year=run.year, kind__in=_KINDS[run.key_stage])
    deadlines = [c.final_deadline for c in collections if c.final_deadline is not None]
    deadline = max(deadlines) if deadlines else None
    provisional = deadline is None or deadline > timezone.now()
    return Source(run, provisional, deadline, collected=bool(collections))


# The dashboard ----------------------------------------------------------------------------------


@dataclass
class Headline:
    info: MeasureInfo
    figure: float | None
    national: float | None
    pupils: int
    suppressed: bool = False
    percentile: int | None = None
    quintile: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    banding: str = ""
    significance: str = ""
    trend: list[tuple[int, str]] = field(default_factory=list)
    note: str = ""  # said with the figure: why there is none, or who it leaves out
    explored: bool = True  # False: a measure Explore does not have this year (Progress 8 without one)

    @property
    def text(self) -> str:
        return "SUPP" if self.suppressed else self.info.format(self.figure)

    @property
    def national_text(self) -> str:
        return self.info.format(self.national)

    @property
    def compared(self) -> str:
        """Its significance as worded beside the figures printed: "above" or "below" national only
        when they print that way, "in line" when they print the same (catalogue.significance_shown)."""
        return significance_shown(self.significance, self.figure, self.national, self.info.kind)

    @property
    def ci_text(self) -> str:
        if self.suppressed or self.ci_low is None or self.ci_high is None:
            return ""
        return f"{self.ci_low:.2f} to {self.ci_high:.2f}"


@dataclass
class Dashboard:
    organisation: Organisation
    key_stage: str
    year: int
    run: MeasureRun
    source: Source
    cohort: int
    headlines: list[Headline]
    trend_years: list[int]
    pupils_adjusted: int | None = None
    # KS4: results not counted in performance measures at all, by reason (never dropped silently).
    not_counted: list[NotCounted] = field(default_factory=list)

    @property
    def label(self) -> str:
        return KEY_STAGE_LABELS[self.key_stage]

    @property
    def year_name(self) -> str:
        return academic_year_name(self.year)


def _figure_rows(run: MeasureRun, organisation: Organisation) -> QuerySet[Any]:
    model = SchoolFigure if run.key_stage == "ks4" else PrimaryFigure
    if isinstance(organisation, School):
        return model.objects.filter(run=run, school=organisation)
    return model.objects.filter(run=run, organisation=organisation)


def figure_rows_of_schools(run: MeasureRun, schools: QuerySet[School]) -> QuerySet[Any]:
    """The all-pupil figure rows of ``schools`` in the run (one per school with figures)."""
    model = SchoolFigure if run.key_stage == "ks4" else PrimaryFigure
    return model.objects.filter(run=run, school__in=schools, group="all", value="all")


def measure_infos(run: MeasureRun) -> dict[str, MeasureInfo]:
    if run.key_stage == "ks4":
        return ks4_measures(run.year)
    framework = pipeline.primary_framework(run.key_stage, run.year)
    return primary_measures(KEY_STAGES[run.key_stage].measures(framework), framework)


# A dashboard is kept (per process) under the newest complete run of its key stage: any new run, of
# any year its trends read, makes a new key, so its figures are never stale; the clock-dependent source
# (provisional or final) is read afresh each time. A renamed organisation or reloaded framework shows
# within DASHBOARD_KEPT_SECONDS.
DASHBOARD_KEPT_SECONDS = 600


def dashboard(organisation: Organisation, key_stage: str, year: int) -> Dashboard:
    run = run_for(key_stage, year)
    newest = (
        MeasureRun.objects.filter(key_stage=key_stage, status=RunStatus.COMPLETE)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    key = f"reports:dashboard:{organisation.pk}:{key_stage}:{year}:{run.pk}:{newest}"
    report: Dashboard | None = cache.get(key)
    if report is None:
        report = _dashboard(organisation, key_stage, year, run)
        cache.set(key, report, DASHBOARD_KEPT_SECONDS)
    report.source = source_of(run)
    return report


def _dashboard(organisation: Organisation, key_stage: str, year: int, run: MeasureRun) -> Dashboard:
    infos = measure_infos(run)
    mine = _figure_rows(run, organisation).filter(group="all", value="all").first()
    if mine is None:
        stage, name = KEY_STAGE_LABELS[key_stage], academic_year_name(year)
        raise NoFigures(f"{organisation.name} has no {stage} figures for {name}.")
    trend = _trends(organisation, key_stage, year, infos)
    national = _national_rows(run)
    headlines = []
    names = ks4_headlines(year) if key_stage == "ks4" else PRIMARY_HEADLINES[key_stage]
    gap = without_progress8(year) if key_stage == "ks4" else None
    if gap is not None:  # said where Progress 8 would be
        headlines.append(
            Headline(
                KS4_MEASURES["p8"],
                None,
                None,
                0,
                note=f"{gap.message}.",
                explored=False,
                trend=trend.get("p8", []),
            )
        )
    for name in names:
        if name not in infos:
            continue
        headline = _headline(infos[name], mine, national.get(("all", "all")))
        if headline.pupils == 0 and headline.figure is None and not headline.note:
            continue  # e.g. KS2 progress in a year DfE measures none
        headline.trend = trend.get(name, [])
        headlines.append(headline)
    return Dashboard(
        organisation,
        key_stage,
        year,
        run,
        source_of(run),
        mine.cohort,
        headlines,
        sorted({y for series in trend.values() for y, _ in series}),
        mine.pupils_adjusted if key_stage == "ks4" else None,
        not_counted_results(run, organisation) if key_stage == "ks4" else [],
    )


@dataclass(frozen=True)
class NotCounted:
    reason: str  # in words, e.g. "not on DfE's list of approved qualifications for 2026"
    results: int
    pupils: int


def not_counted_results(run: MeasureRun, organisation: Organisation) -> list[NotCounted]:
    """How many of the organisation's pupils' KS4 results are not counted in performance measures at
    all in the run, per reason (most first): its schools' stored counts added up (a pupil is in one
    school, so pupils add up too)."""
    results: dict[str, int] = defaultdict(int)
    pupils: dict[str, int] = defaultdict(int)
    stored = SchoolFigure.objects.filter(
        run=run, school__in=school_ids(organisation), group="all", value="all"
    ).values_list("not_counted", flat=True)
    for entries in stored.iterator(chunk_size=2000):
        for entry in entries:
            reason = str(entry.get("reason", ""))
            results[reason] += int(entry.get("results", 0))
            pupils[reason] += int(entry.get("pupils", 0))
    return sorted(
        (NotCounted(reason, count, pupils[reason]) for reason, count in results.items()),
        key=lambda n: (-n.results, n.reason),
    )


def _national_rows(run: MeasureRun) -> dict[tuple[str, str], Any]:
    model = SchoolFigure if run.key_stage == "ks4" else PrimaryFigure
    return {(row.group, row.value): row for row in model.objects.national().filter(run=run)}


def _headline(info: MeasureInfo, row: Any, national: Any, *, below: int = SUPPRESS_BELOW) -> Headline:
    """One measure of a stored row (KS4 columns or a primary JSON entry) beside the national row's."""
    if isinstance(row, SchoolFigure) and info.key in KS4_KS1_VA_MEASURES:
        return _ks1_headline(info, row, national, below=below)
    if isinstance(row, SchoolFigure):
        pupils = row.p8_pupils if info.key.startswith("p8") else row.cohort
        figure = getattr(row, info.key)
        extras: dict[str, Any] = {}
        if info.key.startswith("p8"):
            suffix = "" if info.key in {"p8", "p8_unadjusted"} else info.key[2:]
            if info.key != "p8_unadjusted":
                extras = {
                    "ci_low": getattr(row, f"p8{suffix}_ci_low"),
                    "ci_high": getattr(row, f"p8{suffix}_ci_high"),
                }
            if info.key == "p8":
                extras |= {"banding": row.banding, "significance": row.significance}
                extras |= {"percentile": row.percentile, "quintile": row.quintile}
        comparator = None if national is None else getattr(national, info.key)
    else:
        entry = row.figures.get(info.key) or {}
        pupils = entry.get("pupils") or 0
        figure = entry.get("figure")
        extras = {k: entry.get(k) for k in ("ci_low", "ci_high", "percentile", "quintile")}
        extras["significance"] = entry.get("significance") or ""
        comparator = None if national is None else (national.figures.get(info.key) or {}).get("figure")
    suppressed = 0 < pupils < below
    if suppressed:
        figure, extras = None, {}
    return Headline(info, figure, comparator, pupils, suppressed, **extras)


def _ks1_headline(info: MeasureInfo, row: SchoolFigure, national: Any, *, below: int) -> Headline:
    """keystage's KS1-based value added (or an element) of a stored row, with its interval, and whom it
    leaves out."""
    pupils = row.ks1_va_pupils
    note = ks1.missing_words(row.ks1_none, row.ks1_other)
    headline = Headline(
        info,
        getattr(row, info.key),
        None if national is None else getattr(national, info.key),
        pupils,
        ci_low=getattr(row, f"{info.key}_ci_low"),
        ci_high=getattr(row, f"{info.key}_ci_high"),
        significance=row.ks1_va_significance if info.key == "ks1_va" else "",
        note=f"{note[0].upper()}{note[1:]}." if note else "",
    )
    if 0 < pupils < below:
        return Headline(info, None, headline.national, pupils, suppressed=True, note=headline.note)
    return headline


def _trends(
    organisation: Organisation, key_stage: str, year: int, infos: Mapping[str, MeasureInfo]
) -> dict[str, list[tuple[int, str]]]:
    """Each measure's figure in the last TREND_YEARS years up to ``year``, formatted."""
    years = range(year - TREND_YEARS + 1, year + 1)
    school = organisation if isinstance(organisation, School) else None
    table = measure_trends.trend_table(
        key_stage, school=school, organisation_id=None if school else organisation.pk, years=years
    )
    trends: dict[str, list[tuple[int, str]]] = {}
    for row in table.iter_rows(named=True):
        # Progress 8's trend is shown in a year without it too: the years that have one.
        info = infos.get(row["measure"]) or (KS4_MEASURES.get(row["measure"]) if key_stage == "ks4" else None)
        if info is None:
            continue
        series = []
        for each in years:
            if f"{each} figure" not in row:
                continue
            pupils = row[f"{each} pupils"] or 0
            text = "SUPP" if 0 < pupils < SUPPRESS_BELOW else info.format(row[f"{each} figure"])
            series.append((each, text))
        trends[row["measure"]] = series
    return trends


# The inspection-style summary ---------------------------------------------------------------------

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
    def table(self) -> list[tuple[inspection.Evidence, list[str]]]:
        """Each headline measure with its figure in each year, as shown."""
        return [(e, e.row(self.years)) for e in self.headlines]


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
            for r in _figure_rows(run, school).filter(group__in={g for g, _ in wanted})
            if (r.group, r.value) in wanted
        }
        nationals[each] = _national_rows(run)
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
            h = _headline(info, row, nationals[each].get(compared))
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


# Explore: every measure by pupil group -----------------------------------------------------------


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
    national = _national_rows(run)
    stored = {(r.group, r.value): r for r in _figure_rows(run, organisation)}
    if not stored:
        raise NoFigures(f"{organisation.name} has no figures for this key stage and year.")
    rows = []
    for group, value in ordered(stored):
        compared = comparator_for(group, value, switch_like_for_like=switch)
        headline = _headline(info, stored[(group, value)], national.get(compared))
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


# Subjects (KS4) ----------------------------------------------------------------------------------


@dataclass
class SubjectRow:
    code: str
    name: str
    entries: int
    entered: str  # the share of the cohort entered
    national_entered: str
    points: str  # average points per entry
    national_points: str
    va: str  # subject value added, in points
    va_ci: str
    significance: str
    suppressed: bool


@dataclass
class SubjectGrade:
    grade: str
    entries: int
    share: float  # of the organisation's entries
    national_share: float | None


@dataclass
class Subjects:
    rows: list[SubjectRow]
    group: str
    value: str
    cohort: int
    source: Source
    chosen: SubjectRow | None = None  # the subject whose grades are shown
    grades: list[SubjectGrade] = field(default_factory=list)


def subjects(
    organisation: Organisation, year: int, *, group: str = "all", value: str = "all", subject: str = ""
) -> Subjects:
    """Every subject the organisation's pupils (of one pupil group) entered at KS4: entries, the share
    of the cohort entered, average points and subject value added, each beside the same group
    nationally; and, for a ``subject`` chosen, its grades against the national distribution."""
    run = run_for("ks4", year)
    if group not in groups_for("ks4") or value not in group_values(group):
        group, value = "all", "all"
    where: dict[str, Organisation] = (
        {"school": organisation} if isinstance(organisation, School) else {"organisation": organisation}
    )
    mine = list(
        SubjectFigure.objects.filter(run=run, group=group, value=value, **where).order_by(
            "-entries", "subject_name"
        )
    )
    if not mine:
        if (group, value) == ("all", "all"):
            raise NoFigures(f"{organisation.name} has no KS4 subject figures for {academic_year_name(year)}.")
        return Subjects([], group, value, 0, source_of(run))
    national = {
        f.subject: f for f in SubjectFigure.objects.national().filter(run=run, group=group, value=value)
    }
    rows = [_subject_row(f, national.get(f.subject)) for f in mine]
    report = Subjects(rows, group, value, mine[0].cohort, source_of(run))
    if subject:
        # A subject's grades are of all its entrants, whichever pupils the table shows.
        everyone = SubjectFigure.objects.filter(run=run, group="all", value="all", subject=subject)
        own = everyone.filter(**where).first()
        nation = everyone.national().first()
        if own is not None and own.entries >= SUPPRESS_BELOW:
            report.chosen = _subject_row(own, nation)
            report.grades = _grades(own.grades, nation.grades if nation else None)
    return report


def _subject_row(mine: SubjectFigure, national: SubjectFigure | None) -> SubjectRow:
    suppressed = mine.entries < SUPPRESS_BELOW
    va_suppressed = suppressed or mine.va_pupils < SUPPRESS_BELOW
    va_shown = not va_suppressed and mine.va is not None
    return SubjectRow(
        mine.subject,
        mine.subject_name,
        mine.entries,
        f"{round(mine.entry_share * 100)}%",
        f"{round(national.entry_share * 100)}%" if national else NO_FIGURE,
        "SUPP" if suppressed else f"{mine.average_points:.2f}",
        f"{national.average_points:.2f}" if national else NO_FIGURE,
        format_figure(mine.va, "progress") if va_shown else "SUPP" if va_suppressed else NO_FIGURE,
        (
            f"{mine.va_ci_low:+.2f} to {mine.va_ci_high:+.2f}"
            if va_shown and mine.va_ci_low is not None and mine.va_ci_high is not None
            else ""
        ),
        # Against the national value added, 0 by construction, as printed: +0.00 is in line.
        significance_shown(mine.significance, mine.va, 0.0, "progress") if va_shown else "",
        suppressed,
    )


def _grades(mine: list[list[Any]] | None, national: list[list[Any]] | None) -> list[SubjectGrade]:
    """Each grade's share of entries, in the order grades are stored (highest points first)."""
    own = {str(g): int(n) for g, n in mine or []}
    nation = {str(g): int(n) for g, n in national or []}
    order = [str(g) for g, _ in mine or []] + [str(g) for g, _ in national or [] if str(g) not in own]
    own_total, nation_total = sum(own.values()), sum(nation.values())
    return [
        SubjectGrade(
            grade,
            own.get(grade, 0),
            own.get(grade, 0) / own_total if own_total else 0.0,
            nation.get(grade, 0) / nation_total if nation_total else None,
        )
        for grade in order
    ]


def school_ids(organisation: Organisation) -> list[int]:
    """The schools whose pupils an organisation's reports cover: itself, or its trust's or LA's."""
    if isinstance(organisation, School):
        return [organisation.pk]
    return list(organisation.schools().values_list("pk", flat=True))


def pupil_table(run: MeasureRun, organisation: Organisation) -> tuple[pl.DataFrame, dict[str, Measure]]:
    """The stored pupil figures of an organisation's pupils in a run, with their characteristics, and
    which pupil column each measure averages."""
    if run.key_stage == "ks4":
        rows = list(
            PupilFigure.objects.filter(run=run, school__in=school_ids(organisation)).values(
                "school_id",
                "upn",
                "characteristics",
                *[m.column for m in KS4_PUPIL_MEASURES.values()],
                "ks2_pa",
                "ks1_aps",
            )
        )
        table = [
            {**{k: v for k, v in r.items() if k != "characteristics"}, **r["characteristics"]} for r in rows
        ]
        return _frame(table), dict(KS4_PUPIL_MEASURES)
    framework = pipeline.primary_framework(run.key_stage, run.year)
    chosen = KEY_STAGES[run.key_stage].measures(framework)
    primary_rows = PrimaryPupilFigure.objects.filter(run=run, school__in=school_ids(organisation)).values(
        "school_id", "upn", "nc_year", "figures", "characteristics"
    )
    table = [
        {
            "school_id": r["school_id"],
            "upn": r["upn"],
            "nc_year": r["nc_year"],
            **{m.column: r["figures"].get(m.column) for m in chosen.values()},
            **({"ks1_aps": r["figures"].get("ks1_aps")} if run.key_stage == "ks2" else {}),
            **r["characteristics"],
        }
        for r in primary_rows
    ]
    return _frame(table), dict(chosen)


_CHARACTERISTIC_TYPES = {
    "sex": pl.String,
    "disadvantaged": pl.Boolean,
    "sen": pl.String,
    "eal": pl.Boolean,
    "non_mobile": pl.Boolean,
    "ethnicity_group": pl.String,
    "month_of_birth": pl.Int8,
}


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    table = (
        pl.DataFrame(rows, infer_schema_length=None)
        if rows
        else pl.DataFrame({"upn": []}, schema={"upn": pl.String})
    )
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in _CHARACTERISTIC_TYPES.items()
        if name not in table.columns
    ]
    return table.with_columns(missing).with_columns(
        pl.col(name).cast(dtype) for name, dtype in _CHARACTERISTIC_TYPES.items()
    )


# Pupils (named roles only) -----------------------------------------------------------------------


def pupil_names(school_ids: Iterable[int], year: int, upns: Iterable[str]) -> dict[str, str]:
    """Each pupil's name: from the roster of that year, else a later or earlier one, else their
    school's upload."""
    wanted = set(upns)
    names: dict[str, str] = {}
    roster = (
        Pupil.objects.filter(school__in=list(school_ids), upn__in=wanted)
        .order_by("-academic_year")
        .values_list("upn", "academic_year", "forename", "surname")
    )
    for upn, _year, forename, surname in sorted(roster, key=lambda r: (r[1] != year, -r[1])):
        names.setdefault(upn, f"{surname}, {forename}")
    missing = wanted - set(names)
    if missing:
        for upn, forename, surname in SubmittedPupil.objects.filter(
            upload__school__in=list(school_ids), upn__in=missing
        ).values_list("upn", "forename", "surname"):
            names.setdefault(upn, f"{surname}, {forename}")
    return names


KS4_PUPIL_COLUMNS = (
    "a8",
    "p8_adjusted",
    "ks2_pa",
    "ebacc_entered",
    "em_4plus",
    "em_5plus",
    "ks1_aps",
    "ks1_va",
)


def pupil_list(
    run: MeasureRun, school: School, *, search: str = "", sort: str = "name", descending: bool = False
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The school's pupils in the run with their headline figures: (rows, columns as (key, label)).
    ``search`` matches a name or UPN; ``sort`` is "name" or a column key."""
    if run.key_stage == "ks4":
        rows = list(PupilFigure.objects.filter(run=run, school=school).values("upn", *KS4_PUPIL_COLUMNS))
        columns = [
            ("ks2_pa", "KS2 prior attainment"),
            ("a8", "Attainment 8"),
            ("p8_adjusted", "Progress 8"),
            ("ebacc_entered", "Entered EBacc"),
            ("em_4plus", "English and maths 4+"),
            ("em_5plus", "English and maths 5+"),
        ]
        if without_progress8(run.year) is not None:  # KS1 in KS2's place, its value added in P8's
            columns[0] = ("ks1_aps", "KS1 prior attainment (average point score)")
            columns[2] = ("ks1_va", ks1.NAME)
    else:
        infos = measure_infos(run)
        headline = PRIMARY_HEADLINES[run.key_stage][:4]
        columns = [(name, infos[name].label) for name in headline if name in infos]
        rows = [
            {"upn": r["upn"], **{name: r["figures"].get(name) for name, _ in columns}}
            for r in PrimaryPupilFigure.objects.filter(run=run, school=school).values("upn", "figures")
        ]
    names = pupil_names([school.pk], run.year, (r["upn"] for r in rows))
    for row in rows:
        row["name"] = names.get(row["upn"], "")
    words = search.strip().lower()
    if words:
        rows = [r for r in rows if words in r["name"].lower() or words in r["upn"].lower()]
    keys = {"name", "upn", *(key for key, _ in columns)}
    by = sort if sort in keys else "name"
    present = [r for r in rows if r.get(by) is not None]
    absent = [r for r in rows if r.get(by) is None]
    present.sort(key=lambda r: (r[by], r["name"]), reverse=descending)
    return present + absent, columns


def pupil_detail(run: MeasureRun, school: School, upn: str) -> dict[str, Any] | None:
    """One pupil's figures and how they were worked out (A8 slots for KS4, results for primary)."""
    name = pupil_names([school.pk], run.year, [upn]).get(upn, "")
    if run.key_stage == "ks4":
        figure = PupilFigure.objects.filter(run=run, school=school, upn=upn).first()
        if figure is None:
            return None
        labels = {**KS4_MEASURES, **KS4_KS1_VA_MEASURES}
        # Measures by their key; the other rows are already in words.
        rows = [(labels[k].label if k in labels else k, v) for k, v in _ks4_pupil_figures(figure, run.year)]
        return {
            "upn": upn,
            "name": name,
            "figures": rows,
            "explanation": figure.explanation,
            "results": [],
            "not_counted": figure.not_counted,
        }
    primary = PrimaryPupilFigure.objects.filter(run=run, school=school, upn=upn).first()
    if primary is None:
        return None
    infos = measure_infos(run)
    rows = [(infos[k].label, v) for k, v in primary.figures.items() if k in infos]
    return {
        "upn": upn,
        "name": name,
        "figures": rows,
        "explanation": [],
        "results": results_in_words(primary.results, run.year),
    }


@dataclass(frozen=True)
class ResultInWords:
    assessment: str  # the assessment's name
    result: str  # as confirmed: a score or a code
    meaning: str  # what a code means, and that it is not a score; empty for a score


def results_in_words(results: Mapping[str, str], year: int) -> list[ResultInWords]:
    """A pupil's confirmed results named as the year's frameworks name them, each code with its
    meaning (a code such as the multiplication check's B is not a score, so no average counts it)."""
    from keystage.reference_data.services import reference_version

    assessments = _assessments_for(year, reference_version())
    found = []
    for code, result in results.items():
        assessment = assessments.get(code)
        if assessment is None:
            found.append(ResultInWords(code.replace("_", " "), str(result), ""))
            continue
        outcome = assessment.outcome(str(result))
        meaning = ""
        if outcome is not None and assessment.score is not None:
            meaning = f"{outcome.label}: a code, not a score, so no average score counts it"
        elif outcome is not None:
            meaning = outcome.label
        found.append(ResultInWords(assessment.label, str(result), meaning))
    return sorted(found, key=lambda r: r.assessment)


@lru_cache(maxsize=16)
def _assessments_for(year: int, version: int) -> dict[str, Any]:
    """The year's assessments by code, read once per load of reference data (``version``)."""
    from keystage.reference_data.services import framework_library

    return framework_library().assessments_for(year)


def _ks4_pupil_figures(figure: PupilFigure, year: int) -> list[tuple[str, Any]]:
    gap = without_progress8(year)
    if gap is not None:  # no Progress 8, and why; keystage's KS1-based value added instead
        return [
            ("KS1 prior attainment (average point score)", figure.ks1_aps),
            ("KS1 prior attainment group", figure.ks1_pag),
            ("a8", figure.a8),
            ("a8_english", figure.a8_english),
            ("a8_maths", figure.a8_maths),
            ("a8_ebacc", figure.a8_ebacc),
            ("a8_open", figure.a8_open),
            ("p8", gap.message),
            ("ks1_va", figure.ks1_va),
            ("ks1_va_english", figure.ks1_va_english),
            ("ks1_va_maths", figure.ks1_va_maths),
            ("ks1_va_ebacc", figure.ks1_va_ebacc),
            ("ks1_va_open", figure.ks1_va_open),
            ("ebacc_aps", figure.ebacc_aps),
        ]
    return [
        ("KS2 prior attainment (average of reading and maths scaled scores)", figure.ks2_pa),
        ("a8", figure.a8),
        ("a8_english", figure.a8_english),
        ("a8_maths", figure.a8_maths),
        ("a8_ebacc", figure.a8_ebacc),
        ("a8_open", figure.a8_open),
        ("p8", figure.p8_adjusted),
        ("p8_unadjusted", figure.p8),
        ("p8_english", figure.p8_english),
        ("p8_maths", figure.p8_maths),
        ("p8_ebacc", figure.p8_ebacc),
        ("p8_open", figure.p8_open),
        ("ebacc_aps", figure.ebacc_aps),
    ]


# Trust and LA: every school side by side ------------------------------------------------------------


@dataclass
class SchoolRow:
    school: School
    cohort: int
    figures: dict[str, Headline]


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
    national = _national_rows(run).get(("all", "all"))
    model = SchoolFigure if key_stage == "ks4" else PrimaryFigure
    stored = model.objects.filter(
        run=run, school__in=organisation.schools(), group="all", value="all"
    ).select_related("school")
    rows = [
        SchoolRow(row.school, row.cohort, {info.key: _headline(info, row, national) for info in shown})
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
    own = _figure_rows(run, organisation).filter(group="all", value="all").first()
    own_figure = _headline(shown[0], own, national) if own is not None and shown else None
    return rows, shown, own_figure, source_of(run)


def measures_for_scatter(key_stage: str, run: MeasureRun) -> dict[str, MeasureInfo]:
    infos = measure_infos(run)
    if key_stage == "ks4":
        wanted = ("p8", "ks1_va", "a8", "p8_english", "p8_maths", "p8_ebacc", "p8_open")
        return {k: infos[k] for k in (*wanted, *(f"ks1_va_{e}" for e in ELEMENTS)) if k in infos}
    return {k: v for k, v in infos.items() if v.kind in {"mean", "progress"}}


# Scatter plots ------------------------------------------------------------------------------------

SCATTER_X = {
    "ks4": ("ks2_pa", "KS2 prior attainment (average of reading and maths scaled scores)"),
    "ks2": ("ks1_aps", "KS1 average point score"),
}
# KS4 in a year without Progress 8: pupils against their KS1 prior attainment.
KS4_KS1_X = ("ks1_aps", "KS1 prior attainment (KS1 average point score)")


def scatter_x(run: MeasureRun) -> tuple[str, str]:
    """The prior attainment a run's pupils are plotted against (column, label)."""
    if run.key_stage == "ks4" and without_progress8(run.year) is not None:
        return KS4_KS1_X
    return SCATTER_X[run.key_stage]


@dataclass
class Scatter:
    y: MeasureInfo
    x_label: str
    group: str
    value: str
    points: list[tuple[str, float, float, bool]]  # upn, x, y, highlighted
    left_out: int  # pupils without a prior attainment or a figure


def scatter(run: MeasureRun, organisation: Organisation, y: str, group: str, value: str) -> Scatter:
    """Pupils' ``y`` against their prior attainment, with the pupils whose ``group`` is ``value``
    highlighted. KS4 (against KS2) and KS2 (against KS1) only: the other key stages have no prior
    attainment to plot against."""
    if run.key_stage not in SCATTER_X:
        raise NoFigures(f"{KEY_STAGE_LABELS[run.key_stage]} has no prior attainment to plot pupils against.")
    options = measures_for_scatter(run.key_stage, run)
    info = options.get(y) or next(iter(options.values()))
    x_column, x_label = scatter_x(run)
    pupils, pupil_measures = pupil_table(run, organisation)
    if pupils.height == 0:
        raise NoFigures(
            f"No pupils' figures are kept for {organisation.name} in {academic_year_name(run.year)}: none "
            "were stored, or they were deleted when their retention period ended."
        )
    column = pupil_measures[info.key].column
    spec = GROUPS.get(group)
    if spec is None or not all(c in pupils.columns for c in spec.columns):
        group, spec = "disadvantaged", GROUPS["disadvantaged"]
    highlighted = spec.value.fill_null("") == value
    table = pupils.select(
        "upn",
        pl.col(x_column).cast(pl.Float64).alias("x"),
        pl.col(column).cast(pl.Float64).alias("y"),
        highlighted.alias("h"),
    )
    plotted = table.drop_nulls(["x", "y"])
    points = [(upn, x, yv, bool(h)) for upn, x, yv, h in plotted.iter_rows()]
    return Scatter(info, x_label, group, value, points, table.height - plotted.height)
