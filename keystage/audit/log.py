"""Writing to the audit log. Every service that changes or reveals something calls record()."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from keystage.audit.models import AuditAction, AuditEvent


def client_address(request: HttpRequest | None) -> str | None:
    """The caller's address. Behind a proxy, gunicorn's forwarded-allow-ips sets REMOTE_ADDR."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: AuditAction,
    *,
    actor: Any = None,
    actor_email: str = "",
    organisation: Any = None,
    subject: str = "",
    ip_address: str | None = None,
    **detail: Any,
) -> AuditEvent:
    email = actor_email or (getattr(actor, "email", "") if actor is not None else "")
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_email=email,
        organisation=organisation,
        subject=subject,
        ip_address=ip_address,
        detail=detail,
    )
