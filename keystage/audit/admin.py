from django.contrib import admin

from keystage.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log is never edited, not even by platform staff."""

    list_display = ["created_at", "actor_email", "action", "organisation", "subject", "ip_address"]
    list_filter = ["action"]
    search_fields = ["actor_email", "subject"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
