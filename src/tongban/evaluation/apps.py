from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "tongban.evaluation"
    label = "evaluation"
    verbose_name = "好差评"

    def ready(self) -> None:
        from tongban.evaluation import tasks  # noqa: F401  (the outbox channel, the overdue sweep, the SMS hook)
