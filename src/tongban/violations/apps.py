from django.apps import AppConfig


class ViolationsConfig(AppConfig):
    name = "tongban.violations"
    label = "violations"
    verbose_name = "交通违法处理"
