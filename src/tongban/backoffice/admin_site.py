"""Django admin's site: django-otp's OTPAdminSite (a verified second factor), with its own password change
pages sent to the back office's, so a password is only ever changed through the accounts service."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class TongbanAdminSite(OTPAdminSite):
    # Django's own page checks the current password with check_password(): no lockout, no audit entry,
    # a temporary password's flag left set. /backoffice/password/ goes through accounts.services.
    def password_change(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("backoffice:password"))

    def password_change_done(self, request: HttpRequest, extra_context: dict[str, Any] | None = None
                             ) -> HttpResponse:
        return HttpResponseRedirect(reverse("backoffice:home"))
