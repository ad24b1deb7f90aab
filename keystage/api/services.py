"""One function per action on API tokens (make, revoke) and the check of a presented token.

A token is ``ks_`` and 43 random URL-safe characters. Only its SHA-256 hash is stored, so a copy
of the database gives no working token; looking the hash up needs no secret comparison.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from keystage.accounts import policy
from keystage.api.models import ApiCheck, ApiToken
from keystage.audit import log
from keystage.audit.models import AuditAction
from keystage.core.refusals import Refused
from keystage.core.results import rules
from keystage.web import stored_checks
from keystage.web.faults import save_whole

TOKEN_PREFIX = "ks_"  # noqa: S105  # the visible start of every token, not a secret
_SECRET_BYTES = 32  # 43 URL-safe characters
_MAX_PRESENTED = 200  # anything longer is not one of ours; do not hash it
LAST_USED_EVERY = timedelta(minutes=1)  # note use at most this often: no write per request


class TokenActionError(Refused):
    """A token action that cannot be done; str() is the message to show."""


class AuthenticationFailed(Refused):
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
    if getattr(actor, "pk", None) != token.user_id and not policy.is_platform_staff(actor):
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


# Checking files (POST /api/v1/validate) -------------------------------------------------------------

# A check that never said it finished stops counting as running after this, and is answered as stopped:
# a last resort. A queued check whose worker died is run again by the worker's sweep and refused after
# CHECK_ATTEMPTS deaths (API_CHECKS), well within it; one checked in a web request that was killed
# has only this.
CHECK_STUCK_AFTER = timedelta(minutes=10)
CHECK_WINDOW = timedelta(minutes=1)
OUTCOME_KEPT = timedelta(days=1)


class TooManyChecks(Refused):
    """A person's checks are over a limit; ``retry_after`` seconds until one is free. str() says why."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def refuse_if_over_limits(user: Any) -> None:
    """Raise TooManyChecks now if a new check would be refused: asked before a request's file is
    read, so a refusal costs the web worker little. (_start_check asks again, under the lock.)"""
    _over_limits(ApiCheck.objects.filter(user=user), timezone.now())


def _over_limits(mine: Any, now: datetime) -> None:
    at_once, per_minute = settings.KEYSTAGE_API_CHECKS_AT_ONCE, settings.KEYSTAGE_API_CHECKS_PER_MINUTE
    running = mine.filter(status=ApiCheck.Status.CHECKING, started_at__gte=now - CHECK_STUCK_AFTER).count()
    if running >= at_once:
        raise TooManyChecks(
            f"You have {running} files being checked already; at most {at_once} are checked at once "
            "for one person. Wait for one to finish (poll its Location), then send the next.",
            retry_after=5,
        )
    recent = list(mine.filter(started_at__gte=now - CHECK_WINDOW).order_by("started_at")[:per_minute])
    if len(recent) >= per_minute:
        wait = CHECK_WINDOW - (now - recent[0].started_at)
        raise TooManyChecks(
            f"You have sent {per_minute} files to check in the last minute, the most keystage takes "
            "from one person in a minute. Wait, then send the next.",
            retry_after=max(1, math.ceil(wait.total_seconds())),
        )


def _start_check(user: Any, **fields: Any) -> ApiCheck:
    """A new check of the person's, within their limits (else TooManyChecks). Counted in the database
    under a lock on the person's row, so the limits hold across web workers and servers and a burst
    cannot pass them. Outcomes older than a day go, with their files."""
    with transaction.atomic():
        type(user).objects.select_for_update().filter(pk=user.pk).first()
        now = timezone.now()
        mine = ApiCheck.objects.filter(user=user)
        for old in mine.filter(started_at__lt=now - OUTCOME_KEPT).exclude(file=""):
            old.file.delete(save=False)
        mine.filter(started_at__lt=now - OUTCOME_KEPT).delete()
        _over_limits(mine, now)
        return ApiCheck.objects.create(user=user, started_at=now, **fields)


# A checked file's answer keeps at most this many issues for paging (a 10 MB file of repeated rows has
# half a million, 120 MB of JSON); the counts are of them all.
KEPT_ISSUES = 10_000


def kept_outcome(outcome: dict[str, Any], most: int | None = None) -> dict[str, Any]:
    """The answer as kept: its counts of every issue, and the first `most` issues in file order,
    errors before warnings when there are more than that."""
    issues = outcome.get("issues")
    if not isinstance(issues, list):
        return outcome
    errors = [n for n, issue in enumerate(issues) if issue.get("severity") == "error"]
    others = [n for n, issue in enumerate(issues) if issue.get("severity") != "error"]
    kept = sorted((errors + others)[: KEPT_ISSUES if most is None else most])
    return {
        **outcome,
        "issues": [issues[n] for n in kept],
        "issues_total": len(issues),
        "issues_kept": len(kept),
        "errors": len(errors),
        "warnings": sum(issue.get("severity") == "warning" for issue in issues),
    }


@contextmanager
def check_in_request(user: Any) -> Iterator[ApiCheck]:
    """Hold one of the person's check slots while a small file is checked in the web request."""
    check = _start_check(user)
    try:
        yield check
    finally:
        # Its outcome goes back in the answer; only that it ended is kept.
        ApiCheck.objects.filter(pk=check.pk, status=ApiCheck.Status.CHECKING).update(
            status=ApiCheck.Status.DONE, finished_at=timezone.now()
        )


def queue_check(user: Any, *, source: File[Any], kind: str, year: int, school: Any) -> ApiCheck:
    """A larger file, kept and checked by the background worker; the caller polls for the outcome."""
    check = _start_check(user, queued=True, kind=kind, year=year, school=school)
    try:
        save_whole(check.file, f"check-{check.pk}.bin", source)
        with transaction.atomic():
            check.save(update_fields=["file"])
            # Robust: the file is kept whatever happens here; a check not queued is found by the sweep.
            transaction.on_commit(lambda: stored_checks.queue(API_CHECKS, check.pk), robust=True)
    except BaseException:
        with suppress(Exception):  # storage that failed may fail again; the first error is the one to tell
            check.file.delete(save=False)
        check.delete()
        raise
    return check


def run_queued_check(check_id: int) -> ApiCheck | None:
    """The worker's part: check the kept file as an upload would be checked, keep the answer, delete
    the file. Safe to run twice: only the first to finish writes, and a check already done is left
    alone (stored_checks.run_check)."""
    return stored_checks.run_check(API_CHECKS, check_id)


def requeue_stalled_checks(now: datetime | None = None) -> int:
    """Queued checks left waiting with no task queued or running for them are queued again, and one
    whose every check died with its worker is refused (stored_checks.requeue_stalled). The worker
    runs this when it starts and every minute after."""
    return stored_checks.requeue_stalled(API_CHECKS, now)


@dataclass(frozen=True)
class _Answer:
    """A queued check's outcome: the answer's body and status, as GET /validate/{id} gives them."""

    body: dict[str, Any]
    answer_status: int
    status: str = ApiCheck.Status.DONE


def _check_kept_file(check: ApiCheck) -> _Answer:
    from keystage.results import services as results
    from keystage.results import upload_checks

    with check.file.open("rb") as stored:
        data = stored.read()
    try:
        report = upload_checks.check_file(data, check.kind, int(check.year or 0), check.school)
    except results.CollectionError as error:
        return _Answer({"error": {"code": "collection_unavailable", "message": str(error)}}, 409)
    body = report.as_dict()
    if report.readable:
        return _Answer(body, 200)
    message = report.issues[0].message if report.issues else "The file cannot be read."
    return _Answer({**body, "error": {"code": "unreadable_file", "message": message}}, 422)


def _refused(issues: list[dict[str, Any]]) -> _Answer:
    """A file not checked (its check failed, or died with its worker each time): answered 422 as an
    unreadable file is, the first issue's code and message its error."""
    first = issues[0]
    error = {"code": first["code"], "message": first["message"]}
    body = {"valid": False, "pupils": 0, "issues": issues, "error": error}
    return _Answer(body, 422, ApiCheck.Status.FAILED)


def _check_failed() -> dict[str, Any]:
    return rules.API_CHECK_FAILED.issue().as_dict()


def _store_answer(check: ApiCheck, answer: _Answer, made: list[FieldFile]) -> None:
    check.status = answer.status
    check.finished_at = timezone.now()
    check.outcome = kept_outcome(answer.body)
    check.answer_status = answer.answer_status
    check.save(update_fields=["status", "finished_at", "outcome", "answer_status"])


def _task() -> Any:
    from keystage.api.tasks import check_api_file_task

    return check_api_file_task


API_CHECKS: stored_checks.StoredFileKind[ApiCheck, _Answer] = stored_checks.StoredFileKind(
    name="API check",
    model=ApiCheck,
    waiting_field="status",
    waiting_value=ApiCheck.Status.CHECKING,
    waiting_also={"queued": True},  # a small file checked in the request is never the worker's
    arrived_field="started_at",
    task=_task,
    rows=lambda: ApiCheck.objects.select_related("school"),
    check=_check_kept_file,
    refusal=_refused,
    uncheckable=rules.API_CHECK_UNCHECKABLE,
    check_failed=_check_failed,
    store=_store_answer,
    file_kept_until_checked="file",
)
