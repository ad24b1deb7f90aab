"""The dashboard (each organisation's summary of a key stage and year): its headline measures beside
national with three years' trend, and, at KS4, the results counted in no measure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.cache import cache

from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.reports.catalogue import (
    KEY_STAGE_LABELS,
    KS4_MEASURES,
    PRIMARY_HEADLINES,
    MeasureInfo,
    ks4_headlines,
)
from keystage.core.results.kinds import academic_year_name
from keystage.measures import trends as measure_trends
from keystage.measures.models import MeasureRun, RunStatus, SchoolFigure
from keystage.organisations.models import Organisation, School
from keystage.reports.figures import (
    Headline,
    NoFigures,
    Source,
    figure_rows,
    headline_of,
    measure_infos,
    national_rows,
    run_for,
    school_ids,
    source_of,
)

TREND_YEARS = 3


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
    mine = figure_rows(run, organisation).filter(group="all", value="all").first()
    if mine is None:
        stage, name = KEY_STAGE_LABELS[key_stage], academic_year_name(year)
        raise NoFigures(f"{organisation.name} has no {stage} figures for {name}.")
    trend = _trends(organisation, key_stage, year, infos)
    national = national_rows(run)
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
        headline = headline_of(infos[name], mine, national.get(("all", "all")))
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
