from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "keystage.measures"
    label = "measures"
    verbose_name = "Measures"
