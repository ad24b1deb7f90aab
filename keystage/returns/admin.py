"""LA returns in the platform admin. Rounds can be corrected (their dates); what schools sent, signed
and were sent is the record of it, so it can be looked at and never edited here."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from keystage.returns.models import (
    CorrectionRequest,
    HeadTeacherConfirmation,
    PublishedReport,
    Return,
    ReturnRound,
)


class _ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReturnRound)
class ReturnRoundAdmin(admin.ModelAdmin[ReturnRound]):
    list_display = ["__str__", "la", "deadline", "period_starts", "period_ends", "summer_second_half_starts"]
    list_filter = ["tag", "year"]
    search_fields = ["la__name", "la__code"]
    readonly_fields = ["opened_by", "opened_at"]


@admin.register(Return)
class ReturnAdmin(_ReadOnly):
    list_display = [
        "filename",
        "school",
        "round",
        "status",
        "validation",
        "error_count",
        "sent_at",
        "current",
    ]
    list_filter = ["status", "validation", "tag", "current"]
    search_fields = ["filename", "school__name", "school__dfe_number", "sha256"]


@admin.register(HeadTeacherConfirmation)
class HeadTeacherConfirmationAdmin(_ReadOnly):
    list_display = ["round", "school", "name", "role", "confirmed_on", "signed_at"]
    search_fields = ["school__name", "name"]


@admin.register(CorrectionRequest)
class CorrectionRequestAdmin(_ReadOnly):
    list_display = ["sent_return", "requested_at", "requested_by_email", "resolved_at"]


@admin.register(PublishedReport)
class PublishedReportAdmin(_ReadOnly):
    list_display = ["title", "school", "round", "published_at", "published_by_email"]
    search_fields = ["title", "school__name"]
