"""The back office's reads and records around cases that the case engine does not own: opening a case's
detail (a read of personal data, audited), which items allow bulk acceptance, the statistics and their
charts. Every list is built on tongban.cases.selectors, so the officer's department and region apply."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from django.db import transaction
from django.db.models import Count, F
from django.db.models.functions import TruncMonth
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from tongban.accounts.regions import region_name
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.models import Case
from tongban.cases.selectors import case_for_officer, officer_inbox, overdue_filter
from tongban.cases.workflow import get_workflow, workflows
from tongban.core import clock
from tongban.core.calendar import working_days_between


@transaction.atomic
def case_detail_open(*, user: Any, case_id: int, request: HttpRequest | None = None) -> Case:
    """The case for an officer covering it (else not_found), its opening audited as a read of personal data
    (the answers, the address) in the same transaction."""
    case = case_for_officer(user, case_id)
    audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(user), subject=Subject("cases.case", case.pk),
                 request=request, details={"event": "case_opened", "item": case.item_code, "state": case.state})
    return case


def bulk_acceptable(case: Case) -> bool:
    """An item allows bulk acceptance when nothing in its application needs an officer's eyes before
    acceptance: every required material is one the platform obtains itself (免提交). Only cases waiting
    for acceptance qualify."""
    if case.state != "submitted":
        return False
    materials = (case.item_snapshot or {}).get("materials") or []
    return all(isinstance(m, dict) and (m.get("obtained_by_platform") or m.get("required", True) is False)
               for m in materials)


def all_states() -> list[tuple[str, str]]:
    """Every state of every workflow, once, in the workflows' order (drafts are not in the inbox)."""
    seen: dict[str, str] = {}
    # The default workflow's labels first (a state key may be labelled differently in another workflow).
    for wf in sorted(workflows().values(), key=lambda w: (w.key != "two_review", w.key)):
        for key, state in wf.states.items():
            if key != "draft":
                seen.setdefault(key, state.label)
    return list(seen.items())


# -- statistics ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""


@dataclass
class Statistics:
    total: int
    open: int
    overdue: int
    finished: int
    finished_late: int
    average_days: float | None  # working days from submission to the result, finished cases
    by_item: list[Bar]
    by_state: list[Bar]
    by_region: list[Bar]
    by_month: list[Bar]

    @property
    def overdue_share(self) -> float:
        return self.overdue / self.open if self.open else 0.0

    @property
    def late_share(self) -> float:
        return self.finished_late / self.finished if self.finished else 0.0


def case_statistics(user: Any, *, months: int = 12, today: dt.date | None = None) -> Statistics:
    """Cases in the officer's scope: by item, state, region (one level below the officer's) and month of
    submission; the open ones overdue; the average handling time in working days."""
    today = today or clock.today_local()
    # The inbox's base (region as a code range, which an index serves) without its ordering or join.
    rows = officer_inbox(user).select_related(None).order_by()
    by_state_raw = dict(rows.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    ends = {k for wf in workflows().values() for k in wf.end_states}
    open_rows = rows.exclude(state__in=ends)
    open_count = sum(n for state, n in by_state_raw.items() if state not in ends)
    overdue = open_rows.filter(overdue_filter(today)).count()
    finished = rows.filter(finished_on__isnull=False, clock_started_on__isnull=False)
    late = finished.filter(due_on__isnull=False, finished_on__gt=F("due_on")).count()
    # Working days per (start, finish) pair, weighted by how many cases share it: a few thousand pairs at
    # most, however many cases, and the same calendar (调休 included) as the deadlines.
    pairs = finished.values_list("clock_started_on", "finished_on").annotate(n=Count("id"))
    total_days = 0
    finished_count = 0
    for started, ended, n in pairs:
        total_days += max(0, working_days_between(started, ended)) * n
        finished_count += n
    labels = dict(all_states())
    by_item = [Bar(title, n, code) for code, title, n in
               rows.values_list("item_code", "item_title").annotate(n=Count("id")).order_by("-n", "item_code")
               .values_list("item_code", "item_title", "n")[:10]]
    by_region = _by_region(user, rows)
    first_month = (today.replace(day=1) - dt.timedelta(days=31 * (months - 1))).replace(day=1)
    start = dt.datetime.combine(first_month, dt.time(), tzinfo=clock.SHANGHAI)
    monthly = dict(rows.filter(submitted_at__gte=start)
                   .annotate(month=TruncMonth("submitted_at", tzinfo=clock.SHANGHAI))
                   .values_list("month").annotate(n=Count("id")).values_list("month", "n"))
    counts = Counter({(m.year, m.month): n for m, n in monthly.items() if m is not None})
    by_month = []
    cursor = first_month
    while cursor <= today:
        by_month.append(Bar(f"{cursor.year}-{cursor.month:02d}", counts.get((cursor.year, cursor.month), 0)))
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    return Statistics(
        total=sum(by_state_raw.values()), open=open_count, overdue=overdue, finished=finished_count,
        finished_late=late, average_days=(total_days / finished_count) if finished_count else None,
        by_item=by_item,
        by_state=[Bar(labels.get(s, s), n, s) for s, n in sorted(by_state_raw.items(), key=lambda kv: -kv[1])],
        by_region=by_region, by_month=by_month)


def _by_region(user: Any, rows: Any) -> list[Bar]:
    """Counts by the region one level below the officer's (a city's counties; a county: itself)."""
    from tongban.accounts.selectors import officer_scope

    scope = officer_scope(user)
    width = {2: 4, 4: 6}.get(len(scope.region_prefix), 6) if scope else 6
    counts: Counter[str] = Counter()
    for code, n in rows.values_list("region_code").annotate(n=Count("id")).values_list("region_code", "n"):
        counts[code[:width].ljust(6, "0")] += n
    return [Bar(region_name(code), n, code) for code, n in counts.most_common(15)]


# -- charts ---------------------------------------------------------------------------------------------------

PALETTE = ("#1d70b8", "#00703c", "#d4351c", "#f47738", "#4c2c92", "#28a197", "#b58840", "#5694ca")


def bar_chart(bars: list[Bar], *, title: str, unit: str = "件", width: int = 640) -> SafeString:
    """A horizontal bar chart as inline SVG (no script): a bar per label, its value written beside it.
    The chart is an image with a title; the same figures are in a table next to it for screen readers."""
    row = 28
    label_w = 190
    height = max(1, len(bars)) * row + 10
    top = max((b.value for b in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>"]
    span = width - label_w - 70
    for i, bar in enumerate(bars):
        y = 5 + i * row
        w = max(1.0, span * bar.value / top) if bar.value else 0
        text = bar.label if len(bar.label) <= 12 else bar.label[:11] + "…"
        value = f"{bar.value:g}"
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="13" fill="#0b0c0c">'
                     f"{escape(text)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" font-size="13" fill="#0b0c0c">'
                     f"{escape(value)} {escape(unit)}</text>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text escaped above)


def column_chart(bars: list[Bar], *, title: str, width: int = 640, height: int = 220) -> SafeString:
    """Vertical columns (cases per month), the month under each column and the count above it."""
    n = max(1, len(bars))
    top = max((b.value for b in bars), default=0) or 1
    base = height - 28
    step = (width - 20) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>",
             f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#505a5f"/>']
    for i, bar in enumerate(bars):
        h = (base - 24) * bar.value / top
        x = 10 + i * step + step * 0.15
        w = step * 0.7
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#1d70b8"/>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="11" '
                     f'fill="#0b0c0c">{bar.value:g}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
                     f'fill="#0b0c0c">{escape(bar.label[2:])}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text escaped above)


def share_chart(share: float, *, title: str, width: int = 320) -> SafeString:
    """One bar split in two: the share (red) and the rest (green), the percentage written on it."""
    share = min(max(share, 0.0), 1.0)
    w = (width - 2) * share
    return mark_safe(  # noqa: S308  (numbers and an escaped title only)
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart share" viewBox="0 0 {width} 40" role="img" '
        f'aria-label=_("{escape(title)}：{share:.1%}")><title>{escape(title)}</title>'
        f'<rect x="1" y="6" width="{width - 2}" height="24" fill="#00703c"/>'
        f'<rect x="1" y="6" width="{w:.1f}" height="24" fill="#d4351c"/>'
        f'<text x="{width / 2}" y="23" text-anchor="middle" font-size="14" fill="#ffffff" '
        f'stroke="#0b0c0c" stroke-width="0.6" paint-order="stroke">{share:.1%}</text></svg>')


def state_label(workflow: str, state: str) -> str:
    return get_workflow(workflow).label_of(state)
