from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "keystage.privacy"
    label = "privacy"
    verbose_name = "Data protection"
