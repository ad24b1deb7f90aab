from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "keystage.api"
    label = "api"
    verbose_name = "API"
