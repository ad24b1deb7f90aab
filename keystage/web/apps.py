from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keystage.web"
    label = "web"
    verbose_name = "Site"
