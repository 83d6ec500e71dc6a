"""Reads for the back office's partner statistics: usage by organisation, app, level, outcome and day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext

from tongban.partners.metering import OUTCOME_LABELS, OUTCOMES
from tongban.partners.models import OrganisationKind, PartnerApp, PartnerOrganisation, UsageCounter


@dataclass
class UsageRow:
    organisation: str
    kind: str
    app_key: str
    app_name: str
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    total: int = 0


@dataclass
class UsageSummary:
    start: dt.date | None
    end: dt.date
    total: int
    provinces: int
    ministries: int
    systems: int
    rows: list[UsageRow]
    days: list[tuple[dt.date, int, int]]  # day, all calls, passed
    outcome_totals: dict[str, int]
    level_totals: dict[str, int]
    outcomes: list[tuple[str, str]]
    levels: list[str]
    level_labels: dict[str, str]  # `l2` -> `实证 L2`: codes are never shown raw


def usage_summary(*, start: dt.date | None, end: dt.date) -> UsageSummary:
    """Counts in [start, end] (start None: since the beginning); the headline counts connected parties."""
    period = Q(day__lte=end) & (Q(day__gte=start) if start else Q())
    counters = UsageCounter.objects.filter(period)
    apps = {a.app_id: a for a in PartnerApp.objects.select_related("organisation")}
    orgs = {o.pk: o for o in PartnerOrganisation.objects.all()}
    rows: dict[str, UsageRow] = {}
    outcome_totals: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    level_totals: dict[str, int] = {}
    for item in counters.values("app_key", "organisation_id", "level", "outcome").annotate(n=Sum("count")):
        key, n = item["app_key"], int(item["n"] or 0)
        row = rows.get(key)
        if row is None:
            app = apps.get(key)
            org = app.organisation if app else orgs.get(item["organisation_id"])
            row = rows[key] = UsageRow(
                organisation=org.name if org else "平台自有渠道",
                kind=org.get_kind_display() if org else "—",
                app_key=key, app_name=app.name if app else key.removeprefix("channel:"))
        row.by_outcome[item["outcome"]] = row.by_outcome.get(item["outcome"], 0) + n
        row.by_level[item["level"]] = row.by_level.get(item["level"], 0) + n
        row.total += n
        outcome_totals[item["outcome"]] = outcome_totals.get(item["outcome"], 0) + n
        level_totals[item["level"]] = level_totals.get(item["level"], 0) + n
    days = [(d["day"], int(d["n"] or 0), int(d["passed"] or 0)) for d in
            counters.values("day").annotate(n=Sum("count"), passed=Sum("count", filter=Q(outcome="passed")))
            .order_by("day")]
    connected = (PartnerOrganisation.objects.annotate(n_apps=Count("apps")).filter(n_apps__gt=0)
                 .values("kind").annotate(n=Count("id")))
    by_kind = {c["kind"]: c["n"] for c in connected}
    return UsageSummary(
        start=start, end=end, total=sum(r.total for r in rows.values()),
        provinces=by_kind.get(OrganisationKind.PROVINCE, 0), ministries=by_kind.get(OrganisationKind.MINISTRY, 0),
        systems=len(apps), rows=sorted(rows.values(), key=lambda r: (-r.total, r.organisation, r.app_name)),
        days=days, outcome_totals=outcome_totals, level_totals=level_totals,
        outcomes=[(o, gettext(OUTCOME_LABELS[o])) for o in OUTCOMES], levels=sorted(level_totals),
        level_labels={code: _level_label(code) for code in level_totals})


def bar_chart(days: list[tuple[dt.date, int, int]], *, width: int = 720, height: int = 220) -> dict[str, Any]:
    """Geometry of a server-rendered SVG bar chart (all calls, passed overlaid) — no script, no inline style."""
    pad_left, pad_bottom, pad_top = 56, 28, 12
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    peak = max((n for _, n, _ in days), default=0) or 1
    slot = plot_w / max(len(days), 1)
    bar_w = max(1.0, slot * 0.7)
    bars = []
    for i, (day, n, passed) in enumerate(days):
        x = pad_left + i * slot + (slot - bar_w) / 2
        h_all = plot_h * n / peak
        h_pass = plot_h * passed / peak
        bars.append({"x": round(x, 1), "w": round(bar_w, 1), "y": round(pad_top + plot_h - h_all, 1),
                     "h": round(h_all, 1), "py": round(pad_top + plot_h - h_pass, 1), "ph": round(h_pass, 1),
                     "label": day.strftime("%m-%d"), "title": f"{day.isoformat()}：{n} 次，通过 {passed} 次",
                     "lx": round(x + bar_w / 2, 1), "show_label": len(days) <= 16 or i % max(1, len(days) // 12) == 0})
    return {"width": width, "height": height, "bars": bars, "peak": peak, "axis_x": pad_left,
            "axis_y": pad_top + plot_h, "top": pad_top, "right": width - 8, "label_y": height - 8,
            "peak_y": pad_top + 4}


def _level_label(code: str) -> str:
    from tongban.verification.levels import AssuranceLevel

    try:
        return AssuranceLevel(int(code.lstrip("lL"))).code_label
    except ValueError:
        return code
