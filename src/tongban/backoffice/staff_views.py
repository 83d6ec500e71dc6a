"""Staff management on the staff site: the directory (an officer sees colleagues of their own department and
region) and, for the security admin only, creating accounts, roles and scope, disabling, enabling, unlocking
and resetting a password or second factor.

The three admin duties are kept apart (accounts.roles): these pages exist for the security admin alone —
to a system or audit admin, or an officer, a management page is not there (404, like a missing account).
Every change goes through tongban.accounts.services, which checks the separation of duties again and
writes the audit entry in the change's transaction. A temporary password is generated here and shown
once, on the answer to the POST (never put in a redirect, the session or a log line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts import services
from tongban.accounts.models import StaffTOTPDevice, User
from tongban.accounts.passwords import temporary_password
from tongban.accounts.regions import region_name
from tongban.accounts.roles import StaffRole
from tongban.accounts.selectors import staff_search, staff_visible_to
from tongban.backoffice.forms import ConfirmForm, StaffCreateForm, StaffFilterForm, StaffRolesForm
from tongban.core.errors import TongbanError
from tongban.risk import services as risk_services

PAGE_SIZE = 50


def _is_security_admin(request: HttpRequest) -> bool:
    return isinstance(request.user, User) and request.user.has_role(StaffRole.SECURITY_ADMIN)


def _require_security_admin(request: HttpRequest) -> User:
    if not _is_security_admin(request):
        raise Http404  # not allowed looks like not there
    return request.user  # type: ignore[return-value]


def _visible(request: HttpRequest, username: str) -> User:
    user = staff_visible_to(request.user).filter(username=username).first()
    if user is None:
        raise Http404
    return user


def _row(person: User) -> dict[str, Any]:
    return {"username": person.username, "roles": "、".join(r.label for r in StaffRole if r in person.roles),
            "department": person.get_department_display(),
            "region": region_name(person.region_code) if person.region_code else "",
            "region_code": person.region_code,
            "locked": person.is_locked(), "active": person.is_active,
            "must_change_password": person.must_change_password}


def form_error(form: forms.Form, exc: TongbanError, default: str | None) -> None:
    """A service's error next to the field it names (else `default`, else the whole form)."""
    field = next((d["field"] for d in exc.details or [] if isinstance(d, dict) and d.get("field") in form.fields),
                 default if default in form.fields else None)
    if field is not None and field in form.errors:
        return  # one message per field is enough
    messages_ = [str(d["message"]) for d in exc.details or [] if isinstance(d, dict) and d.get("message")]
    form.add_error(field, messages_ or exc.message("zh"))


def _service_error(form: forms.Form, exc: TongbanError, default: str) -> None:
    form_error(form, exc, "roles" if exc.code == "separation_of_duties" else default)


@require_http_methods(["GET"])
def staff_list(request: HttpRequest) -> HttpResponse:
    filters = StaffFilterForm(request.GET or None)
    people = staff_search(request.user, **(filters.filters() if filters.is_bound else {}))
    if filters.is_bound and not filters.is_valid():
        people = people.none()  # a filter that cannot be met shows nobody, not everybody
    # Responses capped (the exfiltration guard): at most export_cap() people, page after page; beyond, narrow
    # the filters.
    cap = risk_services.export_cap()
    shown = list(people[: cap + 1].values_list("pk", flat=True))
    capped = len(shown) > cap
    page = Paginator(people.filter(pk__in=shown[:cap]) if capped else people, PAGE_SIZE) \
        .get_page(request.GET.get("page"))
    query: dict[str, str] = {k: str(v) for k, v in request.GET.items() if k != "page" and v}
    return render(request, "backoffice/staff_list.html", {
        "filters": filters, "people": [_row(p) for p in page.object_list], "page": page,
        "query": urlencode(query), "can_manage": _is_security_admin(request), "capped": capped, "cap": cap})


@require_http_methods(["GET"])
def staff_detail(request: HttpRequest, username: str) -> HttpResponse:
    person = _visible(request, username)
    manage = _is_security_admin(request)
    return render(request, "backoffice/staff_detail.html", {
        "person": _row(person), "can_unlock": manage, "can_manage": manage and person.pk != request.user.pk,
        "is_self": person.pk == request.user.pk,
        "has_totp": manage and StaffTOTPDevice.objects.filter(user=person, confirmed=True).exists()})


@require_POST
def staff_unlock(request: HttpRequest, username: str) -> HttpResponse:
    actor = _require_security_admin(request)
    person = _visible(request, username)
    services.account_unlock(actor=actor, user=person, request=request)
    messages.success(request, _("已解锁 %(username)s。") % {"username": person.username})
    return HttpResponseRedirect(reverse("backoffice:staff_detail", args=[person.username]))


@require_http_methods(["GET", "POST"])
def staff_create(request: HttpRequest) -> HttpResponse:
    actor = _require_security_admin(request)
    form = StaffCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        password = temporary_password()
        try:
            person = services.staff_create(actor=actor, username=data["username"], password=password,
                                           roles=data["roles"], department=data["department"],
                                           region_code=data["region_code"], request=request)
        except TongbanError as exc:
            _service_error(form, exc, "username")
        else:
            return render(request, "backoffice/staff_password.html", {
                "person": _row(person), "password": password, "created": True})
    return render(request, "backoffice/staff_form.html", {
        "form": form, "title": _("新建工作人员账号"), "submit": _("创建账号"), "person": None},
        status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def staff_roles(request: HttpRequest, username: str) -> HttpResponse:
    actor = _require_security_admin(request)
    person = _visible(request, username)
    initial = {"roles": [r.value for r in person.roles], "department": person.department,
               "region_code": person.region_code}
    form = StaffRolesForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.staff_roles_set(actor=actor, user=person, roles=data["roles"], department=data["department"],
                                     region_code=data["region_code"], request=request)
        except TongbanError as exc:
            _service_error(form, exc, "roles")
        else:
            messages.success(request, _("已更新 %(username)s 的角色与辖区。") % {"username": person.username})
            return HttpResponseRedirect(reverse("backoffice:staff_detail", args=[person.username]))
    return render(request, "backoffice/staff_form.html", {
        "form": form, "title": _("角色与辖区：%(username)s") % {"username": person.username}, "submit": _("保存"), "person": _row(person)},
        status=422 if form.errors else 200)


@dataclass(frozen=True)
class _Action:
    title: str | Promise
    explain: str | Promise
    submit: str | Promise


ACTIONS: dict[str, _Action] = {
    "disable": _Action(_("停用账号"), _("停用后该账号不能登录，其所有会话（含单点登录）立即结束。账号不会删除，操作记录保留。"),
                       _("停用账号")),
    "enable": _Action(_("启用账号"), _("启用后该账号可以再次登录。"), _("启用账号")),
    "password": _Action(_("重置密码"), _("将生成一个临时密码，仅显示一次；本人下次登录须修改。该账号现有的会话立即结束。"),
                        _("重置密码")),
    "totp": _Action(_("重置动态口令"), _("删除该账号绑定的身份验证器（如手机丢失）；本人下次登录时重新绑定。该账号现有的会话立即结束。"),
                    _("重置动态口令")),
}


@require_http_methods(["GET", "POST"])
def staff_action(request: HttpRequest, username: str, action: str) -> HttpResponse:
    """Disable, enable, reset the password or the second factor: a page saying what it does, then a confirmed POST."""
    actor = _require_security_admin(request)
    person = _visible(request, username)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            if action in ("disable", "enable"):
                services.account_active_set(actor=actor, user=person, active=action == "enable", request=request)
                messages.success(request, (_("已启用 %(username)s。") if action == "enable" else _("已停用 %(username)s。"))
                                 % {"username": person.username})
            elif action == "totp":
                services.totp_reset(actor=actor, user=person, request=request)
                messages.success(request, _("已重置 %(username)s 的动态口令。") % {"username": person.username})
            else:
                password = temporary_password()
                services.password_reset(actor=actor, user=person, new_password=password, request=request)
                person.refresh_from_db()
                return render(request, "backoffice/staff_password.html", {
                    "person": _row(person), "password": password, "created": False})
        except TongbanError as exc:
            form_error(form, exc, None)
        else:
            return HttpResponseRedirect(reverse("backoffice:staff_detail", args=[person.username]))
    return render(request, "backoffice/staff_action.html", {
        "form": form, "action": spec, "person": _row(person)}, status=422 if form.errors else 200)
