"""Platform staff edit organisations one at a time here, or upload GIAS's establishment file (the
"Import from GIAS" button on the schools list) for a worker to import them all."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from keystage.organisations import services
from keystage.organisations.models import GIASImport, LocalAuthority, Organisation, School, Trust
from keystage.web.faults import FileNotStored
from keystage.web.uploads import (
    InMemoryUploadHandler,
    OnDiskUploadHandler,
    SizeLimitedUploadHandler,
    upload_refused_for_size,
)


@admin.register(LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin[LocalAuthority]):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Trust)
class TrustAdmin(admin.ModelAdmin[Trust]):
    list_display = ["name", "companies_house_number", "gias_uid"]
    search_fields = ["name", "companies_house_number", "gias_uid"]


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin[School]):
    list_display = ["name", "urn", "dfe_number", "phase", "school_type", "la", "trust", "is_open"]
    list_filter = ["is_open", "phase", "school_type", "la", "trust"]
    search_fields = ["name", "urn", "dfe_number"]
    autocomplete_fields = ["la", "trust"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    """Every organisation by name, for choosing one in a membership; edit each under its own kind."""

    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


class GiasUploadHandler(SizeLimitedUploadHandler):
    """GIAS's national file is larger than any results file: its own limit, refused as it streams in."""

    @property
    def limit(self) -> int:
        return services.gias_max_upload_bytes()


@admin.register(GIASImport)
class GIASImportAdmin(admin.ModelAdmin[GIASImport]):
    """Each upload of GIAS's file and what its import did; new ones through the upload page."""

    list_display = ["filename", "status", "progress", "uploaded_by_email", "created_at"]
    list_filter = ["status"]

    def get_urls(self) -> list[URLPattern]:
        upload = csrf_exempt(self.upload_view)  # CSRF is checked inside, once the upload limit is set
        return [
            path("upload/", self.admin_site.admin_view(upload), name="organisations_giasimport_upload"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request: HttpRequest, obj: GIASImport | None = None) -> bool:
        return False  # an import's record is never edited

    def has_delete_permission(self, request: HttpRequest, obj: GIASImport | None = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return redirect("admin:organisations_giasimport_upload")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        upload = get_object_or_404(GIASImport, pk=object_id if object_id.isdigit() else 0)
        summary = upload.summary or {}
        context = {
            **self.admin_site.each_context(request),
            "title": f"GIAS import: {upload.filename}",
            "opts": self.model._meta,
            "upload": upload,
            "lines": summary.get("lines", []),
            "changes": summary.get("changes", [])[:500],
            "changes_total": summary.get("changes_total", 0),
            "more_problems": max(0, upload.problem_count - len(upload.problems)),
        }
        return TemplateResponse(request, "admin/organisations/giasimport/status.html", context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            request.upload_handlers = [
                GiasUploadHandler(request),
                InMemoryUploadHandler(request),
                OnDiskUploadHandler(request),
            ]
        return csrf_protect(self._upload)(request)

    def _upload(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        error, status = None, 200
        include_independent = False
        if request.method == "POST":
            refused = upload_refused_for_size(request)
            source = request.FILES.get("file")
            include_independent = bool(request.POST.get("include_independent"))
            status = 400
            if refused:
                error = services.gias_too_large_message(refused)
            elif source is None:
                error = "Choose GIAS's establishment file (edubasealldata….csv) to upload."
            else:
                try:
                    upload = services.queue_gias_import(
                        source,
                        filename=source.name or "gias.csv",
                        include_independent=include_independent,
                        actor=request.user,
                    )
                except services.GiasUploadError as problem:
                    error = str(problem)
                except FileNotStored as problem:
                    error, status = str(problem), 503
                else:
                    messages.success(request, f"{upload.filename} is uploaded: a worker imports it now.")
                    return HttpResponseRedirect(
                        reverse("admin:organisations_giasimport_change", args=[upload.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import organisations from GIAS",
            "opts": self.model._meta,
            "error": error,
            "include_independent": include_independent,
            "imports": GIASImport.objects.all()[:10],
            "max_mb": services.gias_max_upload_bytes() // (1024 * 1024),
        }
        return TemplateResponse(
            request, "admin/organisations/giasimport/upload.html", context, status=status if error else 200
        )
