from django.apps import AppConfig


class EstimatesConfig(AppConfig):
    name = "keystage.estimates"
    verbose_name = "Estimates"
