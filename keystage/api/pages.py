"""Pages where a signed-in person makes, lists and revokes their own API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from keystage.accounts.models import User
from keystage.api import services
from keystage.api.forms import TokenForm
from keystage.api.models import ApiToken
from keystage.audit.log import client_address


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "api/token_list.html",
        {"tokens": tokens, "openapi_url": request.build_absolute_uri(reverse("api:openapi"))},
    )


@login_required
@require_http_methods(["GET", "POST"])
def create_token(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, token_text = services.create_token(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.expires_in_days,
                ip_address=client_address(request),
            )
        except services.TokenActionError as error:
            form.add_error("name", str(error))
        else:
            # Shown in this response only: the token is not stored, so it cannot be shown again.
            return render(
                request,
                "api/token_created.html",
                {
                    "token": token,
                    "token_text": token_text,
                    "api_root": request.build_absolute_uri(reverse("api:collections")).rsplit("/", 1)[0],
                },
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "api/token_create.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    # Someone else's token is not found here.
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if request.method == "POST":
        services.revoke_token(token, actor=request.user, ip_address=client_address(request))
        messages.success(request, f"The token “{token.name}” has been revoked. It no longer works.")
        return redirect("api_tokens:list")
    return render(request, "api/token_revoke.html", {"token": token})
