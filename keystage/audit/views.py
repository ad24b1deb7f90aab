"""An organisation's audit log, for its administrators.

It shows what was done in the organisation. Sign-ins belong to a person, not an organisation (one
person may work for several), so they stay in the platform's log, which platform staff read.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keystage.accounts import policy
from keystage.audit.models import AuditEvent
from keystage.core.roles import Action
from keystage.organisations.models import Organisation

PAGE_SIZE = 50


@login_required
def organisation_log(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=org_id)
    policy.require(request.user, Action.VIEW_AUDIT_LOG, organisation)
    events = AuditEvent.objects.filter(organisation=organisation).order_by("-created_at", "-id")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/organisation_log.html", {"organisation": organisation, "page": page})
