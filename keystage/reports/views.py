"""Report pages: the index, each organisation's dashboard per key stage and year, Explore data in detail,
the scatter plot, the pupil list and each pupil's figures (named roles), schools side by side (trusts
and LAs), KS4 subjects, the inspection summary, the LA's summary reports for its schools, and the
glossary. Each report also downloads as Excel (``?format=xlsx``) and PDF (``?format=pdf``).

Thin: each view parses the request, calls one read service (keystage.reports.services: it checks the
person's role for the organisation, writes the audit record when pupils are shown, and returns what
that person may see), and renders the page, workbook or PDF.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
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
from django.views.decorators.http import require_GET, require_POST

from keystage.audit.log import client_address
from keystage.core.reports.breakdown import Filters
from keystage.core.reports.catalogue import GROUP_LABELS, KEY_STAGE_LABELS, groups_for
from keystage.core.results.kinds import academic_year_name
from keystage.organisations.models import Organisation
from keystage.reports import downloads, exports, pdf, services
from keystage.reports import summaries as la_summaries

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _organisation(org_id: int) -> Organisation:
    return get_object_or_404(Organisation, pk=org_id).specific()


def _key_stage(key_stage: str, year: int) -> None:
    if key_stage not in KEY_STAGE_LABELS or not 2000 <= year <= 2100:
        raise Http404("No such report.")


def _query_without_format(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("format", None)
    return query.urlencode()


def _no_figures(request: HttpRequest, missing: services.NoReport) -> HttpResponse:
    context = {**missing.heading.context(), "message": str(missing)}
    return render(request, "reports/no_figures.html", context, status=404)


def _xlsx(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _wants(request: HttpRequest, kind: str) -> bool:
    return request.GET.get("format") == kind


def _file(request: HttpRequest) -> str:
    """The file asked for: "xlsx", "pdf", or "" for the page."""
    wanted = request.GET.get("format", "")
    return wanted if wanted in ("xlsx", "pdf") else ""


def _drawing(request: HttpRequest) -> bool:
    """Whether this is the worker drawing a queued PDF (as its requester), which it draws now."""
    return bool(getattr(request, exports.DRAWING_EXPORT, False))


def _queued(request: HttpRequest, rows: int) -> bool:
    return exports.queued(rows, drawing=_drawing(request))


def _pdf(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    what: str,
    queued: bool,
    personal: bool = False,
) -> HttpResponse:
    """The page as a PDF: drawn now, or, ``queued`` (past KEYSTAGE_PDF_ROWS_IN_REQUEST rows), for the
    worker, with the person sent to the export's page (which updates itself when the PDF is ready)."""
    organisation, key_stage, year = context["organisation"], context["key_stage"], context["year"]
    name = downloads.file_name(organisation, key_stage, year, what)
    if queued:
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
    return render(request, "reports/index.html", {"entries": services.reports_index(request.user)})


@login_required
@require_GET
def glossary(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/glossary.html")


@login_required
@require_GET
def dashboard(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    try:
        page = services.dashboard_page(request.user, _organisation(org_id), key_stage, year)
    except services.NoReport as missing:
        return _no_figures(request, missing)
    report = page.report
    if _wants(request, "xlsx"):
        return _xlsx(
            downloads.dashboard_workbook(report),
            downloads.file_name(report.organisation, key_stage, year, "summary"),
        )
    context = {**page.heading.context(), "report": report}
    if _wants(request, "pdf"):
        queued = _queued(request, len(report.headlines))
        return _pdf(request, "reports/dashboard.html", context, what="summary", queued=queued)
    return render(request, "reports/dashboard.html", context)


@login_required
@require_GET
def explore(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    filters = Filters.parse({key: request.GET.getlist(key) for key in request.GET}, groups_for(key_stage))
    try:
        page = services.explore_page(
            request.user,
            _organisation(org_id),
            key_stage,
            year,
            measure=request.GET.get("measure", ""),
            filters=filters,
            switch=request.GET.get("comparator") == "like",
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    organisation, report = page.heading.organisation, page.report
    if _wants(request, "xlsx"):
        data = downloads.explore_workbook(organisation, key_stage, year, report)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, report.measure.key))
    context = {
        **page.heading.context(),
        "report": report,
        "filter_groups": page.filter_groups,
        "source": report.source,
        "group_labels": GROUP_LABELS,
        "download_query": _query_without_format(request),
    }
    if _wants(request, "pdf"):
        queued = _queued(request, len(report.rows))
        return _pdf(request, "reports/explore.html", context, what=report.measure.key, queued=queued)
    return render(request, "reports/explore.html", context)


@login_required
@require_GET
def scatter(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    file = _file(request)
    try:
        page = services.scatter_page(
            request.user,
            _organisation(org_id),
            key_stage,
            year,
            y=request.GET.get("y", ""),
            group=request.GET.get("highlight", "disadvantaged"),
            value=request.GET.get("value", ""),
            file=file,
            drawing_export=_drawing(request),
            ip=client_address(request),
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    organisation, plot = page.heading.organisation, page.plot
    if file == "xlsx":
        data = downloads.scatter_workbook(
            organisation, key_stage, year, plot, page.chosen_label, page.rows, page.named
        )
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, f"scatter-{plot.y.key}"))
    context = {
        **page.heading.context(),
        "plot": plot,
        "svg": page.svg,
        "rows": page.rows,
        "named": page.named,
        "chosen_label": page.chosen_label,
        "y_options": page.y_options,
        "highlight_options": page.highlight_options,
        "value_options": page.value_options,
        "download_query": _query_without_format(request),
    }
    if file == "pdf":
        # An anonymised role's PDF is the chart alone, but its points cost as much: queued alike.
        return _pdf(
            request,
            "reports/scatter.html",
            context,
            what=f"scatter-{plot.y.key}",
            queued=page.queued,
            personal=page.named,
        )
    return render(request, "reports/scatter.html", context)


@login_required
@require_GET
def schools(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    sort = request.GET.get("sort", "")
    descending = request.GET.get("order", "desc") != "asc"
    try:
        page = services.schools_page(
            request.user, _organisation(org_id), key_stage, year, sort=sort, descending=descending
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    organisation = page.heading.organisation
    if _wants(request, "xlsx"):
        data = downloads.schools_workbook(organisation, key_stage, year, page.rows, page.shown, page.source)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, "schools"))
    context = {
        **page.heading.context(),
        "rows": page.rows,
        "columns": page.columns,
        "own": page.own,
        "sort": sort,
        "descending": descending,
        "source": page.source,
        "download_query": _query_without_format(request),
    }
    if _wants(request, "pdf"):
        queued = _queued(request, len(page.rows))
        return _pdf(request, "reports/schools.html", context, what="schools", queued=queued)
    return render(request, "reports/schools.html", context)


@login_required
@require_GET
def subjects(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """KS4 subjects: entries, average points and subject value added against national, for all pupils
    or one pupil group; and one subject's grades against the national distribution."""
    _key_stage(key_stage, year)
    if key_stage != services.SUBJECTS_KEY_STAGE:
        raise Http404("Subject reports are for KS4.")
    group, _, value = request.GET.get("pupils", "all:all").partition(":")
    try:
        page = services.subjects_page(
            request.user,
            _organisation(org_id),
            year,
            group=group,
            value=value,
            subject=request.GET.get("subject", ""),
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    organisation, report = page.heading.organisation, page.report
    if _wants(request, "xlsx"):
        data = downloads.subjects_workbook(organisation, year, report)
        return _xlsx(data, downloads.file_name(organisation, key_stage, year, "subjects"))
    context = {
        **page.heading.context(),
        "report": report,
        "chart": page.chart,
        "source": report.source,
        "pupil_groups": page.pupil_groups,
        "chosen_group": report.chosen_group,
        "group_name": report.group_name,
        "download_query": _query_without_format(request),
    }
    if _wants(request, "pdf"):
        queued = _queued(request, len(report.rows))
        return _pdf(request, "reports/subjects.html", context, what="subjects", queued=queued)
    return render(request, "reports/subjects.html", context)


@login_required
@require_GET
def inspection(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """A school's inspection-style summary: headline measures with their place among schools and
    three years' trend, and the strengths and areas to investigate that fixed rules draw from them."""
    _key_stage(key_stage, year)
    try:
        page = services.inspection_page(request.user, _organisation(org_id), key_stage, year)
    except services.NoReport as missing:
        return _no_figures(request, missing)
    report = page.report
    if _wants(request, "xlsx"):
        data = downloads.inspection_workbook(report)
        return _xlsx(data, downloads.file_name(report.school, key_stage, year, "inspection-summary"))
    context = {
        **page.heading.context(),
        "report": report,
        "source": report.source,
        "year_names": report.year_names,
    }
    if _wants(request, "pdf"):
        queued = _queued(request, 0)
        return _pdf(request, "reports/inspection.html", context, what="inspection-summary", queued=queued)
    return render(request, "reports/inspection.html", context)


def _summaries_key_stage(key_stage: str, year: int) -> None:
    _key_stage(key_stage, year)
    if key_stage not in la_summaries.SUMMARY_KEY_STAGES:
        raise Http404("Summary reports are for the key stages LAs collect returns of.")


@login_required
@require_GET
def summaries(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    """The LA's summary reports for its schools: preview any school's, publish them all through a
    return round of the key stage, and see what was published."""
    _summaries_key_stage(key_stage, year)
    organisation = _organisation(org_id)
    try:
        if _wants(request, "pdf"):
            school, data = services.summary_preview(
                request.user,
                organisation,
                key_stage,
                year,
                request.GET.get("school", ""),
                ip=client_address(request),
            )
            return _pdf_response(data, downloads.file_name(school, key_stage, year, "summary-report"))
        page = services.summaries_page(request.user, organisation, key_stage, year)
    except services.NoReport as missing:
        return _no_figures(request, missing)
    context = {
        **page.heading.context(),
        "schools": page.schools,
        "rounds": page.rounds,
        "publications": page.publications,
    }
    return render(request, "reports/summaries.html", context)


@login_required
@require_POST
def publish_summaries(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _summaries_key_stage(key_stage, year)
    try:
        round_, queued = services.publish_summaries(
            request.user,
            _organisation(org_id),
            key_stage,
            year,
            request.POST.get("round", ""),
            ip=client_address(request),
        )
    except la_summaries.SummaryError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Publishing each school's summary report through {round_}"
            + ("." if queued else ": already under way."),
        )
    return redirect("reports:summaries", org_id, key_stage, year)


@login_required
@require_GET
def pupils(request: HttpRequest, org_id: int, key_stage: str, year: int) -> HttpResponse:
    _key_stage(key_stage, year)
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("order") == "desc"
    file = _file(request)
    try:
        page = services.pupil_list_page(
            request.user,
            _organisation(org_id),
            key_stage,
            year,
            search=search,
            sort=sort,
            descending=descending,
            file=file,
            drawing_export=_drawing(request),
            ip=client_address(request),
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    school = page.school
    if file == "xlsx":
        return _xlsx(
            downloads.pupils_workbook(school, key_stage, year, page.rows, page.columns, search),
            downloads.file_name(school, key_stage, year, "pupils"),
        )
    context = {
        **page.heading.context(),
        "rows": page.rows,
        "columns": page.columns,
        "search": search,
        "sort": sort,
        "descending": descending,
    }
    if file == "pdf":
        return _pdf(request, "reports/pupils.html", context, what="pupils", queued=page.queued, personal=True)
    return render(request, "reports/pupils.html", context)


@login_required
@require_GET
def pupil(request: HttpRequest, org_id: int, key_stage: str, year: int, upn: str) -> HttpResponse:
    _key_stage(key_stage, year)
    file = _wants(request, "pdf")
    try:
        page = services.pupil_page(
            request.user,
            _organisation(org_id),
            key_stage,
            year,
            upn[:13],
            pdf=file,
            ip=client_address(request),
        )
    except services.NoReport as missing:
        return _no_figures(request, missing)
    context = {**page.heading.context(), "pupil": page.pupil}
    if file:
        what = f"pupil-{page.pupil['upn']}"
        return _pdf(
            request, "reports/pupil.html", context, what=what, queued=_queued(request, 0), personal=True
        )
    return render(request, "reports/pupil.html", context)


@login_required
@require_GET
def export(request: HttpRequest, export_id: int) -> HttpResponse:
    """A queued PDF's own page: being prepared (it updates itself), ready to download, or why not."""
    item = exports.export_of(request.user, export_id)
    if _wants(request, "json"):
        return JsonResponse({"done": not item.is_queued, "reload": True})
    address = urlsplit(item.path)
    query = [(k, v) for k, v in parse_qsl(address.query) if k != "format"]
    back = address.path + (f"?{urlencode(query)}" if query else "")
    return render(request, "reports/export.html", {"export": item, "back": back})


@login_required
@require_GET
def export_download(request: HttpRequest, export_id: int) -> HttpResponseBase:
    item = exports.export_to_download(request.user, export_id, ip=client_address(request))
    if not item.downloadable:
        return redirect("reports:export", item.pk)
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.filename)
