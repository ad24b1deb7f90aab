"""An organisation's audit log, for its administrators."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keystage.accounts import policy
from keystage.accounts.models import Membership
from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.roles import Action
from keystage.organisations.models import Organisation

PAGE_SIZE = 50

# Sign-ins belong to a person, not an organisation; each organisation's log shows its own people's.
_SIGN_IN_ACTIONS = [
    AuditAction.LOGIN_SUCCEEDED,
    AuditAction.LOGIN_FAILED,
    AuditAction.LOGIN_THROTTLED,
    AuditAction.LOGOUT,
]


def events_for(organisation: Organisation) -> QuerySet[AuditEvent]:
    """What happened in the organisation, and the sign-ins of the people who hold roles in it."""
    members = Membership.objects.filter(organisation=organisation).values("user__email")
    return AuditEvent.objects.filter(
        Q(organisation=organisation)
        | Q(organisation__isnull=True, action__in=_SIGN_IN_ACTIONS, actor_email__in=members)
    ).order_by("-created_at", "-id")


@login_required
def organisation_log(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    policy.require(request.user, Action.VIEW_AUDIT_LOG, organisation)
    events = events_for(organisation)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/organisation_log.html", {"organisation": organisation, "page": page})
