from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "keystage.results"
    label = "results"
    verbose_name = "Results collections"
