"""Refusing sign-in after repeated failures, per account and per address.

Each attempt takes a place before its password is checked (under a row lock, so attempts sent
all at once are counted one by one); a successful sign-in gives the places back. Sign-in slows
down before it locks: from half the limit on, each attempt waits a few seconds after the one
before it (doubling, at most a minute), so guessing is slow long before anyone is locked out and a
person who mistyped twice only waits a moment. An account is locked after a few failures in the
window; an address after many more, to slow guessing across accounts, but never for accounts that
signed in from it lately: a whole school behind one network address is not locked out by someone
there guessing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.accounts.models import SignInThrottle


@dataclass(frozen=True)
class Reservation:
    """The places one attempt holds; give them back when the password was right."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Wait:
    """Not now: how long to wait, and whether it is the lock (minutes) or the slow-down (seconds)."""

    seconds: int
    locked: bool

    def in_words(self) -> str:
        if self.locked:
            minutes = max(1, math.ceil(self.seconds / 60))
            return f"{minutes} minute{'s' if minutes != 1 else ''}"
        return f"{self.seconds} second{'s' if self.seconds != 1 else ''}"


# The slow-down's longest wait between two attempts on one account or address.
LONGEST_SLOW_DOWN = timedelta(seconds=60)


def _now() -> datetime:
    return timezone.now()


def _window() -> timedelta:
    return timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES)


def slow_down_after(limit: int) -> int:
    """Failures before attempts are spaced out: half the limit (an account of 5 slows after 2)."""
    return max(1, limit // 2)


def slow_down(failures: int, limit: int) -> timedelta:
    """The wait after the last attempt before the next is taken: 2 s, 4 s, 8 s … at most a minute."""
    start = slow_down_after(limit)
    if failures < start:
        return timedelta(0)
    return min(LONGEST_SLOW_DOWN, timedelta(seconds=2 ** min(failures - start + 1, 6)))


def _locked_row(key: str) -> SignInThrottle:
    for _ in range(2):  # a concurrent first attempt may create the row between our read and insert
        row = SignInThrottle.objects.select_for_update().filter(key=key).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return SignInThrottle.objects.create(key=key, window_start=_now())
        except IntegrityError:
            continue
    return SignInThrottle.objects.select_for_update().get(key=key)


# An account that signed in from an address this recently is not held up by that address's failures.
KNOWN_ADDRESS_FOR = timedelta(days=30)


def _known_key(email: str, ip_address: str) -> str:
    return "known:" + hashlib.sha256(f"{email}|{ip_address}".encode()).hexdigest()


def reserve_attempt(email: str, ip_address: str | None) -> Reservation | Wait:
    """A reservation to try the password, or how long to wait before trying again.

    Failures are counted per account and per address separately. The address's limit slows guessing
    across accounts; it does not apply to an account that signed in from that address lately, so a
    school behind one network address keeps signing in while someone there guesses at accounts. The
    account's own limit always applies."""
    limits = [(f"account:{email}", settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT)]
    if ip_address and not _signed_in_from_lately(email, ip_address):
        limits.append((f"address:{ip_address}", settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS))
    return _reserve(limits, slow_down_first=True)


def _signed_in_from_lately(email: str, ip_address: str) -> bool:
    return SignInThrottle.objects.filter(
        key=_known_key(email, ip_address), window_start__gte=_now() - KNOWN_ADDRESS_FOR
    ).exists()


def remember_address(email: str, ip_address: str | None) -> None:
    """The password was right from this address: the account is known there (kept as a hash)."""
    if ip_address:
        SignInThrottle.objects.update_or_create(
            key=_known_key(email, ip_address), defaults={"window_start": _now(), "attempts": 0}
        )


def reserve_reset_request(email: str, ip_address: str | None) -> Reservation | Wait:
    """A place to send a password reset link, or the minutes to wait: a few per account and more per
    address in the window, so nobody's inbox can be flooded. Never given back."""
    limits = [(f"reset:{email}", settings.KEYSTAGE_PASSWORD_RESETS_PER_ACCOUNT)]
    if ip_address:
        limits.append((f"reset-address:{ip_address}", settings.KEYSTAGE_PASSWORD_RESETS_PER_ADDRESS))
    return _reserve(limits)


def forget_failures(email: str) -> None:
    """A new password was set from a reset link: the account's failed sign-ins no longer count."""
    SignInThrottle.objects.filter(key=f"account:{email}").update(attempts=0)


def reserve_code_attempt(user_id: int) -> Reservation | Wait:
    """A reservation to try a two-factor code (authenticator or recovery), or how long to wait.

    Counted per person, after the password: guessing a six-digit code needs many tries, so a few
    wrong ones lock the second step for the same window as the first. (django-otp already pauses
    after each wrong code, so no slow-down is added here.)
    """
    return _reserve([(f"two-factor:{user_id}", settings.KEYSTAGE_TWO_FACTOR_MAX_FAILURES)])


def _reserve(limits: list[tuple[str, int]], *, slow_down_first: bool = False) -> Reservation | Wait:
    now = _now()
    with transaction.atomic():
        rows = [(_locked_row(key), limit) for key, limit in sorted(limits)]  # fixed order: no deadlock
        waits: list[Wait] = []
        for row, limit in rows:
            if now - row.window_start >= _window():
                row.window_start, row.attempts = now, 0
            if row.attempts >= max(limit, 1):
                remaining = (row.window_start + _window() - now).total_seconds()
                waits.append(Wait(max(1, math.ceil(remaining)), locked=True))
            elif slow_down_first and row.last_attempt is not None:
                # Measured from the last attempt taken, not the last refused: hammering during the
                # wait does not stretch it.
                remaining = (row.last_attempt + slow_down(row.attempts, limit) - now).total_seconds()
                if remaining > 0:
                    waits.append(Wait(max(1, math.ceil(remaining)), locked=False))
        if waits:
            return max(waits, key=lambda wait: (wait.locked, wait.seconds))
        for row, _limit in rows:
            row.attempts += 1
            row.last_attempt = now
            row.save(update_fields=["window_start", "attempts", "last_attempt"])
    return Reservation(tuple(key for key, _ in limits))


def release(reservation: Reservation) -> None:
    """The password (or code) was right: the person starts afresh and the address gets its place back."""
    with transaction.atomic():
        for key in reservation.keys:
            row = SignInThrottle.objects.select_for_update().filter(key=key).first()
            if row is None:
                continue
            starts_afresh = key.startswith(("account:", "two-factor:"))
            row.attempts = 0 if starts_afresh else max(0, row.attempts - 1)
            row.save(update_fields=["attempts"])
