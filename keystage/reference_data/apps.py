from django.apps import AppConfig


class ReferenceDataConfig(AppConfig):
    name = "keystage.reference_data"
    label = "reference_data"
    verbose_name = "Reference data"
