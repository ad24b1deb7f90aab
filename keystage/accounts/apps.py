from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keystage.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from keystage.accounts import signals  # noqa: F401  (connects the login audit)
