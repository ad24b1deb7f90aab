"""The organisation page: who it is, its schools, and what the signed-in person can do there."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keystage.accounts import policy
from keystage.core.roles import Action, OrgKind
from keystage.organisations.models import Organisation


@login_required
def detail(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    policy.require(request.user, Action.VIEW_ORGANISATION, organisation)
    specific = organisation.specific()
    schools = (
        organisation.schools().select_related("la", "trust").order_by("name")
        if organisation.org_kind is not OrgKind.SCHOOL
        else None
    )
    return render(
        request,
        "organisations/detail.html",
        {
            "organisation": organisation,
            "specific": specific,
            "schools": schools,
            "my_roles": policy.roles_in(request.user, organisation),
            "can_manage_users": policy.can(request.user, Action.MANAGE_USERS, organisation),
            "can_view_audit": policy.can(request.user, Action.VIEW_AUDIT_LOG, organisation),
            # A subject access request is answered per school, by those who see its pupils.
            "can_export_pupil": organisation.org_kind is OrgKind.SCHOOL
            and policy.can(request.user, Action.VIEW_PUPIL_DATA, organisation),
        },
    )
