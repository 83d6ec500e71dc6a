from django.apps import AppConfig


class FaceConfig(AppConfig):
    name = "tongban.face"
    label = "face"
    verbose_name = "实人认证"
    default_auto_field = "django.db.models.BigAutoField"
