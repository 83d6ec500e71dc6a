from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tongban.notifications"
    label = "notifications"
    verbose_name = "短信通知"

    def ready(self) -> None:
        from tongban.notifications import checks  # noqa: F401  (registers the deploy check)
