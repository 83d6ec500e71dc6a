from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "tongban.partners"
    label = "partners"
    verbose_name = "接入单位与应用"

    def ready(self) -> None:
        from tongban.partners import metering

        metering.install_process_hooks()
