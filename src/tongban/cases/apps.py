from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tongban.cases"
    label = "cases"
    verbose_name = "办件"

    def ready(self) -> None:
        from tongban.cases import checks, tasks  # noqa: F401  (outbox channels, the workflow check)
        from tongban.cases.catalog_bridge import register_publish_check

        register_publish_check()
