"""The report pages' reads, one per page, each for the person asking: it checks their role for the
organisation (``accounts.policy``), writes the audit record when pupils are shown or downloaded, and
returns the figures already cut to what that person may see (governors: no places among schools;
anonymised roles: no pupil's identity). The figures themselves are read by the modules named for
each report (figures, dashboard, explore, scatter, ...); the views parse the request and render.

A page of a key stage and year with nothing to show raises ``NoReport``, which carries the page's
heading so the page can still say, under it, why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from keystage.accounts import policy
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.reports.breakdown import Filters
from keystage.core.reports.catalogue import (
    GROUP_LABELS,
    KEY_STAGE_LABELS,
    MeasureInfo,
    group_values,
    groups_for,
    value_label,
)
from keystage.core.results.kinds import academic_year_name
from keystage.core.roles import Action, OrgKind
from keystage.organisations.models import LocalAuthority, Organisation, School
from keystage.reports import exports, pupils, scatter, side_by_side, summaries
from keystage.reports.dashboard import Dashboard, dashboard
from keystage.reports.explore import Breakdown, explore
from keystage.reports.figures import (
    Headline,
    NoFigures,
    Source,
    key_stages_of,
    no_progress8_words,
    run_for,
    school_ids,
    years_with_figures,
)
from keystage.reports.inspection_summary import InspectionSummary, inspection_summary
from keystage.reports.models import SummaryPublication
from keystage.reports.side_by_side import SchoolRow
from keystage.reports.subjects import Subjects, grades_chart, pupil_group_choices, subjects
from keystage.returns.models import ReturnRound

# The key stage whose subjects' figures are kept (DfE measures subjects at KS4).
SUBJECTS_KEY_STAGE = "ks4"


@dataclass(frozen=True)
class Heading:
    """What every report page's heading and navigation show the person reading."""

    organisation: Organisation
    key_stage: str
    year: int
    full_reports: bool  # False: a governor's headline figures
    sees_pupils: bool
    has_scatter: bool
    runs_returns: bool  # an LA's data officer: its summary reports for schools
    years: list[tuple[int, str]]  # every year with figures, newest first
    no_progress8: str

    def context(self) -> dict[str, Any]:
        is_school = isinstance(self.organisation, School)
        return {
            "organisation": self.organisation,
            "is_school": is_school,
            "key_stage": self.key_stage,
            "key_stage_label": KEY_STAGE_LABELS[self.key_stage],
            "year": self.year,
            "year_name": academic_year_name(self.year),
            "years": self.years,
            "full_reports": self.full_reports,
            "sees_pupils": self.sees_pupils,
            "has_scatter": self.has_scatter,
            "has_subjects": self.key_stage == SUBJECTS_KEY_STAGE,
            # A school's KS4 reports link to its estimates page.
            "has_estimates": is_school and self.key_stage == "ks4",
            "runs_returns": self.runs_returns,
            "no_progress8": self.no_progress8,
        }

    @property
    def words(self) -> str:
        """e.g. "KS4 2025/26", as the audit log names a report."""
        return f"{KEY_STAGE_LABELS[self.key_stage]} {academic_year_name(self.year)}"


class NoReport(NoFigures):
    """No figures for the page asked for; the page says why under its ``heading``."""

    def __init__(self, heading: Heading, message: str) -> None:
        super().__init__(message)
        self.heading = heading


def _heading(user: Any, organisation: Organisation, key_stage: str, year: int) -> Heading:
    full = policy.can(user, Action.VIEW_REPORTS, organisation)
    return Heading(
        organisation,
        key_stage,
        year,
        full_reports=full,
        sees_pupils=isinstance(organisation, School) and policy.sees_pupils(user, organisation),
        has_scatter=key_stage in scatter.SCATTER_X and full,
        runs_returns=isinstance(organisation, LocalAuthority)
        and key_stage in summaries.SUMMARY_KEY_STAGES
        and policy.can(user, Action.RUN_LA_COLLECTIONS, organisation),
        years=[(y, academic_year_name(y)) for y in years_with_figures(key_stage)],
        no_progress8=no_progress8_words(key_stage, year),
    )


def _require_reports(user: Any, organisation: Organisation, *, governors_too: bool = False) -> None:
    """Refuse (403) unless the person reads the organisation's reports (``governors_too``: or its
    governors' headline figures)."""
    if governors_too and policy.reads_reports(user, organisation):
        return
    policy.require(user, Action.VIEW_REPORTS, organisation)


@contextmanager
def _reported_under(heading: Heading) -> Iterator[None]:
    """Nothing to show yet becomes a page that says why, under the page's own heading."""
    try:
        yield
    except NoFigures as error:
        raise NoReport(heading, str(error)) from None


def _audit(user: Any, ip: str | None, *, file: str, organisation: Organisation, subject: str) -> None:
    """A look at pupils (PUPILS_VIEWED), or, with ``file``, a download of them (REPORT_DOWNLOADED)."""
    record(
        AuditAction.REPORT_DOWNLOADED if file else AuditAction.PUPILS_VIEWED,
        actor=user,
        organisation=organisation,
        subject=subject + (f" ({file})" if file else ""),
        ip_address=ip,
    )


# Every organisation's reports ----------------------------------------------------------------------


def reports_index(user: Any) -> list[dict[str, Any]]:
    """Every organisation whose reports the person reads, with its key stages and years (and, for a
    trust or LA whose full reports they read, each of its schools')."""
    entries = []
    for organisation, _roles in policy.organisations_of(user):
        specific = organisation.specific()
        if not policy.reads_reports(user, specific):
            continue
        schools = []
        if policy.can(user, Action.VIEW_REPORTS, specific) and specific.org_kind is not OrgKind.SCHOOL:
            schools = [(school, key_stages_of(school)) for school in specific.schools().order_by("name")]
        entries.append({"organisation": specific, "key_stages": key_stages_of(specific), "schools": schools})
    return entries


# Figures without pupils ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardPage:
    heading: Heading
    report: Dashboard


def dashboard_page(user: Any, organisation: Organisation, key_stage: str, year: int) -> DashboardPage:
    """The organisation's summary; for a governor, its headline figures without places among schools."""
    _require_reports(user, organisation, governors_too=True)
    heading = _heading(user, organisation, key_stage, year)
    with _reported_under(heading):
        report = dashboard(organisation, key_stage, year)
    if not heading.full_reports:
        report = replace(
            report, headlines=[replace(h, percentile=None, quintile=None) for h in report.headlines]
        )
    return DashboardPage(heading, report)


@dataclass(frozen=True)
class ExplorePage:
    heading: Heading
    report: Breakdown

    @property
    def filter_groups(self) -> list[dict[str, Any]]:
        """Each pupil group the figures can be filtered by, with its values and which are chosen."""
        chosen = self.report.filters.chosen
        return [
            {
                "group": group,
                "label": GROUP_LABELS[group],
                "options": [
                    (v, value_label(group, v), v in chosen.get(group, ())) for v in group_values(group)
                ],
            }
            for group in groups_for(self.heading.key_stage)
        ]


def explore_page(
    user: Any,
    organisation: Organisation,
    key_stage: str,
    year: int,
    *,
    measure: str,
    filters: Filters,
    switch: bool,
) -> ExplorePage:
    _require_reports(user, organisation)
    heading = _heading(user, organisation, key_stage, year)
    with _reported_under(heading):
        report = explore(organisation, key_stage, year, measure, filters, switch=switch)
    return ExplorePage(heading, report)


@dataclass(frozen=True)
class SchoolsPage:
    heading: Heading
    rows: list[SchoolRow]
    shown: list[MeasureInfo]
    own: Headline | None
    source: Source

    @property
    def columns(self) -> list[tuple[MeasureInfo, tuple[str, ...]]]:
        """Each measure shown, with the headings of the columns beside it."""
        return [(info, side_by_side.BESIDE.get(info.key, ())) for info in self.shown]


def schools_page(
    user: Any, organisation: Organisation, key_stage: str, year: int, *, sort: str, descending: bool
) -> SchoolsPage:
    """A trust's or LA's schools side by side."""
    _require_reports(user, organisation)
    if isinstance(organisation, School):
        raise Http404("A school's own figures are on its dashboard.")
    heading = _heading(user, organisation, key_stage, year)
    with _reported_under(heading):
        rows, shown, own, source = side_by_side.schools_side_by_side(
            organisation, key_stage, year, sort=sort, descending=descending
        )
    return SchoolsPage(heading, rows, shown, own, source)


@dataclass(frozen=True)
class SubjectsPage:
    heading: Heading
    report: Subjects
    chart: str  # the chosen subject's grades; "" with none chosen
    pupil_groups: list[tuple[str, str]]


def subjects_page(
    user: Any, organisation: Organisation, year: int, *, group: str, value: str, subject: str
) -> SubjectsPage:
    _require_reports(user, organisation)
    heading = _heading(user, organisation, SUBJECTS_KEY_STAGE, year)
    with _reported_under(heading):
        report = subjects(organisation, year, group=group, value=value, subject=subject)
    return SubjectsPage(heading, report, grades_chart(report, organisation, year), pupil_group_choices())


@dataclass(frozen=True)
class InspectionPage:
    heading: Heading
    report: InspectionSummary


def inspection_page(user: Any, organisation: Organisation, key_stage: str, year: int) -> InspectionPage:
    _require_reports(user, organisation)
    if not isinstance(organisation, School):
        raise Http404("The inspection summary is per school.")
    heading = _heading(user, organisation, key_stage, year)
    with _reported_under(heading):
        report = inspection_summary(organisation, key_stage, year)
    return InspectionPage(heading, report)


# Pupils: named roles see and download them, every time in the audit log ----------------------------


@dataclass(frozen=True)
class ScatterPage:
    heading: Heading
    plot: scatter.Scatter
    svg: str
    rows: list[dict[str, Any]]  # every pupil plotted; names and UPNs for named roles only
    named: bool
    chosen_label: str
    y_options: list[MeasureInfo]
    highlight_options: list[tuple[str, str]]
    value_options: list[tuple[str, str]]
    queued: bool  # a PDF for the worker to draw (audited then)


def scatter_page(
    user: Any,
    organisation: Organisation,
    key_stage: str,
    year: int,
    *,
    y: str,
    group: str,
    value: str,
    file: str = "",
    drawing_export: bool = False,
    ip: str | None = None,
) -> ScatterPage:
    """Pupils' figures against their prior attainment, one group highlighted: every reader of the
    reports sees the points; named roles see (and download) who each is. ``file`` is "xlsx", "pdf" or
    "" (the page); an anonymised role downloads no workbook of pupils."""
    _require_reports(user, organisation)
    heading = _heading(user, organisation, key_stage, year)
    named = policy.sees_pupils(user, organisation)
    group = group if group in groups_for(key_stage) else "disadvantaged"
    values = group_values(group)
    value = value if value in values else values[0]
    with _reported_under(heading):
        run = run_for(key_stage, year)
        plot = scatter.scatter(run, organisation, y, group, value)
    names = pupils.pupil_names(school_ids(organisation), year, (p[0] for p in plot.points)) if named else None
    chosen_label = value_label(group, value)
    svg, rows = scatter.drawn(
        plot,
        title=f"{plot.y.label} against prior attainment: {organisation.name}, {academic_year_name(year)}",
        highlight=chosen_label.lower(),
        names=names,
        link=pupils.pupil_address(organisation, key_stage, year),
    )
    if file == "xlsx" and not named:
        raise PermissionDenied("Your role downloads no pupil-level figures.")
    queued = file == "pdf" and exports.queued(len(rows), drawing=drawing_export)
    if named and not queued:
        _audit(user, ip, file=file, organisation=organisation, subject=f"{heading.words} scatter plot")
    return ScatterPage(
        heading,
        plot,
        svg,
        rows,
        named,
        chosen_label,
        list(scatter.measures_for_scatter(key_stage, run).values()),
        [(g, GROUP_LABELS[g]) for g in groups_for(key_stage)],
        [(v, value_label(group, v)) for v in values],
        queued,
    )


def _pupil_school(user: Any, organisation: Organisation) -> School:
    """The school whose pupils are asked for, refused unless the person sees its pupils."""
    _require_reports(user, organisation)
    if not isinstance(organisation, School):
        raise Http404("Pupil lists are per school.")
    if not policy.sees_pupils(user, organisation):
        raise PermissionDenied("Pupil-level reports need a named role.")
    return organisation


@dataclass(frozen=True)
class PupilListPage:
    heading: Heading
    school: School
    rows: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    queued: bool  # a PDF for the worker to draw (audited then)


def pupil_list_page(
    user: Any,
    organisation: Organisation,
    key_stage: str,
    year: int,
    *,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    file: str = "",
    drawing_export: bool = False,
    ip: str | None = None,
) -> PupilListPage:
    """The school's pupils with their headline figures, for named roles. ``file``: "xlsx", "pdf" or ""."""
    school = _pupil_school(user, organisation)
    heading = _heading(user, school, key_stage, year)
    with _reported_under(heading):
        run = run_for(key_stage, year)
    rows, columns = pupils.pupil_list(run, school, search=search, sort=sort, descending=descending)
    queued = file == "pdf" and exports.queued(len(rows), drawing=drawing_export)
    if not queued:
        _audit(user, ip, file=file, organisation=school, subject=f"{heading.words} pupil list")
    return PupilListPage(heading, school, rows, columns, queued)


@dataclass(frozen=True)
class PupilPage:
    heading: Heading
    school: School
    pupil: dict[str, Any]


def pupil_page(
    user: Any,
    organisation: Organisation,
    key_stage: str,
    year: int,
    upn: str,
    *,
    pdf: bool = False,
    ip: str | None = None,
) -> PupilPage:
    """One pupil's figures and how they were worked out, for named roles."""
    school = _pupil_school(user, organisation)
    heading = _heading(user, school, key_stage, year)
    with _reported_under(heading):
        run = run_for(key_stage, year)
    detail = pupils.pupil_detail(run, school, upn)
    if detail is None:
        raise Http404("No such pupil in this school's figures.")
    _audit(
        user,
        ip,
        file="pdf" if pdf else "",
        organisation=school,
        subject=f"{heading.words} pupil {detail['upn']}",
    )
    return PupilPage(heading, school, detail)


# The LA's summary reports for its schools ----------------------------------------------------------


def _running_returns(user: Any, organisation: Organisation) -> LocalAuthority:
    if not isinstance(organisation, LocalAuthority):
        raise Http404("Summary reports are published by a local authority.")
    policy.require(user, Action.RUN_LA_COLLECTIONS, organisation)
    return organisation


@dataclass(frozen=True)
class SummariesPage:
    heading: Heading
    schools: list[School]
    rounds: list[ReturnRound]
    publications: QuerySet[SummaryPublication]  # the latest ten


def summaries_page(user: Any, organisation: Organisation, key_stage: str, year: int) -> SummariesPage:
    """The LA's schools with a summary report, its return rounds to publish them through, and what it
    published."""
    la = _running_returns(user, organisation)
    heading = _heading(user, la, key_stage, year)
    with _reported_under(heading):
        schools = summaries.schools_with_figures(la, key_stage, year)
    rounds = summaries.rounds_of(la, key_stage, year)
    publications = SummaryPublication.objects.filter(round__in=rounds).select_related("round", "requested_by")
    return SummariesPage(heading, schools, rounds, publications[:10])


def summary_preview(
    user: Any, organisation: Organisation, key_stage: str, year: int, school_id: str, *, ip: str | None = None
) -> tuple[School, bytes]:
    """One of the LA's schools' summary report as a PDF, before it is published; it names the school's
    pupils, so the preview is audited (for the school)."""
    la = _running_returns(user, organisation)
    heading = _heading(user, la, key_stage, year)
    with _reported_under(heading):
        schools = summaries.schools_with_figures(la, key_stage, year)
    school = next((s for s in schools if str(s.pk) == school_id), None)
    if school is None:
        raise Http404("That school has no summary report for this key stage and year.")
    record(
        AuditAction.REPORT_DOWNLOADED,
        actor=user,
        organisation=school,
        subject=f"{heading.words} summary report (preview)",
        ip_address=ip,
    )
    return school, summaries.summary_pdf(school, la, key_stage, year, user.full_name or user.email)


def publish_summaries(
    user: Any, organisation: Organisation, key_stage: str, year: int, round_id: str, *, ip: str | None = None
) -> tuple[ReturnRound, bool]:
    """Queue each school's summary report through one of the LA's return rounds of the key stage:
    (the round, whether it was queued now rather than already under way). Raises SummaryError."""
    la = _running_returns(user, organisation)
    round_ = (
        ReturnRound.objects.filter(pk=int(round_id), la=la, year=year).first() if round_id.isdigit() else None
    )
    if round_ is None or round_.tag_info.key_stage != key_stage:
        raise Http404("No such return round.")
    _publication, queued = summaries.request_publication(round_, actor=user, ip=ip)
    return round_, queued
