"""The citizen's pages of 一键挪车 (/carmove/) and the owner's answer page (/carmove/r/<token>/, the SMS link)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.carmove import conf, selectors, services
from tongban.carmove.models import MoveRequest, MoveStatus, PlateType
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.portal.account_views import citizen_required, form_error


class CameraInput(forms.ClearableFileInput):
    """Asks the phone for its camera, not the album, where the browser allows (capture="environment")."""

    def __init__(self) -> None:
        super().__init__(attrs={"accept": "image/*", "capture": "environment"})


class RequestForm(forms.Form):
    plate_type = forms.ChoiceField(label=gettext_lazy("号牌种类"), choices=PlateType.choices,
                                   initial=PlateType.SMALL)
    plate = forms.CharField(label=gettext_lazy("号牌号码"), max_length=12,
                            help_text=gettext_lazy("例：浙A12345；新能源：浙AD12345"))
    location = forms.CharField(label=gettext_lazy("挡车位置"), max_length=200,
                               help_text=gettext_lazy("可点击“使用当前位置”由手机定位填写，也可直接输入"))
    message = forms.CharField(label=gettext_lazy("给车主的留言（可选）"), max_length=200, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=gettext_lazy("请勿填写电话号码等联系方式"))
    photo1 = forms.FileField(label=gettext_lazy("现场照片 1（可选）"), required=False, widget=CameraInput())
    photo2 = forms.FileField(label=gettext_lazy("现场照片 2（可选）"), required=False, widget=CameraInput())
    photo3 = forms.FileField(label=gettext_lazy("现场照片 3（可选）"), required=False, widget=CameraInput())


class ReplyForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("异议理由（提出异议时填写）"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))


def _message(request: HttpRequest, exc: TongbanError) -> str:
    return exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans"))


@citizen_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            move = services.move_request_create(
                user=request.user, plate_type=data["plate_type"], plate=data["plate"], location=data["location"],
                message=data["message"], photos=[data[f"photo{i}"] for i in (1, 2, 3)], request=request)
        except TongbanError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, _("已通知车主，请在附近稍候。"))
            return redirect("carmove:detail", pk=move.pk)
    response = render(request, "carmove/start.html", {
        "form": form, "mine": selectors.requests_of(request.user)[:10],
        "monthly_limit": conf.get("MONTHLY_LIMIT"), "banned": services.active_ban(request.user),
    }, status=422 if form.errors else 200)
    # This page alone may ask for the position (the button) and the camera (the photo inputs).
    response["Permissions-Policy"] = ("camera=(self), geolocation=(self), microphone=(), payment=(), usb=(), "
                                      "interest-cohort=()")
    return response


def _detail_context(move: MoveRequest) -> dict[str, Any]:
    now = clock.now()
    available = services.nudge_available_at(move)
    return {"move": move, "photos": list(move.photos.values_list("pk", flat=True)),
            "open": move.status in services.OPEN_STATES,
            "nudge_ready": move.status in services.OPEN_STATES and now >= available,
            "nudge_at": clock.to_local(available), "hotline": conf.get("HOTLINE"),
            "nudge_minutes": conf.get("NUDGE_AFTER_MINUTES")}


@citizen_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    move = selectors.request_for_requester(request.user, pk)
    if move is None:
        raise Http404
    return render(request, "carmove/detail.html", _detail_context(move))


@citizen_required
@require_POST
def nudge(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.move_request_nudge(user=request.user, request_id=pk, request=request)
        messages.success(request, _("已再次通知车主，并已转属地交警。"))
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        messages.error(request, _message(request, exc))
    return redirect("carmove:detail", pk=pk)


@citizen_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.move_request_confirm(user=request.user, request_id=pk, request=request)
        messages.success(request, _("感谢使用，本次挪车请求已结束。"))
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        messages.error(request, _message(request, exc))
    return redirect("carmove:detail", pk=pk)


def _owner_page(request: HttpRequest, move: MoveRequest, *, token: str) -> HttpResponse:
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.move_request_reply(request_id=move.pk, answer=request.POST.get("answer", ""),
                                        reason=form.cleaned_data["reason"], token=token,
                                        user=request.user if request.user.is_authenticated else None,
                                        request=request)
        except TongbanError as exc:
            form_error(request, form, exc, default="reason")
            status = 422
        else:
            messages.success(request, _("已收到您的答复，谢谢。"))
            return redirect(request.path)
        move.refresh_from_db()
    return render(request, "carmove/owner.html", {
        "move": move, "form": form, "token": token, "open": move.status in services.OPEN_STATES,
        "photos": list(move.photos.values_list("pk", flat=True)), "answered": move.status != MoveStatus.NOTIFIED,
    }, status=status)


@require_http_methods(["GET", "POST"])
def reply_by_link(request: HttpRequest, token: str) -> HttpResponse:
    move = services.request_by_token(token)
    if move is None:
        raise Http404
    return _owner_page(request, move, token=token)


@citizen_required
@require_http_methods(["GET", "POST"])
def reply_in_account(request: HttpRequest, pk: int) -> HttpResponse:
    move = selectors.request_for_owner(request.user, pk)
    if move is None:
        raise Http404
    return _owner_page(request, move, token="")


@require_GET
def photo(request: HttpRequest, photo_id: int) -> HttpResponse:
    try:
        found = services.photo_open(user=request.user, photo_id=photo_id, token=request.GET.get("t", ""),
                                    request=request)
    except TongbanError:
        raise Http404 from None
    response = HttpResponse(bytes(found.content), content_type=found.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
