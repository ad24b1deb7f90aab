"""Refusing sign-in after repeated failures, per account and per address.

Each attempt takes a place before its password is checked (under a row lock, so attempts sent
all at once are counted one by one); a successful sign-in gives the places back. An account is
locked after a few failures in the window; an address after many more, to slow guessing across
accounts without locking out a whole school behind one network address.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from keystage.accounts.models import SignInThrottle


@dataclass(frozen=True)
class Reservation:
    """The places one attempt holds; give them back when the password was right."""

    keys: tuple[str, ...]


def _window() -> timedelta:
    return timedelta(minutes=settings.KEYSTAGE_LOGIN_LOCKOUT_MINUTES)


def _locked_row(key: str) -> SignInThrottle:
    for _ in range(2):  # a concurrent first attempt may create the row between our read and insert
        row = SignInThrottle.objects.select_for_update().filter(key=key).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return SignInThrottle.objects.create(key=key, window_start=timezone.now())
        except IntegrityError:
            continue
    return SignInThrottle.objects.select_for_update().get(key=key)


def reserve_attempt(email: str, ip_address: str | None) -> Reservation | int:
    """A reservation to try the password, or the whole minutes to wait before trying again."""
    limits = [(f"account:{email}", settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT)]
    if ip_address:
        limits.append((f"address:{ip_address}", settings.KEYSTAGE_LOGIN_MAX_FAILURES_PER_ADDRESS))
    return _reserve(limits)


def reserve_code_attempt(user_id: int) -> Reservation | int:
    """A reservation to try a two-factor code (authenticator or recovery), or the minutes to wait.

    Counted per person, after the password: guessing a six-digit code needs many tries, so a few
    wrong ones lock the second step for the same window as the first.
    """
    return _reserve([(f"two-factor:{user_id}", settings.KEYSTAGE_TWO_FACTOR_MAX_FAILURES)])


def _reserve(limits: list[tuple[str, int]]) -> Reservation | int:
    now = timezone.now()
    with transaction.atomic():
        rows = [(_locked_row(key), limit) for key, limit in sorted(limits)]  # fixed order: no deadlock
        for row, limit in rows:
            if now - row.window_start >= _window():
                row.window_start, row.attempts = now, 0
            if row.attempts >= max(limit, 1):
                remaining = (row.window_start + _window() - now).total_seconds()
                return max(1, math.ceil(remaining / 60))
        for row, _limit in rows:
            row.attempts += 1
            row.save(update_fields=["window_start", "attempts"])
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
