from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "tongban.search"
    label = "search"
    verbose_name = "事项搜索"

    def ready(self) -> None:
        from tongban.search import signals  # noqa: F401  (keeps the index in step with publication)
