"""One function per action on API tokens (make, revoke) and the check of a presented token.

A token is ``ks_`` and 43 random URL-safe characters. Only its SHA-256 hash is stored, so a copy
of the database gives no working token; looking the hash up needs no secret comparison.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from keystage.api.models import ApiToken
from keystage.audit import log
from keystage.audit.models import AuditAction

TOKEN_PREFIX = "ks_"  # noqa: S105  # the visible start of every token, not a secret
_SECRET_BYTES = 32  # 43 URL-safe characters
_MAX_PRESENTED = 200  # anything longer is not one of ours; do not hash it
LAST_USED_EVERY = timedelta(minutes=1)  # note use at most this often: no write per request


class TokenActionError(Exception):
    """A token action that cannot be done; str() is the message to show."""


class AuthenticationFailed(Exception):
    """Why a request's token was not accepted: a stable code and a message for the script's author."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    *, user: Any, name: str, expires_in_days: int | None, ip_address: str | None = None
) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns it and the token text, which is never seen again."""
    name = " ".join(name.split())
    if not name:
        raise TokenActionError("Enter a name for the token, so you can tell it apart later")
    if expires_in_days is not None and expires_in_days <= 0:
        raise TokenActionError("A token must last at least one day")
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    token_text = f"{TOKEN_PREFIX}{secret}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=secret[:8],
            token_hash=hash_token(token_text),
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        log.record(
            AuditAction.API_TOKEN_CREATED,
            actor=user,
            subject=f"API token “{token.name}” ({token.shown})",
            ip_address=ip_address,
            token=token.pk,
            expires_at=token.expires_at.isoformat() if token.expires_at else None,
        )
    return token, token_text


def revoke_token(token: ApiToken, *, actor: Any, ip_address: str | None = None) -> ApiToken:
    """The owner (or platform staff) stops a token working at once. Revoking twice changes nothing."""
    if getattr(actor, "pk", None) != token.user_id and not getattr(actor, "is_staff", False):
        raise TokenActionError("Only the person who made a token can revoke it.")
    with transaction.atomic():
        current = ApiToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is not None:
            return current
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        log.record(
            AuditAction.API_TOKEN_REVOKED,
            actor=actor,
            subject=f"API token “{current.name}” ({current.shown}) of {current.user.email}",
            ip_address=ip_address,
            token=current.pk,
        )
    return current


def authenticate(authorization: str, *, ip_address: str | None = None) -> ApiToken:
    """The active token an ``Authorization: Bearer ks_…`` header carries, with its user loaded.

    Raises AuthenticationFailed saying what is wrong."""
    scheme, _, presented = authorization.strip().partition(" ")
    presented = presented.strip()
    if not authorization.strip():
        raise AuthenticationFailed(
            "missing_token",
            "This request needs an API token: send the header “Authorization: Bearer ks_…”. "
            "Make a token on the API tokens page of your account.",
        )
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationFailed(
            "invalid_token", "The Authorization header must be “Bearer” followed by your API token."
        )
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > _MAX_PRESENTED:
        raise AuthenticationFailed(
            "invalid_token", "That is not a keystage API token: tokens start with “ks_”."
        )
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(presented)).first()
    if token is None:
        raise AuthenticationFailed(
            "invalid_token",
            "This API token is not recognised. Check you copied all of it, or make a new one.",
        )
    if token.revoked_at is not None:
        raise AuthenticationFailed("token_revoked", "This API token has been revoked. Make a new one.")
    now = timezone.now()
    if token.is_expired(now):
        raise AuthenticationFailed("token_expired", "This API token has expired. Make a new one.")
    if not token.user.is_active:
        raise AuthenticationFailed(
            "account_disabled", "The account this API token belongs to has been deactivated."
        )
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_address)
        token.last_used_at, token.last_used_ip = now, ip_address
    return token
