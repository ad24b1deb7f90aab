"""Two-factor sign-in: after the password, a code from an authenticator app on the person's phone.

Who must give one is decided in one place, keystage.core.roles.two_factor_required (everyone whose
roles show pupils' names, and platform staff); anyone else may choose to. Built on django-otp: a
confirmed TOTPDevice is the authenticator, a StaticDevice holds the single-use recovery codes, and
a session counts as verified while it names one of its person's devices that still exists
(django_otp.login stores it; OTPMiddleware reads it on every request). Deleting a person's devices
therefore takes the verification away from every session they have.

Until a person who owes a code gives it, TwoFactorMiddleware sends every page to the code (or
set-up) page. The API is left alone: it ignores sessions and takes only tokens.
"""

from __future__ import annotations

import re
from base64 import b32encode
from collections.abc import Callable
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import policy
from keystage.accounts.throttle import Reservation, release, reserve_code_attempt
from keystage.audit.log import record
from keystage.audit.models import AuditAction
from keystage.core.refusals import Refused
from keystage.core.roles import two_factor_required

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
_AUTHENTICATOR_CODE = re.compile(r"\d{6}")
_RECOVERY_CODE = re.compile(r"[a-z2-7]{8}")  # django-otp's StaticToken.random_token(): base32, lower case

WRONG_AUTHENTICATOR_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows for keystage now"
)
WRONG_RECOVERY_CODE = "That recovery code is not right, or it has been used already"


class CodeRefusedError(Refused):
    """A code that did not let the person in; str() says why, in words for the person."""


def is_on() -> bool:
    return settings.KEYSTAGE_TWO_FACTOR != "off"


def required_for(user: Any) -> bool:
    """Whether this person must sign in with a code (their roles show pupils, or they are staff)."""
    if not is_on() or not user.is_authenticated:
        return False
    roles = (held.role for held in policy.held_roles(user))
    return two_factor_required(roles, platform_staff=bool(user.is_staff or user.is_superuser))


def authenticator(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def recovery_codes_left(user: Any) -> int:
    left: int = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return left


def is_set_up(user: Any) -> bool:
    """Whether the person has something to prove themselves with: an authenticator or recovery codes."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists() or recovery_codes_left(user) > 0


def session_verified(user: Any) -> bool:
    """Whether this request's session has had a code (OTPMiddleware gives the user is_verified)."""
    is_verified: Callable[[], bool] | None = getattr(user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def must_verify(user: Any) -> bool:
    """Signed in with a password, but a code is still owed before any other page."""
    if not is_on() or not user.is_authenticated or session_verified(user):
        return False
    return required_for(user) or is_set_up(user)


def next_step_url(user: Any, next_url: str = "") -> str:
    """Where a person who owes a code goes: the code page, or set-up if they have nothing to use yet."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        page = "accounts:two_factor_verify"
    elif is_set_up(user):
        page = "accounts:two_factor_recovery"  # recovery codes but no authenticator
    else:
        page = "accounts:two_factor_setup"
    return reverse(page) + (f"?{urlencode({'next': next_url})}" if next_url else "")


def mark_verified(request: HttpRequest, device: Device) -> None:
    """The session has given a code: remember the device, under a new session key."""
    request.session.cycle_key()  # privileges rose: a key seen before this moment is worth nothing now
    django_otp.login(request, device)


# Setting up an authenticator.


def pending_authenticator(user: Any, pending_id: int | None) -> TOTPDevice:
    """The authenticator being set up in this session.

    The same key for as long as the session sets it up, so a reloaded page or a mistyped first code
    does not change the QR code already scanned; a new session gets a new key, so a key once shown
    to someone who walked away is never handed to the next session.
    """
    if pending_id is not None:
        device = TOTPDevice.objects.filter(pk=pending_id, user=user, confirmed=False).first()
        if device is not None:
            return device
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def key_in_groups(device: TOTPDevice) -> list[str]:
    """The secret key as an app asks for it when typed by hand (base32), in groups of four."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return [key[start : start + 4] for start in range(0, len(key), 4)]


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The key as a QR code, drawn inline (no image request, nothing inline for CSP to refuse)."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4,
        dark="#0b0c0c",
        light="#ffffff",
        title="QR code for your authenticator app to scan",
        svgclass=None,
        lineclass=None,
    )
    # segno writes only markup it made from the URL; role="img" lets the title name the picture.
    return mark_safe(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))  # noqa: S308


def confirm_authenticator(
    user: Any, pending_id: int | None, code: str, *, ip_address: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Turn on the authenticator being set up once it gives a right code.

    It replaces any earlier authenticator (codes from that one stop working). Returns the device and,
    when the person has no recovery codes left (a first set-up), ten new ones to show them once.
    """
    code = _authenticator_code(code)
    if pending_id is None:
        raise CodeRefusedError("This page has expired. Scan the new QR code, then enter the code")
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(pk=pending_id, user=user, confirmed=False).first()
        )
        if device is None:
            raise CodeRefusedError("This page has expired. Scan the new QR code, then enter the code")
        _refuse_while_paused(device)
        right = device.verify_token(code)
    if not right:
        record(
            AuditAction.TWO_FACTOR_FAILED,
            actor=user,
            subject=user.email,
            ip_address=ip_address,
            stage="set-up",
        )
        raise CodeRefusedError(
            "That code is not right. Check the app shows keystage with your email address, then enter "
            "the code it shows now. If it is still refused, check your phone sets its time automatically"
        )
    with transaction.atomic():
        earlier = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk)
        replaced = earlier.exists()
        earlier.delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = [] if recovery_codes_left(user) else _new_recovery_codes(user)
        record(
            AuditAction.TWO_FACTOR_ENROLLED,
            actor=user,
            subject=user.email,
            ip_address=ip_address,
            replaced_an_authenticator=replaced,
        )
    return device, codes


# Giving a code at sign-in.


def verify_authenticator_code(user: Any, code: str, *, ip_address: str | None = None) -> TOTPDevice:
    """The person's authenticator, if the code is its current one; else CodeRefusedError."""
    code = _authenticator_code(code)
    device = authenticator(user)
    if device is None:
        raise CodeRefusedError("You have no authenticator app set up. Use one of your recovery codes")
    _refuse_while_paused(device)
    reservation = _reserve(user, ip_address)
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        right = locked.verify_token(code)  # counts a failure on the device even when refused
    if not right:
        _record_wrong_code(user, ip_address, "authenticator")
        raise CodeRefusedError(WRONG_AUTHENTICATOR_CODE)
    release(reservation)
    record(AuditAction.TWO_FACTOR_VERIFIED, actor=user, subject=user.email, ip_address=ip_address)
    return locked


def verify_recovery_code(user: Any, code: str, *, ip_address: str | None = None) -> tuple[StaticDevice, int]:
    """Use up one recovery code. Returns the device that held it and how many codes are left."""
    code = re.sub(r"[\s-]", "", code).lower()
    if not code:
        raise CodeRefusedError("Enter one of your recovery codes")
    if not _RECOVERY_CODE.fullmatch(code):
        raise CodeRefusedError("Enter a recovery code as it was given to you: 8 letters and numbers")
    device = StaticDevice.objects.filter(user=user, confirmed=True, token_set__isnull=False).first()
    if device is None:
        raise CodeRefusedError(
            "You have no recovery codes left. Ask your organisation's administrator to reset your "
            "two-factor sign-in"
        )
    _refuse_while_paused(device)
    reservation = _reserve(user, ip_address)
    with transaction.atomic():
        locked = StaticDevice.objects.select_for_update().get(pk=device.pk)
        right = locked.verify_token(code)  # a right code is deleted here: it never works twice
        left = recovery_codes_left(user)
    if not right:
        _record_wrong_code(user, ip_address, "recovery")
        raise CodeRefusedError(WRONG_RECOVERY_CODE)
    release(reservation)
    record(AuditAction.RECOVERY_CODE_USED, actor=user, subject=user.email, ip_address=ip_address, left=left)
    return locked, left


def _record_wrong_code(user: Any, ip_address: str | None, kind: str) -> None:
    """A wrong code at sign-in, audited (which kind, never what was typed)."""
    record(
        AuditAction.TWO_FACTOR_FAILED,
        actor=user,
        subject=user.email,
        ip_address=ip_address,
        stage="sign-in",
        code=kind,
    )


# Recovery codes and resets.


def renew_recovery_codes(user: Any, *, ip_address: str | None = None) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        record(AuditAction.RECOVERY_CODES_RENEWED, actor=user, subject=user.email, ip_address=ip_address)
    return codes


def forget_devices(user: Any) -> int:
    """Delete every authenticator and recovery code the person has (a reset); how many devices went.

    Every session of theirs that had given a code loses that verification with the device."""
    gone = 0
    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()
        gone += 1
    return gone


def format_recovery_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _new_recovery_codes(user: Any) -> list[str]:
    devices = list(StaticDevice.objects.select_for_update().filter(user=user).order_by("pk"))
    StaticToken.objects.filter(device__in=devices).delete()
    device = devices[0] if devices else StaticDevice(user=user, name=RECOVERY_DEVICE_NAME)
    device.confirmed = True
    device.save()
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in sorted(codes))
    return [format_recovery_code(code) for code in sorted(codes)]


def _authenticator_code(code: str) -> str:
    code = re.sub(r"[\s-]", "", code)
    if not code:
        raise CodeRefusedError("Enter the 6-digit code from your authenticator app")
    if not _AUTHENTICATOR_CODE.fullmatch(code):
        raise CodeRefusedError("Enter the code as 6 numbers, like 123456")
    return code


def _refuse_while_paused(device: Device) -> None:
    """django-otp makes a device wait 1, 2, 4, 8… seconds after each wrong code; say so plainly
    rather than call a right code typed during the pause wrong."""
    allowed, detail = device.verify_is_allowed()
    if allowed:
        return
    until = (detail or {}).get("locked_until")
    seconds = max(1, round((until - timezone.now()).total_seconds())) if until else 10
    raise CodeRefusedError(
        f"You entered a wrong code moments ago. Wait {seconds} second{'s' if seconds != 1 else ''}, "
        "then enter the code your app shows"
    )


def _reserve(user: Any, ip_address: str | None) -> Reservation:
    reservation = reserve_code_attempt(user.pk)
    if isinstance(reservation, Reservation):
        return reservation
    record(
        AuditAction.LOGIN_THROTTLED, actor=user, subject=user.email, ip_address=ip_address, stage="two-factor"
    )
    raise CodeRefusedError(
        f"There have been too many wrong codes. Wait {reservation.in_words()}, then "
        "try again. If you have lost your phone, use a recovery code, or ask your organisation's "
        "administrator to reset your two-factor sign-in"
    )


class TwoFactorMiddleware:
    """Send a person who still owes a code to give it, from every page but those they need to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_on() and not _open_before_the_code(request.path) and must_verify(request.user):
            wanted = request.get_full_path() if request.method == "GET" else ""
            return redirect(next_step_url(request.user, wanted))
        return self.get_response(request)


_OPEN_PAGES = (
    "accounts:login",
    "accounts:logout",
    "accounts:two_factor_verify",
    "accounts:two_factor_recovery",
    "accounts:two_factor_setup",
    "web:healthz",
)


def _open_before_the_code(path: str) -> bool:
    """Pages a person reaches between the password and the code. The API takes tokens, never a
    session, so it is none of this middleware's business."""
    api_root = reverse("api:openapi").rsplit("/", 1)[0] + "/"
    if path.startswith((settings.STATIC_URL, api_root)):
        return True
    return path in {reverse(name) for name in _OPEN_PAGES}
