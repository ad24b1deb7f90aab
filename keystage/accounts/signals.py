"""Sign-ins and sign-outs go to the audit log, whichever view they came through (pages or admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from keystage.accounts.models import normalise_email
from keystage.audit.log import client_address, record
from keystage.audit.models import AuditAction


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(AuditAction.LOGIN_SUCCEEDED, actor=user, ip_address=client_address(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(AuditAction.LOGOUT, actor=user, ip_address=client_address(request))


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    email = normalise_email(str(credentials.get("username") or credentials.get("email") or ""))
    record(AuditAction.LOGIN_FAILED, actor_email=email[:254], ip_address=client_address(request))
