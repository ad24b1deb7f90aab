"""Writing to the audit log. Every service that changes or reveals something calls record()."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from keystage.audit.models import AuditAction, AuditEvent


def client_address(request: HttpRequest | None) -> str | None:
    """The caller's address, for the audit log and sign-in throttling.

    Behind proxies listed in KEYSTAGE_TRUSTED_PROXIES, the nearest address in X-Forwarded-For
    that is not one of them; a client cannot forge its way past a proxy we trust.
    """
    if request is None:
        return None
    address: str | None = request.META.get("REMOTE_ADDR") or None
    trusted = settings.KEYSTAGE_TRUSTED_PROXIES
    if address in trusted:
        header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        forwarded = [hop.strip() for hop in header.split(",") if hop.strip()]
        for hop in reversed(forwarded):
            if hop not in trusted:
                return hop
    return address


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
