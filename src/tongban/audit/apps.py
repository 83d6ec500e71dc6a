from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tongban.audit"
    label = "audit"
    verbose_name = "安全审计"

    def ready(self) -> None:
        from tongban.audit import chain, guard

        guard.connect_signals()
        chain.install_process_hooks()
