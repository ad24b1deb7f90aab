"""Platform staff see every API token and can revoke one that has leaked; tokens are made only by
their owners, on their account pages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from keystage.api import services
from keystage.api.models import ApiToken
from keystage.audit.log import client_address


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    fields = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "expires_at",
        "revoked_at",
    ]
    readonly_fields = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "expires_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset.select_related("user"):
            services.revoke_token(token, actor=request.user, ip_address=client_address(request))
        messages.success(request, f"Revoked {queryset.count()} token(s).")
