from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keystage.web"
    label = "web"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.urls import register_converter

        from keystage.web.converters import IdConverter

        # Every app's URLs name ids <id:...>: registered here, before any URL module is imported.
        register_converter(IdConverter, "id")
