"""The stored figures every report reads: which key stages and years have figures (complete runs),
where the national figures come from, the figure rows of an organisation and of the nation, and one
measure of a stored row as a headline figure beside national, small groups suppressed. Nothing here
recomputes a national cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from keystage.core import key_stages
from keystage.core.measures import pipeline
from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.measures.ks4 import ks1_value_added as ks1
from keystage.core.measures.ks4.prior_attainment import without_progress8
from keystage.core.measures.primary import KEY_STAGES
from keystage.core.refusals import Refused
from keystage.core.reports.catalogue import (
    KEY_STAGE_LABELS,
    MeasureInfo,
    ks4_measures,
    primary_measures,
    significance_shown,
)
from keystage.core.results.kinds import academic_year_name
from keystage.measures import services as measures
from keystage.measures.models import MeasureRun, RunStatus, StoredMeasure, figure_model
from keystage.organisations.models import Organisation, School
from keystage.results.models import Collection
from keystage.results.pages import kinds_for

KEY_STAGES_SHOWN = ("ks4", "ks2", "ks1", "phonics", "eyfsp")
# The collections each key stage reads.
_KINDS = {key: info.kinds for key, info in key_stages.KEY_STAGES.items()}


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


@dataclass(frozen=True)
class SignificanceShown:
    """A significance as worded beside printed figures (catalogue.significance_shown): "above",
    "below", "in line", "not significant" or "" (none)."""

    shown: str

    @property
    def colour(self) -> str:
        """The tag of a significant difference: green above national, red below; "" otherwise."""
        return {"above": "green", "below": "red"}.get(self.shown, "")

    @property
    def tag(self) -> str:
        """Sig+ (or Sig and a minus sign) beside a figure significantly above (below) national; "" else."""
        return {"above": "Sig+", "below": "Sig\u2212"}.get(self.shown, "")

    @property
    def short(self) -> str:
        """E.g. "Significantly above", "In line with national"; "" with no significance."""
        if self.shown in ("above", "below"):
            return f"Significantly {self.shown}"
        return {"in line": "In line with national", "not significant": "Not significantly different"}.get(
            self.shown, ""
        )

    @property
    def against_national(self) -> str:
        """E.g. "Significantly above national", "Not significantly different"."""
        return f"{self.short} national" if self.colour else self.short


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
    def significance_shown(self) -> SignificanceShown:
        return SignificanceShown(self.compared)

    @property
    def is_progress8(self) -> bool:
        """KS4's Progress 8 (the dashboard's first headline, in a card of its own; in a year without
        Progress 8 the card says why)."""
        return self.info.key == "p8"

    @property
    def is_ks1_value_added(self) -> bool:
        """keystage's KS1-based value added (after Progress 8 in a year without it, in a card too)."""
        return self.info.key == "ks1_va"

    @property
    def ci_text(self) -> str:
        if self.suppressed or self.ci_low is None or self.ci_high is None:
            return ""
        return f"{self.ci_low:.2f} to {self.ci_high:.2f}"


def figure_rows(run: MeasureRun, organisation: Organisation) -> QuerySet[Any]:
    model = figure_model(run.key_stage)
    if isinstance(organisation, School):
        return model.objects.filter(run=run, school=organisation)
    return model.objects.filter(run=run, organisation=organisation)


def figure_rows_of_schools(run: MeasureRun, schools: QuerySet[School]) -> QuerySet[Any]:
    """The all-pupil figure rows of ``schools`` in the run (one per school with figures)."""
    return figure_model(run.key_stage).objects.filter(run=run, school__in=schools, group="all", value="all")


def measure_infos(run: MeasureRun) -> dict[str, MeasureInfo]:
    if run.key_stage == "ks4":
        return ks4_measures(run.year)
    framework = pipeline.primary_framework(run.key_stage, run.year)
    return primary_measures(KEY_STAGES[run.key_stage].measures(framework), framework)


def national_rows(run: MeasureRun) -> dict[tuple[str, str], Any]:
    return {
        (row.group, row.value): row for row in figure_model(run.key_stage).objects.national().filter(run=run)
    }


def headline_of(info: MeasureInfo, row: Any, national: Any, *, below: int = SUPPRESS_BELOW) -> Headline:
    """One measure of a stored row (any key stage's: SchoolFigure or PrimaryFigure) beside the national
    row's, suppressed when it counts fewer than ``below`` pupils."""
    stored: StoredMeasure = row.measure(info.key)
    comparator = None if national is None else national.measure(info.key).figure
    note = ""
    if stored.left_out is not None:  # who keystage's KS1-based value added leaves out
        words = ks1.missing_words(*stored.left_out)
        note = f"{words[0].upper()}{words[1:]}." if words else ""
    if 0 < stored.pupils < below:
        return Headline(info, None, comparator, stored.pupils, suppressed=True, note=note)
    return Headline(
        info,
        stored.figure,
        comparator,
        stored.pupils,
        percentile=stored.percentile,
        quintile=stored.quintile,
        ci_low=stored.ci_low,
        ci_high=stored.ci_high,
        banding=stored.banding,
        significance=stored.significance,
        note=note,
    )


def school_ids(organisation: Organisation) -> list[int]:
    """The schools whose pupils an organisation's reports cover: itself, or its trust's or LA's."""
    if isinstance(organisation, School):
        return [organisation.pk]
    return list(organisation.schools().values_list("pk", flat=True))
