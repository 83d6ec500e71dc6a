"""Citizen account pages: register, log in (password or SMS code), recover, the account page, identity
verification, sessions, change phone or password, close. Views parse the form and call one service.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts import citizens, sessions
from tongban.accounts.models import OtpPurpose
from tongban.accounts.otp import OtpTicket, otp_send
from tongban.accounts.services import password_change
from tongban.core.errors import TongbanError
from tongban.portal import forms as f

TICKET_KEY = "tongban_otp_{purpose}"


def citizen_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in citizens only; anyone else is sent to the login page (staff get a plain 404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        if getattr(user, "kind", None) != "citizen":
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def form_error(request: HttpRequest, form: forms.Form, exc: TongbanError, default: str | None = None) -> None:
    """Put a service's error next to the field it names (else at the top of the form)."""
    message = exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans"))
    field = None
    for detail in exc.details or []:
        if isinstance(detail, dict) and detail.get("field") in form.fields:
            field = detail["field"]
            break
    if field is None and default in form.fields:
        field = default
    if field is not None and field in form.errors:
        return  # one message per field is enough
    form.add_error(field, message)


def _page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    return render(request, template, context, status=status)


def _form_page(request: HttpRequest, form: forms.Form, *, title: str, submit: str, intro: str = "",
               links: list[tuple[str, str]] | None = None, action: str = "", step: str = "",
               status: int | None = None) -> HttpResponse:
    if status is None:
        status = 200 if not form.is_bound or not form.errors else 422
    return _page(request, "portal/account/form.html", {
        "form": form, "title": title, "submit": submit, "intro": intro, "links": links or [], "action": action,
        "step": step}, status=status)


def _safe_next(request: HttpRequest, default: str = "/me/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _remember(request: HttpRequest, ticket: OtpTicket) -> None:
    request.session[TICKET_KEY.format(purpose=ticket.purpose)] = ticket.id
    request.session[TICKET_KEY.format(purpose=ticket.purpose) + "_to"] = ticket.phone_masked


def _ticket(request: HttpRequest, purpose: str) -> tuple[int | None, str]:
    key = TICKET_KEY.format(purpose=purpose)
    value = request.session.get(key)
    return (value if isinstance(value, int) else None), str(request.session.get(key + "_to", ""))


def _forget(request: HttpRequest, purpose: str) -> None:
    key = TICKET_KEY.format(purpose=purpose)
    request.session.pop(key, None)
    request.session.pop(key + "_to", None)


def _sent_intro(masked: str) -> str:
    return f"验证码已发送至 {masked}（如该号码可用），5 分钟内有效。" if masked else gettext("请先获取验证码。")


# -- login ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_password(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and getattr(request.user, "kind", None) == "citizen":
        return redirect(_safe_next(request))
    form = f.PasswordLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            citizens.citizen_login_password(request=request, identifier=form.cleaned_data["username"],
                                            password=form.cleaned_data["password"])
        except TongbanError as exc:
            form_error(request, form, exc)
        else:
            return redirect(_safe_next(request))
    from tongban.sso.federation import config as national_config

    # The national platform's sign-in is offered only where it is configured: no link to a page that is not open.
    return _page(request, "portal/login.html", {"form": form, "next": _safe_next(request),
                                                "national_login": national_config() is not None},
                 status=422 if form.errors else 200)


def _send_step(request: HttpRequest, purpose: str, *, title: str, next_url: str, intro: str,
               links: list[tuple[str, str]]) -> HttpResponse:
    form = f.PhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = otp_send(phone=form.cleaned_data["phone"], purpose=purpose, request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "phone")
        else:
            _remember(request, ticket)
            return redirect(next_url)
    return _form_page(request, form, title=title, submit=gettext("获取验证码"), intro=intro, links=links, step="phone")


@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    return _send_step(request, OtpPurpose.LOGIN, title=gettext("验证码登录"), next_url=reverse("portal:login_code_verify"),
                      intro=gettext("输入注册时使用的手机号码，我们将发送登录验证码。"),
                      links=[(reverse("portal:login"), gettext("密码登录")), (reverse("portal:register"), gettext("注册账号"))])


@require_http_methods(["GET", "POST"])
def login_code_verify(request: HttpRequest) -> HttpResponse:
    ticket_id, masked = _ticket(request, OtpPurpose.LOGIN)
    form = f.CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            citizens.citizen_login_code(request=request, ticket_id=ticket_id, code=form.cleaned_data["code"])
        except TongbanError as exc:
            form_error(request, form, exc, "code")
        else:
            return redirect(_safe_next(request))
    return _form_page(request, form, title=gettext("验证码登录"), submit=gettext("登录"), intro=_sent_intro(masked),
                      links=[(reverse("portal:login_code"), gettext("重新获取验证码"))], step="code")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/")


# -- registration and recovery -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/me/")
    return _send_step(request, OtpPurpose.REGISTER, title=gettext("注册账号"), next_url=reverse("portal:register_verify"),
                      intro=gettext("一人一号：使用本人手机号码注册，注册后完成实名认证即可办理业务。"),
                      links=[(reverse("portal:login"), gettext("已有账号，去登录"))])


@require_http_methods(["GET", "POST"])
def register_verify(request: HttpRequest) -> HttpResponse:
    ticket_id, masked = _ticket(request, OtpPurpose.REGISTER)
    form = f.CodePasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = citizens.citizen_register(ticket_id=ticket_id, code=form.cleaned_data["code"],
                                             password=form.cleaned_data["password"], request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "code")
        else:
            _forget(request, OtpPurpose.REGISTER)
            citizens._finish_login(request, user, user.username, "register")
            messages.success(request, _("注册成功。请完成实名认证，以便办理业务。"))
            return redirect("portal:identity")
    return _form_page(request, form, title=gettext("注册账号"), submit=gettext("注册"), intro=_sent_intro(masked),
                      links=[(reverse("portal:register"), gettext("重新获取验证码"))], step="code")


@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    return _send_step(request, OtpPurpose.RECOVER, title=gettext("找回密码"), next_url=reverse("portal:recover_verify"),
                      intro=gettext("输入账号绑定的手机号码，通过短信验证码重新设置密码。"),
                      links=[(reverse("portal:login"), gettext("返回登录"))])


@require_http_methods(["GET", "POST"])
def recover_verify(request: HttpRequest) -> HttpResponse:
    ticket_id, masked = _ticket(request, OtpPurpose.RECOVER)
    form = f.CodePasswordForm(request.POST if request.method == "POST" else None)
    form.fields["password"].label = _("新密码")
    if request.method == "POST" and form.is_valid():
        try:
            citizens.citizen_recover(ticket_id=ticket_id, code=form.cleaned_data["code"],
                                     new_password=form.cleaned_data["password"], request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "code")
        else:
            _forget(request, OtpPurpose.RECOVER)
            messages.success(request, _("密码已重新设置，请用新密码登录。"))
            return redirect("portal:login")
    return _form_page(request, form, title=gettext("找回密码"), submit=gettext("重设密码"), intro=_sent_intro(masked),
                      links=[(reverse("portal:recover"), gettext("重新获取验证码"))], step="code")


# -- the account -----------------------------------------------------------------------------------------


@citizen_required
def me(request: HttpRequest) -> HttpResponse:
    try:
        account = citizens.citizen_account_view(user=request.user, request=request)  # type: ignore[arg-type]
    except TongbanError:
        account = {"username": request.user.get_username(), "level": 0, "level_label": _("未认证"), "phone": ""}
    from tongban.accounts.enterprises import acting_enterprise, invitations_for
    from tongban.risk.selectors import citizen_verifications

    verifications = citizen_verifications(request.user) if account.get("level") else []
    return _page(request, "portal/me.html", {"account": account, "acting": acting_enterprise(request),
                                             "invitations_waiting": invitations_for(request.user).count(),
                                             "verifications": verifications})


@citizen_required
@require_http_methods(["GET", "POST"])
def identity(request: HttpRequest) -> HttpResponse:
    form = f.IdentityForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            profile, outcome = citizens.citizen_verify_identity(
                user=request.user,  # type: ignore[arg-type]
                id_type=data["id_type"], id_number=data["id_number"], name=data["name"], level=data["level"],
                card_valid_from=data.get("card_valid_from"), card_valid_to=data.get("card_valid_to"),
                card_long_term=bool(data.get("card_long_term")), name_en=data.get("name_en") or "", request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "id_number")
        else:
            reason = citizens.reason_label(outcome)
            if outcome.passed:
                messages.success(request, gettext("认证成功：%(level)s。") % {
                    "level": gettext(citizens.LEVEL_LABELS[profile.level])})
                return redirect("portal:me")
            if profile.level >= 1 and int(outcome.reached) >= 1:
                messages.warning(request, gettext("已完成%(level)s；更高等级未通过：%(reason)s。") % {
                    "level": gettext(citizens.LEVEL_LABELS[profile.level]), "reason": reason})
                return redirect("portal:me")
            form.add_error(None, gettext("认证未通过：%(reason)s。") % {"reason": reason or gettext("请核对后重试")})
    return _page(request, "portal/account/identity.html", {"form": form}, status=422 if form.errors else 200)


@citizen_required
@require_http_methods(["GET"])
def session_list(request: HttpRequest) -> HttpResponse:
    return _page(request, "portal/account/sessions.html", {
        "sessions": sessions.sessions_of(request.user), "current": sessions.current_session_id(request)})


@citizen_required
@require_POST
def session_revoke(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        sessions.session_revoke(user=request.user, session_id=session_id, request=request)  # type: ignore[arg-type]
    except TongbanError as exc:
        raise Http404 from exc
    messages.success(request, _("已退出该设备的登录。"))
    return redirect("portal:sessions")


@citizen_required
@require_POST
def sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    count = sessions.sessions_revoke_others(user=request.user, request=request)  # type: ignore[arg-type]
    messages.success(request, _("已退出其他 %(count)s 个设备的登录。") % {"count": count})
    return redirect("portal:sessions")


@citizen_required
@require_http_methods(["GET", "POST"])
def change_phone(request: HttpRequest) -> HttpResponse:
    form = f.ChangePhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = citizens.change_phone_start(user=request.user,  # type: ignore[arg-type]
                                                 new_phone=form.cleaned_data["phone"],
                                                 password=form.cleaned_data["password"], request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "phone")
        else:
            _remember(request, ticket)
            return redirect("portal:change_phone_verify")
    return _form_page(request, form, title=gettext("更换手机号"), submit=gettext("获取验证码"),
                      intro=gettext("为保障账号安全，请输入登录密码；验证码将发送到新手机号码。"),
                      links=[(reverse("portal:me"), gettext("返回我的"))], step="phone")


@citizen_required
@require_http_methods(["GET", "POST"])
def change_phone_verify(request: HttpRequest) -> HttpResponse:
    ticket_id, masked = _ticket(request, OtpPurpose.CHANGE_PHONE)
    form = f.CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            citizens.citizen_change_phone(user=request.user, ticket_id=ticket_id,  # type: ignore[arg-type]
                                          code=form.cleaned_data["code"], request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "code")
        else:
            _forget(request, OtpPurpose.CHANGE_PHONE)
            messages.success(request, _("手机号已更换。"))
            return redirect("portal:me")
    return _form_page(request, form, title=gettext("更换手机号"), submit=gettext("确认更换"), intro=_sent_intro(masked),
                      links=[(reverse("portal:change_phone"), gettext("重新获取验证码"))], step="code")


@citizen_required
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    form = f.ChangePasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            password_change(user=request.user, old_password=form.cleaned_data["old_password"],  # type: ignore[arg-type]
                            new_password=form.cleaned_data["password"], request=request)
        except TongbanError as exc:
            if exc.code == "password_rejected":  # the new password: policy, history, same as the current one
                messages_ = [str(d["message"]) for d in exc.details or [] if isinstance(d, dict) and d.get("message")]
                form.add_error("password", "；".join(messages_) or exc.message("zh-hans"))
            else:  # the current password wrong (counted in the lockout), or the account locked
                form_error(request, form, exc, "old_password")
        else:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
            messages.success(request, _("密码已修改。"))
            return redirect("portal:me")
    return _form_page(request, form, title=gettext("修改密码"), submit=gettext("修改密码"), links=[(reverse("portal:me"), gettext("返回我的"))])


@citizen_required
@require_http_methods(["GET", "POST"])
def close_account(request: HttpRequest) -> HttpResponse:
    form = f.PasswordConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            citizens.citizen_close(user=request.user, password=form.cleaned_data["password"],  # type: ignore[arg-type]
                                   request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "password")
        else:
            logout(request)
            return _page(request, "portal/error.html", {"title": _("账号已注销"),
                                                        "message": _("您的账号已注销，个人信息已删除。感谢使用。")})
    return _form_page(request, form, title=gettext("注销账号"), submit=gettext("确认注销"),
                      intro=gettext("注销后，您的手机号、证件号码、姓名等个人信息将被删除，登录设备全部退出，企业经办授权同时终止。"
                            "办件记录按档案规定保存。"),
                      links=[(reverse("portal:me"), gettext("返回我的"))])
