"""Signing in: throttled, audited, and the same answer whether or not the account exists."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate, login
from django.http import HttpRequest

from keystage.accounts.models import normalise_email
from keystage.accounts.throttle import Reservation, release, remember_address, reserve_attempt
from keystage.audit.log import client_address, record
from keystage.audit.models import AuditAction


@dataclass(frozen=True)
class SignInRefused:
    message: str


WRONG_DETAILS = "Enter a correct email address and password"


def sign_in(request: HttpRequest, email: str, password: str) -> SignInRefused | None:
    """Sign the person in on this request, or say why not. Success and failure are audited by the
    auth signals (keystage.accounts.signals); a throttled attempt is audited here."""
    email = normalise_email(email)
    address = client_address(request)
    reservation = reserve_attempt(email, address)
    if not isinstance(reservation, Reservation):
        record(
            AuditAction.LOGIN_THROTTLED,
            actor_email=email,
            ip_address=address,
            locked=reservation.locked,
            wait_seconds=reservation.seconds,
        )
        if reservation.locked:
            return SignInRefused(
                f"There have been too many failed attempts to sign in. Wait {reservation.in_words()}, "
                "then try again."
            )
        return SignInRefused(
            f"There have been failed attempts to sign in, so sign-in is slowed down. Wait "
            f"{reservation.in_words()}, then try again."
        )
    user = authenticate(request, username=email, password=password)
    if user is None:
        return SignInRefused(WRONG_DETAILS)
    release(reservation)
    remember_address(email, address)
    login(request, user)
    return None
