"""The security admins' console (安全风险预警): alerts, the responses in force (lift with a reason),
export tickets, incidents and their timeline. Anyone else gets the site's 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tongban.core.errors import TongbanError
from tongban.risk import selectors, services
from tongban.risk.models import Alert, Block, Incident, Rule


def _require(request: HttpRequest) -> None:
    if not selectors.can_manage(request.user):
        raise Http404  # not allowed looks like not there


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("backoffice:risk_console"))


@require_GET
def console(request: HttpRequest) -> HttpResponse:
    _require(request)
    return render(request, "risk/console.html", {
        "alerts": selectors.alerts_for_console(request.user),
        "blocks": selectors.blocks_active(request.user),
        "tickets": selectors.tickets_pending(request.user),
        "incidents": selectors.incidents(request.user),
        "rules": Rule.objects.all(),
    })


@require_POST
def block_lift(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    block = get_object_or_404(Block, pk=pk)
    try:
        services.response_lift(block=block, actor=request.user, reason=request.POST.get("reason", ""), request=request)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
    else:
        messages.success(request, _("已解除自动响应 #%(pk)s。") % {"pk": block.pk})
    return _back()


@require_POST
def alert_ack(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    services.alert_acknowledge(alert=get_object_or_404(Alert, pk=pk), actor=request.user, request=request)
    return _back()


@require_POST
def incident_open(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    alert = get_object_or_404(Alert, pk=pk)
    services.incident_open(title=str(alert.rule.name), severity=alert.severity, alert=alert, actor=request.user,
                           request=request)
    return _back()


@require_POST
def incident_advance(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    try:
        services.incident_advance(incident=get_object_or_404(Incident, pk=pk), actor=request.user,
                                  note=request.POST.get("note", ""), request=request)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
    return _back()
