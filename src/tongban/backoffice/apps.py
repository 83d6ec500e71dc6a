from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "tongban.backoffice"
    label = "backoffice"
    verbose_name = "工作人员后台"

    def ready(self) -> None:
        # Django admin admits only users verified by a second factor (django-otp's documented way of
        # turning the default site into an OTPAdminSite), on top of StaffGateMiddleware.
        from django.contrib import admin
        from django_otp.admin import OTPAdminSite

        admin.site.__class__ = OTPAdminSite
