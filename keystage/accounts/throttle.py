"""Refusing sign-in after repeated failures, counted from the audit log.

An account is locked for a while after too many failures since its last success; an address
after many more (to slow guessing across accounts without locking out a whole school's network).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from keystage.audit.models import AuditAction, AuditEvent


def _wait_minutes(failure_times: list[datetime], limit: int, since: datetime) -> int | None:
    if len(failure_times) < limit:
        return None
    # Locked until the limit-th most recent failure leaves the window.
    unlock_at = failure_times[limit - 1] + timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES)
    remaining = (unlock_at - timezone.now()).total_seconds()
    return max(1, math.ceil(remaining / 60)) if remaining > 0 else None


def minutes_until_sign_in_allowed(email: str, ip_address: str | None) -> int | None:
    """None when a sign-in may be tried; otherwise how many minutes the caller must wait."""
    window_start = timezone.now() - timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES)
    last_success = (
        AuditEvent.objects.filter(
            action=AuditAction.LOGIN_SUCCEEDED, actor_email=email, created_at__gte=window_start
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    since = max(window_start, last_success) if last_success else window_start
    per_account = settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT
    account_failures = list(
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_email=email, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:per_account]
    )
    wait = _wait_minutes(account_failures, per_account, since)
    if wait is None and ip_address:
        per_address = settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS
        address_failures = list(
            AuditEvent.objects.filter(
                action=AuditAction.LOGIN_FAILED, ip_address=ip_address, created_at__gt=window_start
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:per_address]
        )
        wait = _wait_minutes(address_failures, per_address, window_start)
    return wait
