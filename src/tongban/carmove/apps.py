from django.apps import AppConfig


class CarmoveConfig(AppConfig):
    name = "tongban.carmove"
    label = "carmove"
    verbose_name = "一键挪车"
