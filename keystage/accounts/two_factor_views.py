"""Pages for two-factor sign-in: give a code (or a recovery code), set up an authenticator app, see
new recovery codes once, and the person's own Two-factor sign-in page.

Thin: each view checks where the person is in signing in, then calls one function of
keystage.accounts.two_factor. TwoFactorMiddleware keeps everyone who owes a code on these pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from keystage.accounts import two_factor
from keystage.accounts.forms import AuthenticatorCodeForm, RecoveryCodeForm
from keystage.accounts.views import _safe_next
from keystage.audit.log import client_address

PENDING_DEVICE = "two_factor_pending_device"  # the authenticator this session is setting up
NEW_CODES = "two_factor_new_codes"  # recovery codes waiting to be shown, once


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: the code from the person's authenticator app."""
    next_url = _safe_next(request)
    if not two_factor.must_verify(request.user):
        return redirect(next_url)
    if two_factor.authenticator(request.user) is None:
        return redirect(two_factor.next_step_url(request.user, next_url))
    form = AuthenticatorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify_authenticator_code(
                request.user, form.cleaned_data["code"], ip_address=client_address(request)
            )
        except two_factor.CodeRefusedError as refused:
            form.add_error("code", str(refused))
        else:
            two_factor.mark_verified(request, device)
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {
            "form": form,
            "next": next_url,
            "recovery_url": _with_next("accounts:two_factor_recovery", next_url),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def recovery(request: HttpRequest) -> HttpResponse:
    """The second step with a recovery code instead, for a lost or broken phone."""
    next_url = _safe_next(request)
    if not two_factor.must_verify(request.user):
        return redirect(next_url)
    if not two_factor.is_set_up(request.user):
        return redirect(two_factor.next_step_url(request.user, next_url))
    form = RecoveryCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, left = two_factor.verify_recovery_code(
                request.user, form.cleaned_data["code"], ip_address=client_address(request)
            )
        except two_factor.CodeRefusedError as refused:
            form.add_error("code", str(refused))
        else:
            two_factor.mark_verified(request, device)
            messages.success(request, _codes_left_message(left))
            return redirect(next_url)
    has_authenticator = two_factor.authenticator(request.user) is not None
    return render(
        request,
        "accounts/two_factor_recovery.html",
        {
            "form": form,
            "next": next_url,
            "verify_url": _with_next("accounts:two_factor_verify", next_url) if has_authenticator else "",
        },
        status=400 if request.method == "POST" else 200,
    )


def _codes_left_message(left: int) -> str:
    said = f"You used a recovery code. You have {left} left"
    if left <= 3:
        return f"{said}: make new ones from Two-factor sign-in on your home page."
    return f"{said}. Each works once."


@login_required
@require_http_methods(["GET", "POST"])
def set_up(request: HttpRequest) -> HttpResponse:
    """Scan a QR code (or type a key) into an authenticator app, then confirm with its first code."""
    next_url = _safe_next(request)
    if not two_factor.is_on():
        return redirect("accounts:two_factor")
    replacing = two_factor.is_set_up(request.user)
    if replacing and not two_factor.session_verified(request.user):
        # Someone who has only typed a password never gets to swap the authenticator for their own.
        return redirect(two_factor.next_step_url(request.user, next_url))
    pending_id = request.session.get(PENDING_DEVICE)
    form = AuthenticatorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # The authenticator this session showed, never one made now: its code could not match.
            device, codes = two_factor.confirm_authenticator(
                request.user, pending_id, form.cleaned_data["code"], ip_address=client_address(request)
            )
        except two_factor.CodeRefusedError as refused:
            form.add_error("code", str(refused))
        else:
            del request.session[PENDING_DEVICE]
            two_factor.mark_verified(request, device)
            if codes:
                request.session[NEW_CODES] = codes
                return redirect(_with_next("accounts:two_factor_recovery_codes", next_url))
            messages.success(
                request, "Your new authenticator app is set up. Codes from the old one no longer work."
            )
            return redirect(next_url)
    device = two_factor.pending_authenticator(request.user, pending_id)
    request.session[PENDING_DEVICE] = device.pk
    return render(
        request,
        "accounts/two_factor_set_up.html",
        {
            "form": form,
            "next": next_url,
            "replacing": replacing,
            "required": two_factor.required_for(request.user),
            "qr_code": two_factor.qr_code_svg(device),
            "key_groups": two_factor.key_in_groups(device),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once: they are taken out of the session as the page is drawn."""
    codes = request.session.pop(NEW_CODES, None)
    if not codes:
        messages.error(
            request,
            "Recovery codes are shown only once, just after they are made. "
            "If you have lost yours, make new ones here.",
        )
        return redirect("accounts:two_factor")
    return render(
        request, "accounts/two_factor_recovery_codes.html", {"codes": codes, "next": _safe_next(request)}
    )


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The person's own Two-factor sign-in page: how they sign in now, and what they can change."""
    user = request.user
    return render(
        request,
        "accounts/two_factor.html",
        {
            "on": two_factor.is_on(),
            "required": two_factor.required_for(user),
            "authenticator": two_factor.authenticator(user),
            "codes_left": two_factor.recovery_codes_left(user),
            "set_up": two_factor.is_set_up(user),
            "set_up_url": _with_next("accounts:two_factor_setup", reverse("accounts:two_factor")),
        },
    )


@login_required
@require_POST
def renew_recovery_codes(request: HttpRequest) -> HttpResponse:
    if not (two_factor.is_on() and two_factor.is_set_up(request.user)):
        messages.error(request, "Set up two-factor sign-in first: recovery codes come with it.")
        return redirect("accounts:two_factor")
    if not two_factor.session_verified(request.user):
        return redirect(two_factor.next_step_url(request.user, reverse("accounts:two_factor")))
    request.session[NEW_CODES] = two_factor.renew_recovery_codes(
        request.user, ip_address=client_address(request)
    )
    return redirect(_with_next("accounts:two_factor_recovery_codes", reverse("accounts:two_factor")))
