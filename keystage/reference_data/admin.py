"""Reference data is loaded by `keystage reference`, and read here."""

from django.contrib import admin

from keystage.reference_data.models import (
    CTFMappingVersion,
    FrameworkVersion,
    Qualification,
    QualificationGrade,
    ReferenceImport,
)


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


@admin.register(FrameworkVersion)
class FrameworkVersionAdmin(admin.ModelAdmin[FrameworkVersion]):
    list_display = ["collection", "from_year", "source_name", "loaded_at"]
    readonly_fields = ["collection", "from_year", "source_name", "loaded_at", "content"]


@admin.register(CTFMappingVersion)
class CTFMappingVersionAdmin(admin.ModelAdmin[CTFMappingVersion]):
    list_display = ["from_year", "source_name", "loaded_at"]
    readonly_fields = ["from_year", "source_name", "loaded_at", "content"]
