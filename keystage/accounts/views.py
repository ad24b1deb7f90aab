"""Pages for signing in and out, managing an organisation's users, and accepting invitations.

Thin: each view checks input and permission, then calls one service function.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from keystage.accounts import password_reset, policy, services, two_factor
from keystage.accounts.forms import (
    ForgottenPasswordForm,
    InviteForm,
    NewAccountForm,
    NewPasswordForm,
    RolesForm,
    SignInForm,
)
from keystage.accounts.models import Invitation, Membership, User, normalise_email
from keystage.accounts.sign_in import sign_in as sign_in_service
from keystage.accounts.tokens import InvitationLinkError, invitation_from_token
from keystage.audit.log import client_address
from keystage.core.roles import Action, Role
from keystage.organisations.models import Organisation


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("web:home")


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refused = sign_in_service(request, form.cleaned_data["email"], form.cleaned_data["password"])
        if refused is None:
            if two_factor.must_verify(request.user):  # the password was right; now the code
                return redirect(two_factor.next_step_url(request.user, _safe_next(request)))
            return redirect(_safe_next(request))
        form.add_error(None, refused.message)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/sign_in.html",
        {"form": form, "next": _safe_next(request), "two_factor_on": two_factor.is_on()},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def forgotten_password(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link: the same answer whether or not the address has an account."""
    form = ForgottenPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset.request_reset(form.cleaned_data["email"], ip_address=client_address(request))
        return redirect("accounts:reset_sent")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/forgotten_password.html", {"form": form}, status=status)


def reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/reset_sent.html", {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60})


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Choose a new password with a reset link; a used, expired or altered link is told so."""
    user = password_reset.user_of_link(uidb64, token)
    if user is None:
        return render(request, "accounts/reset_link_problem.html", status=400)
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset.set_new_password(
            user, form.cleaned_data["new_password1"], ip_address=client_address(request)
        )
        messages.success(request, "Your password has been changed. Sign in with your new password.")
        return redirect("accounts:login")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/reset_password.html", {"form": form}, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("web:home")


def _organisation(request: HttpRequest, org_id: int, action: Action) -> Organisation:
    organisation = get_object_or_404(Organisation, pk=org_id)
    policy.require(request.user, action, organisation)
    return organisation


def _member(organisation: Organisation, user_id: int) -> User:
    """Someone holding a role in this organisation; anyone else is not found here."""
    return get_object_or_404(
        User.objects.filter(memberships__organisation=organisation).distinct(), pk=user_id
    )


@login_required
def user_list(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    users = (
        User.objects.filter(memberships__organisation=organisation)
        .distinct()
        .prefetch_related(
            Prefetch(
                "memberships", queryset=Membership.objects.filter(organisation=organisation), to_attr="here"
            )
        )
        .order_by("full_name", "email")
    )
    rows = [{"user": u, "roles": sorted((m.role_enum for m in u.here), key=list(Role).index)} for u in users]
    invitations = Invitation.objects.filter(
        organisation=organisation, accepted_at__isnull=True, cancelled_at__isnull=True
    ).order_by("-created_at")
    return render(
        request,
        "accounts/user_list.html",
        {"organisation": organisation, "rows": rows, "invitations": invitations, "now": timezone.now()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, org_id: int) -> HttpResponse:
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    form = InviteForm(request.POST or None, kind=organisation.org_kind)
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, User)
        try:
            invitation = services.invite_user(
                actor=request.user,
                organisation=organisation,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
                ip_address=client_address(request),
            )
        except services.ActionRefusedError as error:
            form.add_error("email", str(error))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("accounts:user_list", org_id=organisation.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/invite.html", {"organisation": organisation, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit_user(request: HttpRequest, org_id: int, user_id: int) -> HttpResponse:
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    member = _member(organisation, user_id)
    current = [m.role for m in Membership.objects.filter(user=member, organisation=organisation)]
    form = RolesForm(request.POST or None, kind=organisation.org_kind, initial={"roles": current})
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, User)
        try:
            services.change_roles(
                actor=request.user,
                organisation=organisation,
                user=member,
                roles=form.cleaned_data["roles"],
                ip_address=client_address(request),
            )
        except services.ActionRefusedError as error:
            form.add_error("roles", str(error))
        else:
            messages.success(request, f"Roles of {member.full_name or member.email} saved.")
            return redirect("accounts:user_list", org_id=organisation.pk)
    last_active = member.last_login
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/edit_user.html",
        {
            "organisation": organisation,
            "member": member,
            "form": form,
            "last_active": last_active,
            "two_factor": _two_factor_status(request, organisation, member),
        },
        status=status,
    )


def _two_factor_status(request: HttpRequest, organisation: Organisation, member: User) -> dict[str, object]:
    """What an administrator sees of a colleague's two-factor sign-in, and whether they may reset it."""
    assert isinstance(request.user, User)  # login_required
    refused = services.why_two_factor_reset_is_refused(
        actor=request.user, organisation=organisation, user=member
    )
    return {
        "on": two_factor.is_on(),
        "set_up": two_factor.is_set_up(member),
        "required": two_factor.required_for(member),
        "resettable": not refused,
        "not_resettable_because": refused,
    }


@login_required
@require_http_methods(["GET", "POST"])
def reset_two_factor(request: HttpRequest, org_id: int, user_id: int) -> HttpResponse:
    """A colleague lost their phone: after a confirmation, they set up two-factor sign-in again."""
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    member = _member(organisation, user_id)
    error = ""
    if request.method == "POST":
        assert isinstance(request.user, User)
        try:
            services.reset_two_factor(
                actor=request.user, organisation=organisation, user=member, ip_address=client_address(request)
            )
        except services.ActionRefusedError as refused:
            error = str(refused)
        else:
            messages.success(
                request,
                f"Two-factor sign-in of {member.full_name or member.email} has been reset. "
                "They set it up again when they next sign in.",
            )
            return redirect("accounts:edit_user", org_id=organisation.pk, user_id=member.pk)
    return render(
        request,
        "accounts/reset_two_factor.html",
        {"organisation": organisation, "member": member, "error": error},
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def revoke_user(request: HttpRequest, org_id: int, user_id: int) -> HttpResponse:
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    member = _member(organisation, user_id)
    error = ""
    if request.method == "POST":
        assert isinstance(request.user, User)
        try:
            services.revoke_access(
                actor=request.user, organisation=organisation, user=member, ip_address=client_address(request)
            )
        except services.ActionRefusedError as refused:
            error = str(refused)
        else:
            messages.success(
                request, f"{member.full_name or member.email} no longer has access to {organisation.name}."
            )
            return redirect("accounts:user_list", org_id=organisation.pk)
    return render(
        request,
        "accounts/revoke_user.html",
        {"organisation": organisation, "member": member, "error": error},
        status=400 if error else 200,
    )


def _invitation_of(request: HttpRequest, org_id: int, invitation_id: int) -> tuple[Organisation, Invitation]:
    organisation = _organisation(request, org_id, Action.MANAGE_USERS)
    return organisation, get_object_or_404(Invitation, pk=invitation_id, organisation=organisation)


def _act_on_invitation(
    request: HttpRequest, org_id: int, invitation_id: int, act: Callable[..., object], done: str
) -> HttpResponse:
    """Re-send or cancel: the same checks and the same way back to the user list."""
    organisation, invitation = _invitation_of(request, org_id, invitation_id)
    assert isinstance(request.user, User)
    try:
        act(
            actor=request.user,
            organisation=organisation,
            invitation=invitation,
            ip_address=client_address(request),
        )
    except services.ActionRefusedError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done.format(email=invitation.email))
    return redirect("accounts:user_list", org_id=organisation.pk)


@login_required
@require_POST
def resend_invitation(request: HttpRequest, org_id: int, invitation_id: int) -> HttpResponse:
    return _act_on_invitation(
        request, org_id, invitation_id, services.resend_invitation, "Invitation re-sent to {email}."
    )


@login_required
@require_POST
def cancel_invitation(request: HttpRequest, org_id: int, invitation_id: int) -> HttpResponse:
    return _act_on_invitation(
        request, org_id, invitation_id, services.cancel_invitation, "Invitation to {email} cancelled."
    )


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except InvitationLinkError as error:
        return render(request, "accounts/invitation_problem.html", {"problem": str(error)}, status=400)
    existing = User.objects.filter(email=invitation.email).first()
    signed_in = request.user if request.user.is_authenticated else None
    context: dict[str, object] = {
        "invitation": invitation,
        "roles": invitation.role_list,
        "existing": existing,
    }
    if signed_in is not None and normalise_email(signed_in.email) != invitation.email:
        context["problem"] = (
            f"This invitation is for {invitation.email}, but you are signed in as {signed_in.email}. "
            "Sign out, then open the link again."
        )
        return render(request, "accounts/invitation_problem.html", context, status=403)
    if existing is not None and not existing.is_active:
        context["problem"] = (
            f"The account for {invitation.email} has been deactivated, so it cannot take up this invitation. "
            "Ask your administrator to contact the people who run this service."
        )
        return render(request, "accounts/invitation_problem.html", context, status=403)
    if existing is not None and signed_in is None:
        return redirect(f"{reverse('accounts:login')}?next={request.path}")
    form = (
        NewAccountForm(
            request.POST or None, email=invitation.email, initial={"full_name": invitation.full_name}
        )
        if existing is None
        else None
    )
    if request.method == "POST":
        try:
            if form is None:
                assert isinstance(signed_in, User)
                user = services.accept_invitation(
                    invitation=invitation, user=signed_in, ip_address=client_address(request)
                )
            elif form.is_valid():
                user = services.accept_invitation(
                    invitation=invitation,
                    user=None,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password"],
                    ip_address=client_address(request),
                )
                login(request, user, backend="keystage.accounts.backends.EmailBackend")
            else:
                context["form"] = form
                return render(request, "accounts/accept_invitation.html", context, status=400)
        except services.ActionRefusedError as error:
            context["problem"] = str(error)
            return render(request, "accounts/invitation_problem.html", context, status=400)
        messages.success(request, f"You now have access to {invitation.organisation.name}.")
        return redirect("organisations:detail", org_id=invitation.organisation_id)
    context["form"] = form
    return render(request, "accounts/accept_invitation.html", context)
