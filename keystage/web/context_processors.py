"""The navigation every page shows, chosen by the signed-in person's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from keystage.accounts import policy
from keystage.core.roles import Action


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
    if user.is_staff:
        items.append({"label": "Platform admin", "href": reverse("admin:index"), "active": False})
    return {"nav_items": items}
