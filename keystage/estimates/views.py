"""Estimates pages: a school's estimates (its year groups' expected outcomes for every reader of its
reports; each pupil's for named roles), one pupil's distributions, and the national fit with its
calibration report. Excel with ``?format=xlsx``.

Thin: each view parses the request, calls one service (keystage.estimates.services: it checks the
person's role for the school, audits each look at pupils' estimates or download of them, and returns
what that person may see), and renders.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from keystage.audit.log import client_address
from keystage.core.estimates.ambition import LEVELS
from keystage.core.estimates.report import marks
from keystage.core.measures.group_figures import SUPPRESS_BELOW
from keystage.core.results.kinds import academic_year_name
from keystage.estimates import downloads, services
from keystage.estimates.fitting import EstimatesServiceError
from keystage.estimates.models import Transition
from keystage.organisations.models import Organisation

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _organisation(org_id: int) -> Organisation:
    return get_object_or_404(Organisation, pk=org_id).specific()


def _level(request: HttpRequest) -> int:
    """The ambition level asked for (50 when it is not a number; the service reads an unknown one as 50)."""
    try:
        return int(request.GET.get("level", "50"))
    except ValueError:
        return 50


def _levels() -> list[tuple[int, str]]:
    return list(LEVELS.items())


def _chosen(choices: services.Choices) -> dict[str, Any]:
    return {
        "levels": _levels(),
        "level": choices.level,
        "level_label": choices.level_label,
        "contextual": choices.contextual,
        "stage": choices.stage,
    }


@login_required
@require_GET
def school_estimates(request: HttpRequest, org_id: int) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("order") == "desc"
    download = request.GET.get("format") == "xlsx"
    shown = services.school_page(
        request.user,
        _organisation(org_id),
        level=_level(request),
        contextual=request.GET.get("contextual") == "1",
        stage=request.GET.get("stage", ""),
        outcome_key=request.GET.get("outcome", "")[:60],
        search=search,
        sort=sort,
        descending=descending,
        download=download,
        ip=client_address(request),
    )
    school, named, page = shown.school, shown.named, shown.page
    context: dict[str, Any] = {
        **_chosen(shown.choices),
        "school": school,
        "named": named,
        "page": page,
        "has_contextual": shown.has_contextual,
        "stages": shown.choices.stages,
        "search": search,
        "sort": sort,
        "descending": descending,
    }
    if page is None:
        return render(request, "estimates/none.html", context, status=404)
    if download:
        response = HttpResponse(downloads.estimates_workbook(school, page, named=named), content_type=XLSX)
        name = downloads.file_name(school, page.found.stage.target)
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    outcome = page.outcome
    mark_columns = [
        (f"chance_{i}", f"Chance of {label}") for i, (label, _) in enumerate(marks(outcome), start=1)
    ]
    context.update(
        suppress_below=0 if named else SUPPRESS_BELOW,
        cohort=shown.cohort,
        kind=outcome.model.outcome.kind,
        mark_labels=[label for label, _ in marks(outcome)],
        mark_columns=mark_columns,
        columns=[
            ("name", "Name", False),
            ("nc_year", "Year", True),
            ("prior", f"{page.found.prior_name}", True),
            ("expected", f"Expected {outcome.name}", True),
            *((key, label, True) for key, label in mark_columns),
        ],
        year_name=academic_year_name(page.found.academic_year) if page.found.academic_year else "",
        fit_pupils=f"{page.found.fit.pupils:,}",
        outcomes=[(o.key, o.name) for o in page.found.outcomes],
        chart=shown.chart,
        distribution=shown.distribution,
    )
    return render(request, "estimates/school.html", context)


@login_required
@require_GET
def pupil_estimates(request: HttpRequest, org_id: int, upn: str) -> HttpResponse:
    shown = services.pupil_page(
        request.user,
        _organisation(org_id),
        upn[:13],
        level=_level(request),
        contextual=request.GET.get("contextual") == "1",
        stage=request.GET.get("stage", ""),
        ip=client_address(request),
    )
    context = {
        **_chosen(shown.choices),
        "school": shown.school,
        "pupil": shown.pupil,
        "cards": shown.cards,
        "fit": shown.found.fit,
    }
    return render(request, "estimates/pupil.html", context)


@login_required
@require_GET
def national(request: HttpRequest) -> HttpResponse:
    """The fits and, for one outcome, its model and calibration on held-out schools."""
    shown = services.national_page(
        request.user,
        fit_id=request.GET.get("fit", ""),
        transition=request.GET.get("transition", Transition.KS2_KS4),
        outcome_key=request.GET.get("outcome", "a8"),
    )
    context = {
        "fits": shown.fits,
        "fit": shown.fit,
        "outcomes": shown.outcomes,
        "outcome": shown.outcome,
        "calibration": shown.calibration,
        "levels": shown.levels,
        "coefficients": shown.coefficients,
        "pieces": shown.pieces,
        "staff": shown.staff,
        "transitions": [(t.value, t.label) for t in Transition],
        "transition": shown.transition,
    }
    return render(request, "estimates/national.html", context)


@login_required
@require_POST
def request_fit(request: HttpRequest) -> HttpResponse:
    try:
        fit, new = services.fit_from_page(
            request.user,
            transition=request.POST.get("transition", Transition.KS2_KS4),
            years=request.POST.get("years", ""),
            contextual=request.POST.get("contextual") == "1",
        )
    except EstimatesServiceError as error:
        messages.error(request, str(error))
        return redirect("estimates:national")
    if new:
        messages.success(
            request, f"Queued {fit}. The worker fits it; this page shows it when it is complete."
        )
    else:
        messages.info(request, f"A fit is already waiting: {fit}.")
    return redirect("estimates:national")
