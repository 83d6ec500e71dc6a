from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "tongban.exams"
    label = "exams"
    verbose_name = "驾驶人考试预约"

    def ready(self) -> None:
        from tongban.exams import tasks  # noqa: F401  (the allocation sweep, the outbox channel of messages)
