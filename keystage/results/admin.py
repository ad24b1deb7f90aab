"""Platform staff open collections here (through the same service as `keystage collections create`, so
their deadline collections are queued) and look at uploads and deadline runs, which are never edited."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest

from keystage.core.results.kinds import academic_year_name
from keystage.results import services
from keystage.results.models import Collection, DeadlineRun, FrozenSubmission, Upload

_DEADLINES = ("provisional_deadline", "final_deadline")


class CollectionForm(forms.ModelForm[Collection]):
    class Meta:
        model = Collection
        fields = [
            "kind",
            "year",
            "opens_at",
            "provisional_deadline",
            "final_deadline",
            "terms",
            "provisional_reports_due",
            "final_reports_due",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, year = cleaned.get("kind"), cleaned.get("year")
        if self.instance.pk is None and kind and year:
            # The service refuses a collection its reference data cannot support: say so on the form.
            try:
                services.layout_for(kind, year)
            except services.CollectionError as error:
                raise ValidationError(str(error)) from None
        if not str(cleaned.get("terms", "")).strip():
            self.add_error("terms", "Enter the terms a school agrees to when it confirms a submission.")
        # Said on the field in words (the field then leaves the model's check, named only by its constraint).
        opens, provisional, final = (cleaned.get(name) for name in ("opens_at", *_DEADLINES))
        if opens and provisional and provisional <= opens:
            self.add_error("provisional_deadline", "The provisional deadline must be after the window opens.")
        elif provisional and final and final < provisional:
            self.add_error(
                "final_deadline", "The final deadline must be on or after the provisional deadline."
            )
        return cleaned


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin[Collection]):
    form = CollectionForm
    list_display = ["kind", "academic_year", "opens_at", "provisional_deadline", "final_deadline"]
    list_filter = ["kind", "year"]
    ordering = ["-year", "kind"]

    @admin.display(description="Year", ordering="year")
    def academic_year(self, obj: Collection) -> str:
        return academic_year_name(obj.year)

    def get_readonly_fields(self, request: HttpRequest, obj: Collection | None = None) -> list[str]:
        # Uploads and results belong to a collection's kind and year: they never change once opened.
        return ["kind", "year", "created_by", "created_at"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Collection | None = None) -> bool:
        return False  # a collection is kept with its uploads and deadline runs

    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        if change:
            moved = any(name in form.changed_data for name in _DEADLINES)
            super().save_model(request, obj, form, change)
            if moved:
                # The task queued for the old time does nothing early; one is queued for the new time.
                transaction.on_commit(lambda: services.schedule_deadlines(obj))
            return
        created = services.create_collection(
            kind=obj.kind,
            year=obj.year,
            opens_at=obj.opens_at,
            provisional_deadline=obj.provisional_deadline,
            final_deadline=obj.final_deadline,
            terms=obj.terms,
            provisional_reports_due=obj.provisional_reports_due,
            final_reports_due=obj.final_reports_due,
            actor=request.user,
        )
        # The admin goes on with the object it built (history entry, redirect): make it the one created.
        for field in Collection._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        obj._state.db = created._state.db


M = TypeVar("M", bound=Model)


class _ReadOnlyAdmin(admin.ModelAdmin[M]):
    """Records of what happened: platform staff look, nobody edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(Upload)
class UploadAdmin(_ReadOnlyAdmin[Upload]):
    list_display = [
        "filename",
        "status",
        "school",
        "collection",
        "uploaded_at",
        "uploaded_by_email",
        "in_use",
    ]
    list_filter = ["status", "in_use", "collection"]
    search_fields = ["filename", "uploaded_by_email", "school__name", "school__dfe_number"]
    list_select_related = ["school", "collection"]
    date_hierarchy = "uploaded_at"
    # Files are named, not linked: they hold pupil data and are downloaded through the service's own
    # pages, which check who may see them and audit it.
    exclude = ["issues", "file", "error_workbook"]
    readonly_fields = ["stored_file", "stored_error_workbook", "issue_count"]

    @admin.display(description="Stored file")
    def stored_file(self, obj: Upload) -> str:
        return obj.file.name or "(removed)"

    @admin.display(description="Error workbook")
    def stored_error_workbook(self, obj: Upload) -> str:
        return obj.error_workbook.name or "-"

    @admin.display(description="Issues")
    def issue_count(self, obj: Upload) -> str:
        return f"{obj.error_count} errors, {obj.warning_count} warnings"


@admin.register(FrozenSubmission)
class FrozenSubmissionAdmin(_ReadOnlyAdmin[FrozenSubmission]):
    list_display = ["collection", "deadline", "school", "upload", "frozen_at"]
    list_filter = ["deadline", "collection"]
    search_fields = ["school__name", "school__dfe_number"]
    list_select_related = ["collection", "school", "upload"]


@admin.register(DeadlineRun)
class DeadlineRunAdmin(_ReadOnlyAdmin[DeadlineRun]):
    list_display = ["collection", "deadline", "ran_at", "schools"]
    list_filter = ["deadline", "collection"]
    list_select_related = ["collection"]
