"""The subject access page: a school's people who see its pupils find a pupil by UPN and download
everything keystage holds about that pupil at the school (keystage.privacy.subject_access).

Thin: the view checks the role for the school, then calls one service, which writes the audit record.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from keystage.accounts import policy
from keystage.audit.log import client_address
from keystage.core.roles import Action
from keystage.organisations.models import School
from keystage.privacy import subject_access
from keystage.privacy.forms import SubjectAccessForm


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def subject_access_export(request: HttpRequest, org_id: int) -> HttpResponse:
    school = get_object_or_404(School.objects.select_related("la", "trust"), pk=org_id)
    policy.require(request.user, Action.VIEW_PUPIL_DATA, school)
    form = SubjectAccessForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                export = subject_access.export_pupil(
                    school,
                    form.cleaned_data["upn"],
                    actor=request.user,
                    ip=client_address(request),
                    who=policy.can(request.user, Action.VIEW_AUDIT_LOG, school),
                )
            except subject_access.SubjectAccessError as error:
                form.add_error("upn", str(error))
                status = 404
            else:
                response = HttpResponse(export.content, content_type="application/zip")
                response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
                return response
    return render(
        request,
        "privacy/subject_access.html",
        {"school": school, "form": form, "sections": subject_access.SECTIONS.values()},
        status=status,
    )
