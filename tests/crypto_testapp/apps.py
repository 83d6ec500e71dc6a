from django.apps import AppConfig


class CryptoTestAppConfig(AppConfig):
    name = "tests.crypto_testapp"
    label = "crypto_testapp"
    verbose_name = "加密字段测试"
    default_auto_field = "django.db.models.BigAutoField"
