"""Forgotten passwords: a person asks for a link by email and sets a new password with it.

The link is Django's signed token: it names the account, expires after PASSWORD_RESET_TIMEOUT, and
works once (it is signed over the password, which it changes). Asking gives the same answer whether
or not the address has an account, is throttled per account and per address, and is audited, as is
the reset. A new password does not sign anyone in: the person then signs in as always, with the
two-factor code their roles ask for."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from keystage.accounts import throttle
from keystage.accounts.models import User, normalise_email
from keystage.audit.log import record
from keystage.audit.models import AuditAction


def request_reset(email: str, *, ip_address: str | None) -> None:
    """Email a reset link if the address is an active account's, within the limits; the caller
    answers the same in every case."""
    email = normalise_email(email)
    reserved = throttle.reserve_reset_request(email, ip_address)
    user = User.objects.filter(email=email, is_active=True).first()
    sent = isinstance(reserved, throttle.Reservation) and user is not None
    record(
        AuditAction.PASSWORD_RESET_REQUESTED,
        actor=user,
        actor_email=email,
        ip_address=ip_address,
        link_sent=sent,
        throttled=not isinstance(reserved, throttle.Reservation),
    )
    if sent and user is not None:
        from keystage.accounts.tasks import send_password_reset_email

        user_id = user.pk
        transaction.on_commit(lambda: send_password_reset_email.enqueue(user_id))


def link_parts(user: User) -> tuple[str, str]:
    """The account's part and the token of its reset link."""
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


def user_of_link(uidb64: str, token: str) -> User | None:
    """The account a reset link is for, if the link is genuine, unused and not expired."""
    try:
        user_id = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def set_new_password(user: User, password: str, *, ip_address: str | None) -> None:
    """The new password, kept; the link it came from no longer works; audited."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        throttle.forget_failures(user.email)
        record(AuditAction.PASSWORD_RESET, actor=user, ip_address=ip_address)
