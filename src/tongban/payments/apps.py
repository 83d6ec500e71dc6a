from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "tongban.payments"
    label = "payments"
    verbose_name = "非税缴款"

    def ready(self) -> None:
        from tongban.payments import tasks  # noqa: F401  (outbox channels, the expiry sweep)
