"""Estimates pages: a school's estimates (its year groups' expected outcomes for every reader of its
reports; each pupil's for named roles), one pupil's distributions, and the national fit with its
calibration report. Excel with ``?format=xlsx``.

Thin: each view checks the role for the school, then calls one service. Looking at pupils' estimates,
or downloading them, goes in the audit log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from keystage.accounts import policy
from keystage.audit.log import client_address, record
from keystage.audit.models import AuditAction
from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.report import marks
from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.reports.charts import bars_svg
from keystage.core.results.kinds import academic_year_name
from keystage.core.roles import Action
from keystage.estimates import downloads, services
from keystage.estimates.models import EstimatesFit, FitStatus, Transition
from keystage.organisations.models import Organisation, School

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _school(request: HttpRequest, org_id: int) -> School:
    organisation = get_object_or_404(Organisation, pk=org_id).specific()
    if not isinstance(organisation, School):
        raise Http404("Estimates are per school.")
    policy.require(request.user, Action.VIEW_REPORTS, organisation)
    return organisation


def _choices(request: HttpRequest, school: School) -> dict[str, Any]:
    try:
        level = int(request.GET.get("level", "50"))
    except ValueError:
        level = 50
    stages = services.stages_for(school)
    wanted = request.GET.get("stage", "")
    stage = next((st for st in stages if st.target.lower() == wanted.lower()), stages[0])
    return {
        "level": level if level in LEVELS else 50,
        "contextual": request.GET.get("contextual") == "1",
        "outcome_key": request.GET.get("outcome", "")[:60],
        "stage": stage,
        "stages": stages,
    }


def chart_labels(labels: tuple[str, ...], *, kind: str) -> list[str]:
    """Bands named by where they start on the chart ("45" for "45 to under 50", "<85" for "under 85");
    the table beside it names them in full."""
    if kind != "band":
        return list(labels)
    return [
        ("<" + label.split(" ")[1])
        if label.startswith("under ")
        else label.split(" ")[0] + ("+" if label.endswith("or more") else "")
        for label in labels
    ]


def _axis(kind: str) -> str:
    return "Band (from)" if kind == "band" else "Grade"


def _levels() -> list[tuple[int, str]]:
    return list(LEVELS.items())


@login_required
@require_GET
def school_estimates(request: HttpRequest, org_id: int) -> HttpResponse:
    school = _school(request, org_id)
    named = policy.sees_pupils(request.user, school)
    chosen = _choices(request, school)
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("order") == "desc"
    page = services.estimates_page(
        school,
        outcome_key=chosen["outcome_key"],
        level=chosen["level"],
        contextual=chosen["contextual"],
        transition=chosen["stage"].transition,
        with_pupils=named,
        search=search,
        sort=sort,
        descending=descending,
    )
    context: dict[str, Any] = {
        "school": school,
        "named": named,
        "page": page,
        "levels": _levels(),
        "level": chosen["level"],
        "level_label": LEVELS[chosen["level"]],
        "contextual": chosen["contextual"],
        "has_contextual": services.latest_fit(chosen["stage"].transition, contextual=True) is not None,
        "stage": chosen["stage"],
        "stages": chosen["stages"],
        "search": search,
        "sort": sort,
        "descending": descending,
    }
    if page is None:
        return render(request, "estimates/none.html", context, status=404)
    download = request.GET.get("format") == "xlsx"
    # The workbook holds every pupil whatever the search, so any download by a named reader is audited.
    if named and (page.rows or (download and page.found.pupils.height)):
        record(
            AuditAction.REPORT_DOWNLOADED if download else AuditAction.PUPILS_VIEWED,
            actor=request.user,
            organisation=school,
            subject=page.found.stage.title + (" (xlsx)" if download else f": {page.outcome.name}"),
            ip_address=client_address(request),
        )
    if download:
        response = HttpResponse(downloads.estimates_workbook(school, page, named=named), content_type=XLSX)
        name = downloads.file_name(school, page.found.stage.target)
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    outcome = page.outcome
    everyone = page.cohort[-1] if page.cohort else None
    kind = outcome.model.outcome.kind
    mark_columns = [
        (f"chance_{i}", f"Chance of {label}") for i, (label, _) in enumerate(marks(outcome), start=1)
    ]
    columns = [
        ("name", "Name", False),
        ("nc_year", "Year", True),
        ("prior", f"{page.found.prior_name}", True),
        ("expected", f"Expected {outcome.name}", True),
        *((key, label, True) for key, label in mark_columns),
    ]
    context.update(
        suppress_below=0 if named else SUPPRESS_BELOW,
        cohort=[(row, row.suppressed_for(sees_pupils=named)) for row in page.cohort],
        kind=kind,
        mark_labels=[label for label, _ in marks(outcome)],
        mark_columns=mark_columns,
        columns=columns,
        year_name=academic_year_name(page.found.academic_year) if page.found.academic_year else "",
        fit_pupils=f"{page.found.fit.pupils:,}",
        outcomes=[(o.key, o.name) for o in page.found.outcomes],
        chart=bars_svg(
            chart_labels(outcome.model.outcome.labels, kind=kind),
            [("Expected share of pupils", list(everyone.distribution))],
            title=f"{outcome.name}: the expected spread of outcomes of the school's pupils",
            x_label=_axis(kind),
            y_label="Expected share of pupils",
        )
        if everyone and everyone.with_prior and not everyone.suppressed_for(sees_pupils=named)
        else "",
        distribution=list(zip(outcome.model.outcome.labels, everyone.distribution, strict=True))
        if everyone
        else [],
    )
    return render(request, "estimates/school.html", context)


@login_required
@require_GET
def pupil_estimates(request: HttpRequest, org_id: int, upn: str) -> HttpResponse:
    school = _school(request, org_id)
    if not policy.sees_pupils(request.user, school):
        raise PermissionDenied("A pupil's estimates need a named role.")
    chosen = _choices(request, school)
    found = services.pupil_estimates(
        school,
        upn[:13],
        level=chosen["level"],
        contextual=chosen["contextual"],
        transition=chosen["stage"].transition,
    )
    if found is None:
        raise Http404("No such pupil on this school's roll, or no estimates yet.")
    estimates, pupil, outcomes = found
    record(
        AuditAction.PUPILS_VIEWED,
        actor=request.user,
        organisation=school,
        subject=f"{estimates.stage.title} of pupil {pupil['upn']}",
        ip_address=client_address(request),
    )
    cards = [
        {
            "key": o.key,
            "name": o.name,
            "kind": o.kind,
            "expected": [o.expected.get(level) for level in LEVELS],
            "chances": [(label, round(100 * chance)) for label, chance in o.chances],
            "rows": list(zip(o.labels, o.distribution, strict=True)),
            # Charts for the first few outcomes; each has its table.
            "chart": bars_svg(
                chart_labels(o.labels, kind=o.kind),
                [(f"Chance ({LEVELS[chosen['level']].lower()})", list(o.distribution))],
                title=f"{o.name}: the chance of each {o.kind}",
                x_label=_axis(o.kind),
                y_label="Chance",
                ident=f"chart-{index}",
            )
            if index < 3
            else "",
        }
        for index, o in enumerate(outcomes)
    ]
    return render(
        request,
        "estimates/pupil.html",
        {
            "school": school,
            "pupil": pupil,
            "cards": cards,
            "fit": estimates.fit,
            "levels": _levels(),
            "level": chosen["level"],
            "level_label": LEVELS[chosen["level"]],
            "contextual": chosen["contextual"],
            "stage": chosen["stage"],
        },
    )


@login_required
@require_GET
def national(request: HttpRequest) -> HttpResponse:
    """The fits and, for one outcome, its model and calibration on held-out schools."""
    fits = list(EstimatesFit.objects.all()[:10])
    fit_id = request.GET.get("fit", "")
    transition = request.GET.get("transition", Transition.KS2_KS4)
    if transition not in Transition.values:
        transition = Transition.KS2_KS4
    fit = (
        EstimatesFit.objects.filter(pk=int(fit_id), status=FitStatus.COMPLETE).first()
        if fit_id.isascii() and fit_id.isdigit() and len(fit_id) < 12
        else services.latest_fit(transition)
    )
    outcomes = services.fitted_outcomes(fit) if fit else []
    key = request.GET.get("outcome", "a8")
    outcome = next((o for o in outcomes if o.key == key), outcomes[0] if outcomes else None)
    return render(
        request,
        "estimates/national.html",
        {
            "fits": fits,
            "fit": fit,
            "outcomes": outcomes,
            "outcome": outcome,
            # A group of fewer than SUPPRESS_BELOW pupils is not shown (its figures could point at pupils).
            "calibration": [row for row in outcome.calibration.to_dicts() if row["pupils"] >= SUPPRESS_BELOW]
            if outcome
            else [],
            "levels": [(label, outcome.spread.shifts[level]) for level, label in LEVELS.items()]
            if outcome
            else [],
            # Each covariate's coefficient and standard error (None: not estimated).
            "coefficients": [
                (name, value, outcome.model.standard_errors.get(name))
                for name, value in zip(outcome.model.covariates, outcome.model.coefficients, strict=True)
            ]
            if outcome
            else [],
            "pieces": list(
                zip(outcome.model.knots, outcome.model.knots[1:], outcome.model.slopes, strict=False)
            )
            if outcome
            else [],
            "staff": policy.is_platform_staff(request.user),
            "transitions": [(t.value, t.label) for t in Transition],
            "transition": fit.transition if fit else transition,
        },
    )


@login_required
@require_POST
def request_fit(request: HttpRequest) -> HttpResponse:
    if not policy.is_platform_staff(request.user):
        raise PermissionDenied("Only platform administrators fit estimates.")
    try:
        years = [int(part) for part in request.POST.get("years", "").replace(",", " ").split()]
    except ValueError:
        years = []
    if not years or any(not 2000 <= y <= 2100 for y in years):
        messages.error(request, "Give the years to fit on as numbers, e.g. 2025 2026.")
        return redirect("estimates:national")
    try:
        wanted = request.POST.get("transition", Transition.KS2_KS4)
        fit, new = services.request_fit(
            transition=wanted if wanted in Transition.values else Transition.KS2_KS4,
            years=years,
            contextual=request.POST.get("contextual") == "1",
            requested_by=request.user,
            source="page",
        )
    except services.EstimatesServiceError as error:
        messages.error(request, str(error))
        return redirect("estimates:national")
    if new:
        messages.success(
            request, f"Queued {fit}. The worker fits it; this page shows it when it is complete."
        )
    else:
        messages.info(request, f"A fit is already waiting: {fit}.")
    return redirect("estimates:national")
