"""The staff site: login with password then TOTP (enrolment on first login), password change, home.
Staff management is in staff_views."""

from __future__ import annotations

import time
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from tongban.accounts import services
from tongban.accounts.backends import REFUSAL_ATTR
from tongban.accounts.events import SecurityEvent, record_security_event
from tongban.accounts.lockout import (
    STAFF_LOCKED_MESSAGE,
    login_failure_record,
    login_locked,
    login_success_record,
)
from tongban.accounts.middleware import CAP_LOGOUT_KEY, IDLE_LOGOUT_KEY
from tongban.accounts.models import User, UserKind
from tongban.accounts.passwords import password_change_required, password_expired, password_expires_at
from tongban.accounts.regions import region_name
from tongban.accounts.roles import StaffRole
from tongban.backoffice.middleware import staff_verified
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.security import client_ip

PENDING_KEY = "_tongban_staff_pending"
PENDING_SECONDS = 300
LOGIN_RATE = (30, 60)  # password posts per client address per minute

MSG_BAD = _("用户名或密码不正确。")
MSG_LOCKED = STAFF_LOCKED_MESSAGE
MSG_RATE = _("请求过于频繁，请稍后再试。")
MSG_TOTP = _("动态口令不正确或已使用过，请输入身份验证器上最新的 6 位口令。")


def _safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()) \
            and value.startswith(("/backoffice/", "/admin/")):
        return value
    return reverse("backoffice:home")


def _pending(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return pending


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_password(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if staff_verified(request):
        return HttpResponseRedirect(next_url)
    context: dict[str, Any] = {"next": next_url, "username": ""}
    if request.session.pop(IDLE_LOGOUT_KEY, False):
        context["notice"] = _("由于长时间未操作，您已自动退出，请重新登录。")
    elif request.session.pop(CAP_LOGOUT_KEY, False):
        context["notice"] = _("登录已达最长时限，您已自动退出，请重新登录。")
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        password = request.POST.get("password", "")
        context["username"] = username
        rate = ratelimit.hit(f"bo-login:ip:{client_ip(request)}", limit=LOGIN_RATE[0], window=LOGIN_RATE[1])
        if not rate.allowed:
            response = render(request, "backoffice/login.html", {**context, "error": MSG_RATE}, status=429)
            response["Retry-After"] = str(rate.retry_after)
            return response
        user = authenticate(request, username=username, password=password) if username and password else None
        if user is not None and user.kind == UserKind.STAFF:
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"uid": user.pk, "at": int(time.time()), "backend": user.backend,
                                            "next": next_url}
            return HttpResponseRedirect(reverse("backoffice:login_totp"))
        context["error"] = MSG_LOCKED if getattr(request, REFUSAL_ATTR, None) == "locked" else MSG_BAD
    return render(request, "backoffice/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def login_totp(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    user = None
    if pending is not None:
        user = User.objects.filter(pk=pending["uid"], kind=UserKind.STAFF, is_active=True).first()
    if pending is None or user is None:
        return HttpResponseRedirect(reverse("backoffice:login"))
    if login_locked(user.username, user):
        request.session.pop(PENDING_KEY, None)
        return render(request, "backoffice/login.html", {"error": MSG_LOCKED, "next": pending["next"]})
    device = services.totp_device_confirmed(user)
    enrolling = device is None
    if device is None:
        device = services.totp_device_for_enrolment(user, request)
    context: dict[str, Any] = {"enrolling": enrolling, "username": user.username}
    if request.method == "POST":
        if services.totp_verify(user=user, device=device, token=request.POST.get("token", ""), request=request):
            request.session.pop(PENDING_KEY, None)
            # Only now is the sign-in complete: the account starts again from zero failures (the password
            # step left the count as it was, so wrong codes add up across rounds of the right password).
            login_success_record(username=user.username, user=user)
            login(request, user, backend=pending["backend"])
            otp_login(request, device)
            if password_expired(user):
                record_security_event(SecurityEvent.PASSWORD_EXPIRED, user=user, request=request)
            if password_change_required(user):
                messages.warning(request, _("您的密码已过期或为临时密码，请先修改密码。"))
                return HttpResponseRedirect(reverse("backoffice:password"))
            return HttpResponseRedirect(_safe_next(request, pending.get("next")))
        if login_failure_record(username=user.username, ip=client_ip(request), user=user, request=request,
                                reason="totp"):
            request.session.pop(PENDING_KEY, None)
            return render(request, "backoffice/login.html", {"error": MSG_LOCKED, "next": pending["next"]})
        context["error"] = MSG_TOTP
    if enrolling:
        uri = device.config_url
        context["otpauth_uri"] = uri
        context["qr_svg"] = segno.make(uri, error="m").svg_inline(scale=4, border=2)
    return render(request, "backoffice/totp.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("backoffice:login"))


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    errors: list[str] = []
    error_target = ""  # the input the errors are about (the page's error summary links to it)
    if request.method == "POST":
        new1, new2 = request.POST.get("new_password1", ""), request.POST.get("new_password2", "")
        if new1 != new2:
            errors.append(gettext("两次输入的新密码不一致。"))
            error_target = "id_new_password2"
        else:
            try:
                services.password_change(user=user, old_password=request.POST.get("old_password", ""),  # type: ignore[arg-type]
                                         new_password=new1, request=request)
            except TongbanError as exc:
                errors.extend(str(d.get("message")) for d in exc.details or [] if d.get("message"))
                errors = errors or [exc.message("zh")]
                error_target = "id_new_password1" if exc.code == "password_rejected" else "id_old_password"
            else:
                update_session_auth_hash(request, user)  # type: ignore[arg-type]
                messages.success(request, _("密码已修改。"))
                return HttpResponseRedirect(reverse("backoffice:home"))
    return render(request, "backoffice/password.html", {"errors": errors, "error_target": error_target,
                                                        "required": password_change_required(user)},
                  status=422 if errors else 200)


@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(request, "backoffice/home.html", {
        "roles": [role.label for role in StaffRole if role in user.roles],
        "department": user.get_department_display(),
        "region": region_name(user.region_code) if user.region_code else "",
        "is_admin": user.is_staff,
        "sees_staff": user.has_role(StaffRole.OFFICER) or user.has_role(StaffRole.SECURITY_ADMIN),
        "manages_staff": user.has_role(StaffRole.SECURITY_ADMIN),
        "password_expires_at": password_expires_at(user),
    })
