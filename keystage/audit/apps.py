from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "keystage.audit"
    label = "audit"
    verbose_name = "Audit log"
