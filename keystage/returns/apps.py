from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "keystage.returns"
    label = "returns"
    verbose_name = "LA returns"
