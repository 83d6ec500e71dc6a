from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "tongban.verification"
    label = "verification"
    verbose_name = "身份核验"
