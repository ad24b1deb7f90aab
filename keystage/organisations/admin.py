from django.contrib import admin

from keystage.organisations.models import LocalAuthority, Organisation, School, Trust


@admin.register(LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin[LocalAuthority]):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Trust)
class TrustAdmin(admin.ModelAdmin[Trust]):
    list_display = ["name", "companies_house_number"]
    search_fields = ["name", "companies_house_number"]


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin[School]):
    list_display = ["name", "urn", "dfe_number", "phase", "school_type", "la", "trust"]
    list_filter = ["phase", "school_type", "la", "trust"]
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
