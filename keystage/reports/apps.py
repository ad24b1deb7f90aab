from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "keystage.reports"
    verbose_name = "Reports"
