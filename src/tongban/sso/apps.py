from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "tongban.sso"
    label = "sso"
    verbose_name = "统一身份认证（单点登录）"

    def ready(self) -> None:
        from tongban.sso import logout, tasks  # noqa: F401  (outbox channel, logout signal)
