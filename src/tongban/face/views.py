"""The citizen's camera page (/me/face/) and its two JSON calls; the staff's review queue (/backoffice/face/).

The page asks for the camera (getUserMedia), asks the server for a challenge, shows it, captures a short
burst of frames into JPEGs on a canvas and posts them; the answer is a verdict, never the photo or the
distance. Where the camera is refused or missing, the page says so and what to do instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.audit.services import Actor
from tongban.core.errors import TongbanError
from tongban.core.middleware import error_response
from tongban.face import selectors, services
from tongban.face.liveness import FaceReason
from tongban.face.models import CheckStatus
from tongban.portal.account_views import citizen_required

MAX_POST_FRAMES = 12


def reason_label(reason: FaceReason | None) -> str:
    return {
        FaceReason.NO_FACE: _("未检测到人脸，请正对摄像头、光线充足后重试。"),
        FaceReason.MULTIPLE_FACES: _("画面中有多张人脸，请确保只有本人入镜。"),
        FaceReason.CHALLENGE_FAILED: _("未完成指定动作，请按提示转头后重试。"),
        FaceReason.FACE_CHANGED: _("画面中的人脸前后不一致，请本人重新认证。"),
        FaceReason.NO_MATCH: _("人像与身份证照片不一致。"),
        FaceReason.REVIEW: _("已提交人工复核，结果将在复核后通知您。"),
        FaceReason.NO_CARD_PHOTO: _("未能获取您的证件照片，请到户籍窗口办理。"),
        FaceReason.UNAVAILABLE: _("本平台暂未开通实人认证（刷脸）功能。"),
    }.get(reason, "") if reason else ""  # type: ignore[arg-type]


def _next(request: HttpRequest, value: str | None) -> str:
    """Where to go once L3 is reached: a same-site path (the single sign-on step-up), else 我的."""
    if value and value.startswith("/") and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                                            require_https=request.is_secure()):
        return value
    return reverse("portal:me")


def _profile(request: HttpRequest) -> Any:
    from tongban.accounts.citizens import profile_of

    return profile_of(request.user)


def _error_json(request: HttpRequest, exc: TongbanError) -> JsonResponse:
    return error_response(request, exc.code, status=exc.http_status(),
                          message=exc.message(getattr(request, "LANGUAGE_CODE", "zh")), details=exc.details,
                          headers=exc.headers)


@citizen_required
@require_http_methods(["GET"])
def camera(request: HttpRequest) -> HttpResponse:
    profile = _profile(request)
    return render(request, "face/camera.html", {
        "available": services.face_available(), "level": profile.level,
        "eligible": profile.level >= 2 and profile.id_type == "resident_id",
        "challenge_url": reverse("face:challenge"), "check_url": reverse("face:check"),
        "next": _next(request, request.GET.get("next")),
    })


@citizen_required
@require_POST
def challenge(request: HttpRequest) -> JsonResponse:
    profile = _profile(request)
    if profile.level < 2 or profile.id_type != "resident_id":
        return error_response(request, "level_not_supported", status=409,
                              message=_("实人认证需先完成实证（L2）认证。"))
    try:
        challenge_id, action = services.face_challenge_issue(owner=f"user:{request.user.pk}")
    except TongbanError as exc:
        return _error_json(request, exc)
    return JsonResponse({"challenge_id": challenge_id, "challenge": action.value, "prompt": action.label},
                        json_dumps_params={"ensure_ascii": False})


@citizen_required
@require_POST
def check(request: HttpRequest) -> JsonResponse:
    from tongban.verification.services import identity_reference

    profile = _profile(request)
    if profile.level < 2 or profile.id_type != "resident_id" or not profile.id_number:
        return error_response(request, "level_not_supported", status=409,
                              message=_("实人认证需先完成实证（L2）认证。"))
    files = request.FILES.getlist("frames")[:MAX_POST_FRAMES + 1]
    try:
        frames = [b"".join(f.chunks()) if (f.size or 0) <= services.MAX_FRAME_BYTES else b"x" * (services.MAX_FRAME_BYTES + 1)
                  for f in files]
        result = services.face_check_perform(
            owner=f"user:{request.user.pk}", challenge_id=request.POST.get("challenge_id", ""), frames=frames,
            id_type=profile.id_type, id_number=profile.id_number,
            subject_ref=identity_reference(profile.id_type, profile.id_number), actor=Actor.user(request.user),
            channel="portal", user=request.user, request=request)
    except TongbanError as exc:
        return _error_json(request, exc)
    body: dict[str, Any] = {"passed": result.passed, "status": result.status.value,
                            "reason": result.reason.value if result.reason else None,
                            "message": _("认证成功：实人 L3。") if result.passed else reason_label(result.reason)}
    if result.passed:
        messages.success(request, _("认证成功：实人 L3。"))
        body["next"] = _next(request, request.POST.get("next"))
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


# -- back office: the review queue -----------------------------------------------------------------------------

def _reviewer(request: HttpRequest) -> Any:
    user = request.user
    if not user.is_authenticated or getattr(user, "kind", None) != "staff":
        raise Http404
    if not selectors.can_review(user):
        raise PermissionDenied
    return user


@require_http_methods(["GET"])
def review_list(request: HttpRequest) -> HttpResponse:
    user = _reviewer(request)
    return render(request, "face/review_list.html", {"checks": selectors.review_queue(user)[:100]})


@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, check_id: int) -> HttpResponse:
    user = _reviewer(request)
    if request.method == "POST":
        try:
            check = services.face_review_decide(actor=user, check_id=check_id,
                                                decision=request.POST.get("decision", ""), request=request)
        except TongbanError as exc:
            messages.error(request, exc.message(get_language()))
            return redirect("face:review_list")
        if check.status == CheckStatus.REVIEW:
            messages.success(request, _("已记录您的意见，待另一名工作人员复核。"))
        else:
            messages.success(request, _("复核完成：%(status)s。") % {"status": check.get_status_display()})
        return redirect("face:review_list")
    found = selectors.review_queue(user).filter(pk=check_id).first()
    if found is None:
        raise Http404
    return render(request, "face/review_detail.html", {"check": found, "mine": found.first_reviewer_id == user.pk})


@require_http_methods(["GET"])
def review_image(request: HttpRequest, check_id: int, which: str) -> HttpResponse:
    user = _reviewer(request)
    if which not in ("selfie", "card"):
        raise Http404
    try:
        _check, selfie, card = selectors.review_images(user, check_id, request=request)
    except TongbanError as exc:
        raise Http404 from exc
    data = selfie if which == "selfie" else card
    from tongban.core.uploads import detect_type

    response = HttpResponse(data, content_type=detect_type(data[:16]) or "application/octet-stream")
    response["Cache-Control"] = "no-store"
    return response
