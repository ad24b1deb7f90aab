"""The navigation every page shows, chosen by the signed-in person's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from keystage.accounts import policy
from keystage.core.roles import Action, OrgKind
from keystage.organisations.models import Organisation


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    path = request.path
    home = reverse("web:home")
    items: list[dict[str, Any]] = [{"label": "Home", "href": home, "active": path == home}]
    organisations = [org for org, _roles in policy.organisations_of(user)]
    if organisations:
        results = reverse("results:index")
        uploads = reverse("results:history")
        items.append(
            {
                "label": "Results collections",
                "href": results,
                "active": path.startswith(results) or path.startswith(uploads),
            }
        )
        reports = reverse("reports:index")
        items.append({"label": "Reports", "href": reports, "active": path.startswith(reports)})
    returns = _la_returns_link(user, organisations)
    if returns:
        items.append({"label": "LA returns", "href": returns, "active": path.startswith(returns)})
    for action, label, url_name in (
        (Action.MANAGE_USERS, "Manage users", "accounts:user_list"),
        (Action.VIEW_AUDIT_LOG, "Audit log", "audit:organisation_log"),
    ):
        allowed = [org for org in organisations if policy.can(user, action, org)]
        if len(allowed) == 1:
            href = reverse(url_name, args=[allowed[0].pk])
            items.append({"label": label, "href": href, "active": path.startswith(href)})
        elif allowed:  # several organisations: the home page lists each one's links
            items.append({"label": label, "href": f"{home}#organisations", "active": False})
    if policy.is_platform_staff(user):
        items.append({"label": "Platform admin", "href": reverse("admin:index"), "active": False})
    return {"nav_items": items}


def _la_returns_link(user: Any, organisations: list[Organisation]) -> str | None:
    """The LA's returns for its data officer; a school's own returns page for its staff."""
    las = [o for o in organisations if o.org_kind is OrgKind.LOCAL_AUTHORITY]
    running = [la for la in las if policy.can(user, Action.RUN_LA_COLLECTIONS, la)]
    if len(running) == 1:
        return reverse("returns:la", args=[running[0].pk])
    schools = [o for o in organisations if o.org_kind is OrgKind.SCHOOL]
    if len(schools) == 1 and not running:
        return reverse("returns:school", args=[schools[0].pk])
    return None
