from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "tongban.backoffice"
    label = "backoffice"
    verbose_name = "工作人员后台"

    def ready(self) -> None:
        # Django admin admits only users verified by a second factor (django-otp's documented way of
        # turning the default site into an OTPAdminSite), on top of StaffGateMiddleware; its password
        # change pages lead to the back office's (tongban.backoffice.admin_site).
        from django.contrib import admin

        from tongban.backoffice.admin_site import TongbanAdminSite

        admin.site.__class__ = TongbanAdminSite
