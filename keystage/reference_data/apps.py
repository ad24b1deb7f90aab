from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReferenceDataConfig(AppConfig):
    name = "keystage.reference_data"
    label = "reference_data"
    verbose_name = "Reference data"

    def ready(self) -> None:
        from keystage.reference_data.services import load_shipped_reference_after_migrate

        # Once per migrate (sent by this app only): DfE's shipped KS4 catalogue into an empty database.
        post_migrate.connect(
            load_shipped_reference_after_migrate, sender=self, dispatch_uid="keystage.reference_data.shipped"
        )
