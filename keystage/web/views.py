"""Site pages: the start page, each person's home, health, and the error pages."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from keystage.accounts import policy
from keystage.core.roles import Action
from keystage.web import faults


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "web/start.html")
    organisations = [
        {
            "organisation": org,
            "roles": roles,
            "can_manage_users": policy.can(request.user, Action.MANAGE_USERS, org),
            "can_view_audit": policy.can(request.user, Action.VIEW_AUDIT_LOG, org),
            "school_count": None if org.kind == "school" else org.schools().count(),
        }
        for org, roles in policy.organisations_of(request.user)
    ]
    return render(request, "web/home.html", {"organisations": organisations})


def _database_status() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # a health check reports every failure rather than raising
        return {"ok": False, "engine": connection.vendor, "error": error.__class__.__name__}
    return {"ok": True, "engine": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _worker_status() -> dict[str, Any]:
    from django_tasks_db.models import DBTaskResult

    from keystage.web.models import WorkerHeartbeat

    now = timezone.now()
    stale_after = settings.KEYSTAGE_WORKER_STALE_SECONDS
    try:
        beats = list(WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True)[:50])
        ready = DBTaskResult.objects.ready()
        queued = ready.count()
        oldest = ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    except Exception as error:  # the database check reports the cause; keep the response well-formed
        return {"ok": False, "error": error.__class__.__name__}
    alive = [b for b in beats if (now - b).total_seconds() <= stale_after]
    return {
        "ok": bool(alive),
        "alive": len(alive),
        "last_seen_seconds": round((now - beats[0]).total_seconds(), 1) if beats else None,
        "queued_tasks": queued,
        "oldest_queued_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and worker status. 503 when the database is down; "degraded" when no worker is alive."""
    database = _database_status()
    worker = _worker_status() if database["ok"] else {"ok": False, "error": "database unavailable"}
    status = "ok" if database["ok"] and worker["ok"] else ("degraded" if database["ok"] else "down")
    return JsonResponse(
        {"status": status, "database": database, "worker": worker},
        status=200 if database["ok"] else 503,
    )


def _error(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    return render(request, template, context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "errors/400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "errors/403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "errors/404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: whatever failed may be in a context processor.
    from django.template.loader import render_to_string

    # Called while Django handles the exception, so it is still at hand.
    error = sys.exc_info()[1]
    if faults.database_unavailable(error) or faults.storage_full(error):
        # Not a fault in the service: the database is restarting, or the disk is full. Worth retrying.
        context = {"storage": faults.storage_full(error), "not_stored": faults.NOT_STORED_MESSAGE}
        response = HttpResponse(render_to_string("errors/503.html", context), status=503)
        response["Retry-After"] = str(faults.RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"  # the middleware that would say so may not have run
        return response
    return HttpResponse(render_to_string("errors/500.html"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(request, "errors/csrf.html", 403)
