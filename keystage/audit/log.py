"""Writing to the audit log. Every service that changes or reveals something calls record()."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from keystage.audit.models import AuditAction, AuditEvent
from keystage.core.jsonsafe import json_safe


def _ip(text: str) -> str | None:
    """An address as the database stores it, from a header hop that may carry a port."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.5:51234
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: HttpRequest | None) -> str | None:
    """The caller's address, for the audit log and sign-in throttling.

    Behind proxies listed in KEYSTAGE_TRUSTED_PROXIES, the nearest address in X-Forwarded-For
    that is not one of them; a client cannot forge its way past a proxy we trust. A hop that is
    not an address at all ends the search at the last address we could trust.
    """
    if request is None:
        return None
    address = _ip(str(request.META.get("REMOTE_ADDR") or ""))
    trusted = settings.KEYSTAGE_TRUSTED_PROXIES
    if address not in trusted:
        return address
    header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    for hop in reversed([h for h in header.split(",") if h.strip()]):
        parsed = _ip(hop)
        if parsed is None:
            return address
        if parsed not in trusted:
            return parsed
        address = parsed
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
        detail=json_safe(detail),  # JSON has no NaN: a figure that is not a number is stored as null
    )
