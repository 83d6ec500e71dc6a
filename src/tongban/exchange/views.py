"""The inbound endpoint for the national platform (signature-authenticated JSON) and the operators' pages:
the state of the exchange, dead letters inspected masked and replayed."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.exchange import selectors, services, wire
from tongban.exchange.conf import conf
from tongban.exchange.inbound import inbound_batch
from tongban.exchange.models import OutMessage

MAX_BODY = 16 * 1024 * 1024


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> JsonResponse:
    if not conf().peer_public_key:  # the exchange is not set up here: there is no such endpoint
        return JsonResponse({"code": "not_found", "message": "未找到。"}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"code": "exchange_batch_too_large", "message": "批次过大。"}, status=413)
    try:
        answer = inbound_batch(body=request.body, signature=request.headers.get(wire.SIGNATURE_HEADER, ""),
                               signer=request.headers.get(wire.SIGNER_HEADER, ""))
    except TongbanError as exc:
        return JsonResponse({"code": exc.code, "message": exc.message("zh-hans")}, status=exc.status)
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})


def _operator(request: HttpRequest) -> Any:
    user: Any = request.user
    if not getattr(user, "is_authenticated", False) or not user.has_role(StaffRole.SYSTEM_ADMIN):
        raise Http404
    return user


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    _operator(request)
    return render(request, "exchange/bo_home.html", {
        "counts": selectors.counts_by_status(), "dead": selectors.dead_letters(),
        "lanes": selectors.lanes_in_trouble(), "reports": selectors.recent_reports()})


@require_GET
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    user = _operator(request)
    message = OutMessage.objects.filter(pk=message_id).first()
    if message is None:
        raise Http404
    shown = selectors.message_masked(message)
    audit_record(action=Action.EXCHANGE_INSPECT, actor=Actor.user(user), subject=Subject("exchange.message", message.pk),
                 request=request, details={"type": message.type})
    return render(request, "exchange/bo_message.html", {
        "m": message, "shown": json.dumps(shown, ensure_ascii=False, indent=2)})


@require_POST
def message_replay(request: HttpRequest, message_id: int) -> HttpResponse:
    user = _operator(request)
    try:
        services.message_replay(message_id=message_id, actor=user, request=request)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
    else:
        messages.success(request, _("已重新排队发送。"))
    return redirect("exchange_bo:message", message_id=message_id)


@require_POST
def message_discard(request: HttpRequest, message_id: int) -> HttpResponse:
    user = _operator(request)
    try:
        services.message_discard(message_id=message_id, actor=user, request=request)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
    else:
        messages.success(request, _("已放弃该消息，同一实体的后续消息将继续发送。"))
    return redirect("exchange_bo:message", message_id=message_id)
