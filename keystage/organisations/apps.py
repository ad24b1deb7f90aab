from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "keystage.organisations"
    label = "organisations"
    verbose_name = "Organisations"
