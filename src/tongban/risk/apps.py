from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "tongban.risk"
    label = "risk"
    verbose_name = "安全风险预警"

    def ready(self) -> None:
        from tongban.risk import engine

        engine.connect()
