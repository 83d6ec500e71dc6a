from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "tongban.exchange"
    label = "exchange"
    verbose_name = "统一数据交换"

    def ready(self) -> None:
        from tongban.exchange import hooks, tasks  # noqa: F401  (signal receivers; the delivery and reconcile jobs)
