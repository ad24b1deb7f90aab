"""Reference data as loaded, read here; a new year's DfE files are uploaded by platform staff on "Load
new reference data", previewed against what is loaded, then applied (or discarded) as one action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from keystage.audit.log import client_address
from keystage.core.reference.ks4_diff import CatalogueDiff, Change
from keystage.reference_data import services
from keystage.reference_data.models import (
    CTFMappingVersion,
    EstimatesRelease,
    FrameworkVersion,
    PendingReferenceLoad,
    PendingStatus,
    Qualification,
    QualificationGrade,
    ReferenceImport,
)
from keystage.web.uploads import max_upload_mb, upload_refused_for_size

SHOWN = 1000  # rows of one list on the preview page; the count says how many more there are


class GradeInline(admin.TabularInline[QualificationGrade, Qualification]):
    model = QualificationGrade
    extra = 0
    can_delete = False
    readonly_fields = ["grade", "text", "points"]


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin[Qualification]):
    list_display = ["qan", "title", "qualification_type", "category"]
    search_fields = ["qan", "title"]
    list_filter = ["qualification_type"]
    inlines = [GradeInline]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ReferenceImport)
class ReferenceImportAdmin(admin.ModelAdmin[ReferenceImport]):
    list_display = ["kind", "source", "loaded_at", "loaded_by"]
    readonly_fields = ["kind", "source", "loaded_at", "loaded_by", "summary", "problems"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a load is logged by the load itself, never typed in

    def has_delete_permission(self, request: HttpRequest, obj: ReferenceImport | None = None) -> bool:
        return False


@admin.register(FrameworkVersion)
class FrameworkVersionAdmin(admin.ModelAdmin[FrameworkVersion]):
    list_display = ["collection", "from_year", "source_name", "loaded_at"]
    readonly_fields = ["collection", "from_year", "source_name", "loaded_at", "content"]


@admin.register(CTFMappingVersion)
class CTFMappingVersionAdmin(admin.ModelAdmin[CTFMappingVersion]):
    list_display = ["from_year", "source_name", "loaded_at"]
    readonly_fields = ["from_year", "source_name", "loaded_at", "content"]


@admin.register(EstimatesRelease)
class EstimatesReleaseAdmin(admin.ModelAdmin[EstimatesRelease]):
    """Releases loaded here; those shipped with keystage are files, not rows."""

    list_display = ["release", "source_names", "loaded_at", "loaded_by"]
    fields = ["release", "source_names", "loaded_at", "loaded_by"]
    readonly_fields = ["release", "source_names", "loaded_at", "loaded_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EstimatesRelease | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EstimatesRelease | None = None) -> bool:
        return False


def _staff(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_staff)


@admin.register(PendingReferenceLoad)
class PendingReferenceLoadAdmin(admin.ModelAdmin[PendingReferenceLoad]):
    """Every upload of new reference files and what became of it; each opens on its preview."""

    list_display = ["__str__", "kind", "release", "status", "created_by", "decided_at"]
    list_filter = ["kind", "status"]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="reference_data_pendingreferenceload_upload",
            ),
            *super().get_urls(),
        ]

    # Platform staff load reference data: the same people whatever their model permissions.
    def has_view_permission(self, request: HttpRequest, obj: PendingReferenceLoad | None = None) -> bool:
        return _staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def has_change_permission(self, request: HttpRequest, obj: PendingReferenceLoad | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PendingReferenceLoad | None = None) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return redirect("admin:reference_data_pendingreferenceload_upload")

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not _staff(request):
            raise PermissionDenied
        error, status, form = None, 200, ""
        if request.method == "POST":
            form = str(request.POST.get("form", ""))
            refused = upload_refused_for_size(request)
            status = 400
            if refused:
                error = f"{refused} is larger than {max_upload_mb()} MB. Nothing was changed."
            else:
                try:
                    if form == "estimates":
                        pending = services.preview_estimates(
                            str(request.POST.get("release", "")),
                            {role: request.FILES.get(role) for role in services.ESTIMATES_FILES},
                            actor=request.user,
                        )
                    else:
                        form = "catalogue"
                        pending = services.preview_ks4_catalogue(
                            {role: request.FILES.get(role) for role in services.CATALOGUE_FILES},
                            actor=request.user,
                        )
                except services.ReferenceLoadError as problem:
                    error = str(problem)
                else:
                    return HttpResponseRedirect(
                        reverse("admin:reference_data_pendingreferenceload_change", args=[pending.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": "Load new reference data",
            "opts": self.model._meta,
            "error": error,
            "form": form,
            "release": str(request.POST.get("release", "")) if request.method == "POST" else "",
            "catalogue_files": services.CATALOGUE_FILES,
            "estimates_files": services.ESTIMATES_FILES,
            "recent": PendingReferenceLoad.objects.select_related("created_by")[:10],
            "max_mb": max_upload_mb(),
        }
        return TemplateResponse(
            request, "admin/reference_data/pendingreferenceload/upload.html", context, status=status
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not _staff(request):
            raise PermissionDenied
        pending = get_object_or_404(PendingReferenceLoad, pk=object_id if object_id.isdigit() else 0)
        error, status = None, 200
        if request.method == "POST":
            action = request.POST.get("action")
            try:
                if action == "apply":
                    record = services.apply_reference_load(
                        pending.pk, actor=request.user, ip=client_address(request)
                    )
                    messages.success(request, f"Loaded: {'; '.join(record.summary)}.")
                    return HttpResponseRedirect(
                        reverse("admin:reference_data_referenceimport_change", args=[record.pk])
                    )
                if action == "discard":
                    services.discard_reference_load(pending.pk, actor=request.user)
                    messages.info(request, "The files were discarded; nothing was loaded.")
                    return HttpResponseRedirect(reverse("admin:reference_data_pendingreferenceload_upload"))
                error = "Choose Apply or Discard."
            except services.ReferenceLoadError as problem:
                error = str(problem)
            status = 409
            pending.refresh_from_db()
        diff = services.pending_diff(pending)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {pending}",
            "opts": self.model._meta,
            "pending": pending,
            "waiting": pending.status == PendingStatus.PENDING,
            "stale": pending.status == PendingStatus.PENDING and services.is_stale(pending),
            "error": error,
            "summary": diff.summary(),
            "files": [entry["original"] for entry in pending.files.values()],
            "sections": _sections(diff),
            # The same files as loaded now (a release of estimates that is new always changes something).
            "unchanged": not diff.changes_anything
            if isinstance(diff, CatalogueDiff)
            else not diff.is_new and not diff.changes,
            "problems": diff.problems[:SHOWN] if isinstance(diff, CatalogueDiff) else [],
            "problems_total": len(diff.problems) if isinstance(diff, CatalogueDiff) else 0,
            "shown": SHOWN,
        }
        return TemplateResponse(
            request, "admin/reference_data/pendingreferenceload/preview.html", context, status=status
        )


def _sections(diff: Any) -> list[dict[str, Any]]:
    """The lists of the preview, each with at most SHOWN rows and its full count."""
    if isinstance(diff, CatalogueDiff):
        lists: list[tuple[str, list[Change]]] = [
            ("Qualifications added", diff.added),
            ("Qualifications removed", diff.removed),
            ("Points changed (per qualification and grade)", diff.points),
            ("Other details changed", diff.details),
            ("Discount code descriptions", diff.descriptions),
        ]
        for year in diff.years:
            note = {"new": " (a year new in these files)", "removed": " (a year these files no longer have)"}
            lists.append((f"{year.year} discount codes{note.get(year.status, '')}", year.discount_codes))
            lists.append((f"{year.year} EBacc pillars{note.get(year.status, '')}", year.ebacc_pillars))
    else:
        lists = [("Figures that differ from the release loaded now", diff.changes)]
    return [
        {"heading": heading, "rows": changes[:SHOWN], "total": len(changes)}
        for heading, changes in lists
        if changes
    ]
