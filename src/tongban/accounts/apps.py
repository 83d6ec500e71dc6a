from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tongban.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self) -> None:
        from tongban.accounts import checks, signals  # noqa: F401  (registers checks and signal receivers)
