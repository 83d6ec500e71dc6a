from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "tongban.registry"
    label = "registry"
    verbose_name = "权威数据源（参考实现）"
