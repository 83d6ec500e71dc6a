from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tongban.core"
    label = "core"
    verbose_name = "核心"

    def ready(self) -> None:
        from tongban.core import checks  # noqa: F401  (registers the deployment checks)
