"""Back-office pages for partner usage (统计) and abuse alerts; system and security admins only.

Behind the back office's gate (TOTP-verified staff); anyone else without the role gets the site's 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from tongban.accounts.roles import StaffRole
from tongban.audit.services import Actor
from tongban.core import clock
from tongban.partners import metering
from tongban.partners.models import AbuseAlert
from tongban.partners.selectors_stats import bar_chart, usage_summary
from tongban.partners.services import abuse_alert_acknowledge

STATS_ROLES = (StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN)
PERIODS = {"7": 7, "30": 30, "365": 365, "all": None}


def _require(request: HttpRequest, *roles: StaffRole) -> None:
    user = request.user
    if not any(getattr(user, "has_role", lambda r: False)(role) for role in roles):
        raise Http404  # not allowed looks like not there


@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    _require(request, *STATS_ROLES)
    metering.flush()  # this process's buffered counts, so the page is up to date here at least
    period = request.GET.get("days", "30")
    if period not in PERIODS:
        period = "30"
    days = PERIODS[period]
    end = clock.today_local()
    start = end - dt.timedelta(days=days - 1) if days else None
    summary = usage_summary(start=start, end=end)
    return render(request, "partners/stats.html", {
        "summary": summary, "chart": bar_chart(summary.days[-60:]), "period": period,
        "periods": [("7", _("近 7 天")), ("30", _("近 30 天")), ("365", _("近一年")), ("all", _("全部"))],
        "can_ack": request.user.has_role(StaffRole.SECURITY_ADMIN),  # type: ignore[union-attr]
    })


@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    _require(request, *STATS_ROLES)
    rows = list(AbuseAlert.objects.order_by("acknowledged", "-created_at")[:200])
    return render(request, "partners/alerts.html", {
        "alerts": rows, "can_ack": request.user.has_role(StaffRole.SECURITY_ADMIN)})  # type: ignore[union-attr]


@require_POST
def alert_ack(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, StaffRole.SECURITY_ADMIN)
    alert = get_object_or_404(AbuseAlert, pk=pk)
    abuse_alert_acknowledge(alert=alert, actor=Actor.user(request.user), username=request.user.get_username(),
                            request=request)
    messages.success(request, _("告警 #%(id)s 已标记为已处理。") % {"id": alert.pk})
    return HttpResponseRedirect(reverse("backoffice:partner_alerts"))
