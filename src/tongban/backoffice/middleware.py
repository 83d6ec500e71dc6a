"""The gate in front of the back office and Django admin: a staff user verified by TOTP, or the login page.

Runs after the network gate (tongban.core.security.NetworkGateMiddleware), authentication, django-otp and
the idle timeout. A user whose password has expired or is temporary can only change it or log out.
Pages behind the gate are never cached (no personal data left in a shared browser's cache).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers

from tongban.accounts.passwords import password_change_required
from tongban.core.security import is_backoffice_path, not_found

LOGIN_PATH = "/backoffice/login/"
OPEN_PATHS = (LOGIN_PATH, "/backoffice/login/totp/")
PASSWORD_PATHS = ("/backoffice/password/", "/backoffice/logout/")


def staff_verified(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    return (getattr(user, "kind", None) == "staff" and user.is_active and callable(is_verified)
            and bool(is_verified()))


class StaffGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_backoffice_path(request.path):
            return self.get_response(request)
        if request.path not in OPEN_PATHS:
            if not staff_verified(request):
                target = request.get_full_path() if request.method == "GET" else "/backoffice/"
                if target.startswith("/admin/login/"):
                    target = "/admin/"
                return HttpResponseRedirect(f"{LOGIN_PATH}?{urlencode({'next': target})}")
            if password_change_required(request.user) and request.path not in PASSWORD_PATHS:
                return HttpResponseRedirect(PASSWORD_PATHS[0])
            if request.path.startswith("/admin") and not request.user.is_staff:
                return not_found(request)  # officers have no configuration screens: admin is not there
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
