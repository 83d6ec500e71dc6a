"""Enterprise pages: register an enterprise (the legal representative), invite its agents, the invitations
waiting for a citizen (accept, decline), acting for an enterprise."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts import enterprises
from tongban.accounts.citizens import profile_of
from tongban.core.errors import TongbanError
from tongban.portal import forms as f
from tongban.portal.account_views import _form_page, citizen_required, form_error


@citizen_required
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    try:
        level = profile_of(request.user).level
    except TongbanError:
        level = 0
    return render(request, "portal/enterprise/index.html", {
        "represented": list(enterprises.enterprises_represented(request.user)),
        "agencies": list(enterprises.active_agencies(request.user)),
        "acting": enterprises.acting_enterprise(request),
        "level": level,
        "invitations_waiting": enterprises.invitations_for(request.user).count(),
    })


@citizen_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = f.EnterpriseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            enterprise = enterprises.enterprise_register(
                user=request.user,  # type: ignore[arg-type]
                uscc=data["uscc"], name=data["name"], representative_name=data["representative_name"],
                declared=bool(data["declared"]), request=request)
        except TongbanError as exc:
            form_error(request, form, exc, "uscc")
        else:
            messages.success(request, _("企业账号已登记：%(name)s。") % {"name": enterprise.name})
            return redirect("portal:enterprise_detail", enterprise_id=enterprise.pk)
    return _form_page(request, form, title=gettext("登记企业账号"), submit=gettext("登记"),
                      intro=gettext("由法定代表人本人登记（须已完成实证 L2 认证）。目前平台尚未接入市场监管部门的企业登记数据，"
                            "法定代表人身份以本人声明为准并留存记录。"),
                      links=[(reverse("portal:enterprise"), gettext("返回企业账号"))])


@citizen_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    try:
        enterprise = enterprises.enterprise_for_representative(request.user, enterprise_id)
    except TongbanError as exc:
        raise Http404 from exc
    form = f.AgentForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation = enterprises.agent_invite(
                    user=request.user,  # type: ignore[arg-type]
                    enterprise_id=enterprise.pk, agent_phone=data["agent_phone"], scope=data.get("scope") or "",
                    valid_until=data.get("valid_until"), request=request)
            except TongbanError as exc:
                form_error(request, form, exc, "agent_phone")
            else:
                # The same answer for every number: whether it has an account is not ours to tell.
                messages.success(request, _("已向 %(phone)s 发送经办人邀请。对方登录一网通办、"
                                            "在“企业账号”中确认后即成为经办人；邀请 7 天内有效。") % {
                    "phone": invitation.masked("phone")})
                return redirect("portal:enterprise_detail", enterprise_id=enterprise.pk)
        status = 422
    return render(request, "portal/enterprise/detail.html", {
        "enterprise": enterprise, "agents": enterprises.agents_of(enterprise, user=request.user, request=request),
        "invitations": enterprises.invitations_of(enterprise, user=request.user, request=request),
        "form": form}, status=status)


@citizen_required
@require_POST
def invitation_cancel(request: HttpRequest, enterprise_id: int, invitation_id: int) -> HttpResponse:
    try:
        enterprises.agent_invitation_cancel(user=request.user, enterprise_id=enterprise_id,  # type: ignore[arg-type]
                                            invitation_id=invitation_id, request=request)
    except TongbanError as exc:
        raise Http404 from exc
    messages.success(request, _("已撤回该邀请。"))
    return redirect("portal:enterprise_detail", enterprise_id=enterprise_id)


@citizen_required
@require_http_methods(["GET"])
def invitations(request: HttpRequest) -> HttpResponse:
    try:
        level = profile_of(request.user).level
    except TongbanError:
        level = 0
    return render(request, "portal/enterprise/invitations.html", {
        "invitations": list(enterprises.invitations_for(request.user)), "level": level})


@citizen_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        agent = enterprises.agent_invitation_accept(user=request.user, invitation_id=invitation_id,  # type: ignore[arg-type]
                                                    request=request)
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans")))
        return redirect("portal:enterprise_invitations")
    messages.success(request, _("您已成为“%(name)s”的经办人。") % {"name": agent.enterprise.name})
    return redirect("portal:enterprise")


@citizen_required
@require_POST
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        enterprises.agent_invitation_decline(user=request.user, invitation_id=invitation_id,  # type: ignore[arg-type]
                                             request=request)
    except TongbanError as exc:
        raise Http404 from exc
    messages.success(request, _("已拒绝该邀请。"))
    return redirect("portal:enterprise_invitations")


@citizen_required
@require_POST
def revoke(request: HttpRequest, enterprise_id: int, agent_id: int) -> HttpResponse:
    try:
        enterprises.agent_revoke(user=request.user, enterprise_id=enterprise_id, agent_id=agent_id,  # type: ignore[arg-type]
                                 request=request)
    except TongbanError as exc:
        raise Http404 from exc
    messages.success(request, _("已撤销该经办人的授权。"))
    return redirect("portal:enterprise_detail", enterprise_id=enterprise_id)


@citizen_required
@require_POST
def act(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    try:
        enterprise = enterprises.enterprise_act_as(request=request, enterprise_id=enterprise_id)
    except TongbanError as exc:
        raise Http404 from exc
    assert enterprise is not None
    messages.success(request, _("您正在以“%(name)s”的身份办理业务。") % {"name": enterprise.name})
    return redirect("portal:enterprise")


@citizen_required
@require_POST
def act_stop(request: HttpRequest) -> HttpResponse:
    enterprises.enterprise_act_as(request=request, enterprise_id=None)
    messages.success(request, _("已切换回个人身份。"))
    return redirect("portal:enterprise")
