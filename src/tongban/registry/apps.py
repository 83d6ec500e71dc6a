from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "tongban.registry"
    label = "registry"
    verbose_name = "权威数据源（参考实现）"

    def ready(self) -> None:
        from tongban.core.views import register_readiness_probes

        register_readiness_probes(_source_probes)


def _source_probes() -> list:
    """/readyz probes every authoritative source, each within its own budget."""
    from tongban.registry.interfaces import get_source, source_names

    return [(f"source:{name}", get_source(name).ping) for name in source_names()]
