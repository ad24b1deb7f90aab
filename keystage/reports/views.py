"""Report pages: the index, each organisation's dashboard per key stage and year, Explore data in detail,
the scatter plot, the pupil list and each pupil's figures (named roles), schools side by side (trusts
and LAs), KS4 subjects, the inspection summary, the LA's summary reports for its schools, and the
glossary. Each report also downloads as Excel (``?format=xlsx``) and PDF (``?format=pdf``).

Thin: each view checks the role for the organisation (``policy``), then calls one service. Governors see
the dashboard's headline measures only; anonymised roles never see a pupil's identity; pupil pages need
a named role, and every look at them is in the audit log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from keystage.accounts import policy
from keystage.audit.log import client_address, record
from keystage.audit.models import AuditAction
from keystage.core.reports.breakdown import Filters
from keystage.core.reports.catalogue import (
    GROUP_LABELS,
    KEY_STAGE_LABELS,
    group_values,
    groups_for,
    value_label,
)
from keystage.core.reports.charts import Point, bars_svg, scatter_svg
from keystage.core.results.kinds import academic_year_name
from keystage.core.roles import Action, OrgKind
from keystage.organisations.models import LocalAuthority, Organisation, School
from keystage.reports import dashboard as dashboards
from keystage.reports import downloads, exports, figures, pdf, side_by_side
from keystage.reports import explore as explore_reports
from keystage.reports import inspection_summary as inspections
from keystage.reports import pupils as pupil_reports
from keystage.reports import scatter as scatter_plots
from keystage.reports import subjects as subject_reports
from keystage.reports import summaries as la_summaries
from keystage.reports.figures import NoFigures
from keystage.reports.models import ExportStatus, SummaryPublication
from keystage.returns.models import ReturnRound

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _organisation(request: HttpRequest, org_id: int, *, governor: bool = False) -> Organisation:
    organisation = get_object_or_404(Organisation, pk=org_id).specific()
    if governor and policy.can(request.user, Action.VIEW_GOVERNOR_REPORTS, organisation):
        return organisation
    policy.require(request.user, Action.VIEW_REPORTS, organisation)
    return organisation


def _key_stage(key_stage: str, year: int) -> None:
    if key_stage not in KEY_STAGE_LABELS or not 2000 <= year <= 2100:
        raise Http404("No such report.")


def _context(request: HttpRequest, organisation: Organisation, key_stage: str, year: int) -> dict[str, Any]:
    """What every report page's heading and navigation need."""
    full = policy.can(request.user, Action.VIEW_REPORTS, organisation)
    years = figures.years_with_figures(key_stage)
    return {
        "organisation": organisation,
        "is_school": isinstance(organisation, School),
        "key_stage": key_stage,
        "key_stage_label": KEY_STAGE_LABELS[key_stage],
        "year": year,
        "year_name": academic_year_name(year),
        "years": [(y, academic_year_name(y)) for y in years],
        "full_reports": full,
        "sees_pupils": isinstance(organisation, School) and policy.sees_pupils(request.user, organisation),
        "has_scatter": key_stage in scatter_plots.SCATTER_X and full,
        "runs_returns": isinstance(organisation, LocalAuthority)
        and key_stage in la_summaries.SUMMARY_KEY_STAGES
        and policy.can(request.user, Action.RUN_LA_COLLECTIONS, organisation),
        "no_progress8": figures.no_progress8_words(key_stage, year),
    }


def _query_without_format(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("format", None)
    return query.urlencode()


def _no_figures(request: HttpRequest, context: dict[str, Any], error: NoFigures) -> HttpResponse:
    return render(request, "reports/no_figures.html", {**context, "message": str(error)}, status=404)


def _xlsx(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _wants(request: HttpRequest, kind: str) -> bool:
    return request.GET.get("format") == kind


def _queues(request: HttpRequest, rows: int) -> bool:
    """Whether this PDF is drawn by the worker rather than within the request."""
    return exports.heavy(rows) and not getattr(request, exports.DRAWING_EXPORT, False)


def _pdf(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    what: str,
    rows: int,
    personal: bool = False,
) -> HttpResponse:
    """The page as a PDF: drawn now, or, past KEYSTAGE_PDF_ROWS_IN_REQUEST rows, queued for the worker with
    the person sent to the export's page (which updates itself when the PDF is ready)."""
    organisation, key_stage, year = context["organisation"], context["key_stage"], context["year"]
    name = downloads.file_name(organisation, key_stage, year, what)
    if _queues(request, rows):
        title = f"{organisation.name}: {KEY_STAGE_LABELS[key_stage]} {academic_year_name(year)} {what}"
        address = request.get_full_path_info()
        if len(address) > exports.LONGEST_ADDRESS:
            return HttpResponseBadRequest(
                "This address is too long to prepare a PDF of. Choose fewer filters."
            )
        export = exports.request_export(
            request.user,
            organisation,
            address,
            title=title,
            filename=f"{name}.pdf",
            personal=personal,
            ip=client_address(request),
        )
        return redirect("reports:export", export.pk)
    return _pdf_response(pdf.render_pdf(template, {**context, "personal": personal}, request=request), name)


def _pdf_response(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every organisation whose reports the person can read, with its key stages and years."""
    entries = []
    for organisation, _roles in policy.organisations_of(request.user):
        specific = organisation.specific()
        full = policy.can(request.user, Action.VIEW_REPORTS, specific)
        if not full and not policy.can(request.user, Action.VIEW_GOVERNOR_REPORTS, specific):
            continue
        schools = []
        if full and specific.org_kind is not OrgKind.SCHOOL:
            schools = [
                (school, figures.key_stages_of(school)) for school in specific.schools().order_by("name")
            ]
        entries.append(
            {"organisation": specific, "key_stages": figures.key_stages_of(specific), "schools": schools}
        )
    return render(request, "reports/index.html", {"entries": entries})


@login_required
@require_GET
def glossary(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/glossary.html")


@login_required
@require_GET
def dashboard(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    organisation = _organisation(request, org_id, governor=True)
    context = _context(request, organisation, key_stage, year)
    try:
        report = dashboards.dashboard(organisation, key_stage, year)
    except NoFigures as error:
        return _no_figures(request, context, error)
    if not context["full_reports"]:  # a governor: the headline figures, without places among schools
        report = replace(
            report, headlines=[replace(h, percentile=None, quintile=None) for h in report.headlines]
        )
    if _wants(request, "xlsx"):
        return _xlsx(
            downloads.dashboard_workbook(report),
            downloads.file_name(report.organisation, key_stage, year, "summary"),
        )
    context["report"] = report
    if _wants(request, "pdf"):
        return _pdf(request, "reports/dashboard.html", context, what="summary", rows=len(report.headlines))
    return render(request, "reports/dashboard.html", context)


@login_required
@require_GET
def explore(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    organisation = _organisation(request, org_id)
    context = _context(request, organisation, key_stage, year)
    groups = groups_for(key_stage)
    filters = Filters.parse({key: request.GET.getlist(key) for key in request.GET}, groups)
    switch = request.GET.get("comparator") == "like"
    try:
        report = explore_reports.explore(
            organisation, key_stage, year, request.GET.get("measure", ""), filters, switch=switch
        )
    except NoFigures as error:
        return _no_figures(request, context, error)
    if _wants(request, "xlsx"):
        data = downloads.explore_workbook(organisation, key_stage, year, report)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, report.measure.key))
    filter_groups = [
        {
            "group": group,
            "label": GROUP_LABELS[group],
            "options": [
                (v, value_label(group, v), v in report.filters.chosen.get(group, ()))
                for v in group_values(group)
            ],
        }
        for group in groups
    ]
    context.update(
        report=report,
        filter_groups=filter_groups,
        source=report.source,
        group_labels=GROUP_LABELS,
        download_query=_query_without_format(request),
    )
    if _wants(request, "pdf"):
        return _pdf(request, "reports/explore.html", context, what=report.measure.key, rows=len(report.rows))
    return render(request, "reports/explore.html", context)


@login_required
@require_GET
def scatter(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    organisation = _organisation(request, org_id)
    context = _context(request, organisation, key_stage, year)
    named = policy.sees_pupils(request.user, organisation)
    group = request.GET.get("highlight", "disadvantaged")
    group = group if group in groups_for(key_stage) else "disadvantaged"
    values = group_values(group)
    value = request.GET.get("value", "")
    value = value if value in values else values[0]
    try:
        run = figures.run_for(key_stage, year)
        plot = scatter_plots.scatter(run, organisation, request.GET.get("y", ""), group, value)
    except NoFigures as error:
        return _no_figures(request, context, error)
    names = (
        pupil_reports.pupil_names(figures.school_ids(organisation), year, (p[0] for p in plot.points))
        if named
        else {}
    )
    base = (
        reverse("reports:pupil", args=[organisation.pk, key_stage, year, "UPN"])
        if isinstance(organisation, School)
        else ""
    )
    points = [
        Point(
            x,
            y,
            highlighted,
            ref=upn if named else "",
            label=f"{names.get(upn, upn)}: {plot.y.format(y)}" if named else "",
        )
        for upn, x, y, highlighted in plot.points
    ]
    chosen_label = value_label(group, value)
    svg = scatter_svg(
        points,
        title=f"{plot.y.label} against prior attainment: {organisation.name}, {academic_year_name(year)}",
        x_label=plot.x_label,
        y_label=plot.y.label,
        highlight=chosen_label.lower(),
        others="other pupils",
        link=(lambda p: base.replace("UPN", p.ref)) if named and base else None,
        zero_line=plot.y.kind == "progress",
    )
    rows = [
        {
            "name": names.get(upn, "") if named else "",
            "upn": upn if named else "",
            "x": x,
            "y": plot.y.format(y),
            "highlighted": h,
        }
        for upn, x, y, h in sorted(plot.points, key=lambda p: (p[1], p[2]))
    ]
    file = "xlsx" if _wants(request, "xlsx") else "pdf" if _wants(request, "pdf") else ""
    if file == "xlsx" and not named:
        raise PermissionDenied("Your role downloads no pupil-level figures.")
    if named and not (file == "pdf" and _queues(request, len(rows))):
        record(
            AuditAction.REPORT_DOWNLOADED if file else AuditAction.PUPILS_VIEWED,
            actor=request.user,
            organisation=organisation,
            subject=f"{KEY_STAGE_LABELS[key_stage]} {academic_year_name(year)} scatter plot"
            + (f" ({file})" if file else ""),
            ip_address=client_address(request),
        )
    if file == "xlsx":
        data = downloads.scatter_workbook(organisation, key_stage, year, plot, chosen_label, rows, named)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, f"scatter-{plot.y.key}"))
    context.update(
        plot=plot,
        svg=svg,
        rows=rows,
        named=named,
        chosen_label=chosen_label,
        y_options=scatter_plots.measures_for_scatter(key_stage, run).values(),
        highlight_options=[(g, GROUP_LABELS[g]) for g in groups_for(key_stage)],
        value_options=[(v, value_label(group, v)) for v in values],
        download_query=_query_without_format(request),
    )
    if file == "pdf":
        return _pdf(
            request,
            "reports/scatter.html",
            context,
            what=f"scatter-{plot.y.key}",
            rows=len(rows),  # an anonymised role's PDF is the chart alone, but its points cost as much
            personal=named,
        )
    return render(request, "reports/scatter.html", context)


@login_required
@require_GET
def schools(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    organisation = _organisation(request, org_id)
    if isinstance(organisation, School):
        raise Http404("A school's own figures are on its dashboard.")
    context = _context(request, organisation, key_stage, year)
    sort = request.GET.get("sort", "")
    descending = request.GET.get("order", "desc") != "asc"
    try:
        rows, shown, own, source = side_by_side.schools_side_by_side(
            organisation, key_stage, year, sort=sort, descending=descending
        )
    except NoFigures as error:
        return _no_figures(request, context, error)
    if _wants(request, "xlsx"):
        data = downloads.schools_workbook(organisation, key_stage, year, rows, shown, source)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, "schools"))
    context.update(
        rows=rows,
        shown=shown,
        own=own,
        sort=sort,
        descending=descending,
        source=source,
        download_query=_query_without_format(request),
    )
    if _wants(request, "pdf"):
        return _pdf(request, "reports/schools.html", context, what="schools", rows=len(rows))
    return render(request, "reports/schools.html", context)


@login_required
@require_GET
def subjects(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """KS4 subjects: entries, average points and subject value added against national, for all pupils
    or one pupil group; and one subject's grades against the national distribution."""
    _key_stage(key_stage, year)
    if key_stage != "ks4":
        raise Http404("Subject reports are for KS4.")
    organisation = _organisation(request, org_id)
    context = _context(request, organisation, key_stage, year)
    group, _, value = request.GET.get("pupils", "all:all").partition(":")
    try:
        report = subject_reports.subjects(
            organisation, year, group=group, value=value, subject=request.GET.get("subject", "")
        )
    except NoFigures as error:
        return _no_figures(request, context, error)
    chart = ""
    if report.chosen is not None:
        chart = bars_svg(
            [g.grade for g in report.grades],
            [
                (organisation.name, [g.share for g in report.grades]),
                ("National", [g.national_share for g in report.grades]),
            ],
            title=f"{report.chosen.name}: grades at {organisation.name} and nationally, "
            f"{academic_year_name(year)}",
            x_label="Grade",
        )
    if _wants(request, "xlsx"):
        data = downloads.subjects_workbook(organisation, year, report)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, "subjects"))
    context.update(
        report=report,
        chart=chart,
        source=report.source,
        pupil_groups=[("all:all", "All pupils")]
        + [
            (f"{g}:{v}", f"{GROUP_LABELS[g]}: {value_label(g, v)}")
            for g in groups_for(key_stage)
            for v in group_values(g)
        ],
        chosen_group=f"{report.group}:{report.value}",
        group_name="All pupils"
        if report.group == "all"
        else f"{GROUP_LABELS[report.group]}: {value_label(report.group, report.value)}",
        download_query=_query_without_format(request),
    )
    if _wants(request, "pdf"):
        return _pdf(request, "reports/subjects.html", context, what="subjects", rows=len(report.rows))
    return render(request, "reports/subjects.html", context)


@login_required
@require_GET
def inspection(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """A school's inspection-style summary: headline measures with their place among schools and
    three years' trend, and the strengths and areas to investigate that fixed rules draw from them."""
    _key_stage(key_stage, year)
    organisation = _organisation(request, org_id)
    if not isinstance(organisation, School):
        raise Http404("The inspection summary is per school.")
    context = _context(request, organisation, key_stage, year)
    try:
        report = inspections.inspection_summary(organisation, key_stage, year)
    except NoFigures as error:
        return _no_figures(request, context, error)
    if _wants(request, "xlsx"):
        data = downloads.inspection_workbook(report)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, "inspection-summary"))
    context.update(
        report=report, source=report.source, year_names=[academic_year_name(y) for y in report.years]
    )
    if _wants(request, "pdf"):
        return _pdf(request, "reports/inspection.html", context, what="inspection-summary", rows=0)
    return render(request, "reports/inspection.html", context)


def _la_running_returns(request: HttpRequest, org_id: int, key_stage: str, year: int) -> LocalAuthority:
    _key_stage(key_stage, year)
    if key_stage not in la_summaries.SUMMARY_KEY_STAGES:
        raise Http404("Summary reports are for the key stages LAs collect returns of.")
    organisation = get_object_or_404(Organisation, pk=org_id).specific()
    if not isinstance(organisation, LocalAuthority):
        raise Http404("Summary reports are published by a local authority.")
    policy.require(request.user, Action.RUN_LA_COLLECTIONS, organisation)
    return organisation


@login_required
@require_GET
def summaries(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """The LA's summary reports for its schools: preview any school's, publish them all through a
    return round of the key stage, and see what was published."""
    la = _la_running_returns(request, org_id, key_stage, year)
    context = _context(request, la, key_stage, year)
    try:
        schools = la_summaries.schools_with_figures(la, key_stage, year)
    except NoFigures as error:
        return _no_figures(request, context, error)
    if _wants(request, "pdf"):
        school = next((s for s in schools if str(s.pk) == request.GET.get("school")), None)
        if school is None:
            raise Http404("That school has no summary report for this key stage and year.")
        user: Any = request.user
        record(
            AuditAction.REPORT_DOWNLOADED,
            actor=request.user,
            organisation=school,
            subject=f"{KEY_STAGE_LABELS[key_stage]} {academic_year_name(year)} summary report (preview)",
            ip_address=client_address(request),
        )
        data = la_summaries.summary_pdf(school, la, key_stage, year, user.full_name or user.email)
        return _pdf_response(data, downloads.file_name(school, key_stage, year, "summary-report"))
    rounds = [r for r in ReturnRound.objects.filter(la=la, year=year) if r.tag_info.key_stage == key_stage]
    context.update(
        schools=schools,
        rounds=rounds,
        publications=SummaryPublication.objects.filter(round__in=rounds).select_related(
            "round", "requested_by"
        )[:10],
        statuses=ExportStatus,
    )
    return render(request, "reports/summaries.html", context)


@login_required
@require_POST
def publish_summaries(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    la = _la_running_returns(request, org_id, key_stage, year)
    chosen = request.POST.get("round", "")
    round_ = (
        ReturnRound.objects.filter(pk=int(chosen), la=la, year=year).first() if chosen.isdigit() else None
    )
    if round_ is None or round_.tag_info.key_stage != key_stage:
        raise Http404("No such return round.")
    try:
        _publication, queued = la_summaries.request_publication(
            round_, actor=request.user, ip=client_address(request)
        )
    except la_summaries.SummaryError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Publishing each school's summary report through {round_}"
            + ("." if queued else ": already under way."),
        )
    return redirect("reports:summaries", la.pk, key_stage, year)


def _pupil_school(request: HttpRequest, org_id: int) -> School:
    organisation = _organisation(request, org_id)
    if not isinstance(organisation, School):
        raise Http404("Pupil lists are per school.")
    if not policy.sees_pupils(request.user, organisation):
        raise PermissionDenied("Pupil-level reports need a named role.")
    return organisation


@login_required
@require_GET
def pupils(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    school = _pupil_school(request, org_id)
    context = _context(request, school, key_stage, year)
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("order") == "desc"
    try:
        run = figures.run_for(key_stage, year)
    except NoFigures as error:
        return _no_figures(request, context, error)
    rows, columns = pupil_reports.pupil_list(run, school, search=search, sort=sort, descending=descending)
    file = "xlsx" if _wants(request, "xlsx") else "pdf" if _wants(request, "pdf") else ""
    if not (file == "pdf" and _queues(request, len(rows))):  # a queued PDF is audited when it is drawn
        record(
            AuditAction.REPORT_DOWNLOADED if file else AuditAction.PUPILS_VIEWED,
            actor=request.user,
            organisation=school,
            subject=f"{KEY_STAGE_LABELS[key_stage]} {academic_year_name(year)} pupil list"
            + (f" ({file})" if file else ""),
            ip_address=client_address(request),
        )
    if file == "xlsx":
        return _xlsx(
            downloads.pupils_workbook(school, key_stage, year, rows, columns, search),
            downloads.file_name(school, key_stage, year, "pupils"),
        )
    context.update(rows=rows, columns=columns, search=search, sort=sort, descending=descending)
    if file == "pdf":
        return _pdf(request, "reports/pupils.html", context, what="pupils", rows=len(rows), personal=True)
    return render(request, "reports/pupils.html", context)


@login_required
@require_GET
def pupil(request: HttpRequest, org_id: int, key_stage: str, year: int, upn: str) -> HttpResponse:
    _key_stage(key_stage, year)
    school = _pupil_school(request, org_id)
    context = _context(request, school, key_stage, year)
    try:
        run = figures.run_for(key_stage, year)
    except NoFigures as error:
        return _no_figures(request, context, error)
    detail = pupil_reports.pupil_detail(run, school, upn[:13])
    if detail is None:
        raise Http404("No such pupil in this school's figures.")
    file = _wants(request, "pdf")
    record(
        AuditAction.REPORT_DOWNLOADED if file else AuditAction.PUPILS_VIEWED,
        actor=request.user,
        organisation=school,
        subject=f"{KEY_STAGE_LABELS[key_stage]} {academic_year_name(year)} pupil {detail['upn']}"
        + (" (pdf)" if file else ""),
        ip_address=client_address(request),
    )
    context["pupil"] = detail
    if file:
        return _pdf(
            request, "reports/pupil.html", context, what=f"pupil-{detail['upn']}", rows=0, personal=True
        )
    return render(request, "reports/pupil.html", context)


@login_required
@require_GET
def export(request: HttpRequest, export_id: int) -> HttpResponse:
    """A queued PDF's own page: being prepared (it updates itself), ready to download, or why not."""
    item = exports.export_of(request.user, export_id)
    if _wants(request, "json"):
        return JsonResponse({"done": item.status != ExportStatus.QUEUED, "reload": True})
    address = urlsplit(item.path)
    query = [(k, v) for k, v in parse_qsl(address.query) if k != "format"]
    back = address.path + (f"?{urlencode(query)}" if query else "")
    return render(request, "reports/export.html", {"export": item, "statuses": ExportStatus, "back": back})


@login_required
@require_GET
def export_download(request: HttpRequest, export_id: int) -> HttpResponseBase:
    item = exports.export_of(request.user, export_id)
    if item.status != ExportStatus.READY or not item.file:
        return redirect("reports:export", item.pk)
    # Read again as the person now: a role taken away since the PDF was drawn takes the PDF away too.
    organisation = item.organisation.specific()
    policy.require(request.user, Action.VIEW_REPORTS, organisation)
    if item.personal:
        policy.require(request.user, Action.VIEW_PUPIL_DATA, organisation)
        record(
            AuditAction.REPORT_DOWNLOADED,
            actor=request.user,
            organisation=item.organisation,
            subject=f"{item.title} (pdf)",
            ip_address=client_address(request),
        )
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.filename)
