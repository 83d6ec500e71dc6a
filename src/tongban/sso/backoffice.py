"""The back office's page of per-client sign-in statistics (system and security administrators)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tongban.accounts.roles import StaffRole
from tongban.sso.models import Client, SessionParticipation

PERIODS = {"1": 1, "7": 7, "30": 30}


def client_login_stats(*, days: int) -> list[dict[str, object]]:
    since = timezone.now() - dt.timedelta(days=days)
    counts = {row["client"]: row for row in SessionParticipation.objects.filter(created_at__gte=since).values(
        "client").annotate(logins=Count("id"), people=Count("user", distinct=True), last=Max("created_at"))}
    rows = []
    for client in Client.objects.order_by("organisation", "name"):
        found: Any = counts.get(client.pk, {})
        rows.append({"client": client, "logins": found.get("logins", 0), "people": found.get("people", 0),
                     "last": found.get("last")})
    rows.sort(key=lambda r: -int(r["logins"]))  # type: ignore[call-overload]
    return rows


@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.has_role(StaffRole.SYSTEM_ADMIN) or user.has_role(StaffRole.SECURITY_ADMIN)):  # type: ignore[union-attr]
        raise Http404
    period = request.GET.get("days", "7")
    if period not in PERIODS:
        period = "7"
    rows = client_login_stats(days=PERIODS[period])
    return render(request, "sso/stats.html", {
        "rows": rows, "period": period, "total": sum(int(r["logins"]) for r in rows),  # type: ignore[call-overload]
        "periods": [("1", _("近 24 小时")), ("7", _("近 7 天")), ("30", _("近 30 天"))]})


app_name = "sso_backoffice"
urlpatterns = [path("stats/", stats, name="stats")]
