"""Reconciliation with the national platform: per message type and day, the count and a digest (SM3 over
the sorted idempotency keys) on both sides; where they differ, the keys themselves, so the report names
what is missing on either side."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.exchange import wire
from tongban.exchange.client import HttpExchangeClient, get_client
from tongban.exchange.messages import CASE_EVENT, TYPES
from tongban.exchange.models import MessageStatus, OutMessage, ReconciliationReport


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    from tongban.core.clock import SHANGHAI

    start = dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)
    return start, start + dt.timedelta(days=1)


def expected_keys(type_: str, day: dt.date) -> list[str]:
    """What the national platform should hold for the day. Case events come from the source (every
    transition of a hooked item's case, whether sent live or by a backfill); the others from our outbox."""
    if type_ == CASE_EVENT:
        from tongban.cases.models import CaseEvent
        from tongban.catalog.models import ImplementationVersion

        start, end = _day_bounds(day)
        hooked = ImplementationVersion.objects.filter(hooked_national=True).values("id")
        ids = (CaseEvent.objects.filter(kind="transition", created_at__gte=start, created_at__lt=end,
                                        case__item_version_id__in=hooked).values_list("id", flat=True))
        return sorted(f"{CASE_EVENT}:{i}" for i in ids)
    rows = OutMessage.objects.filter(type=type_, day=day).exclude(status=MessageStatus.DEAD)
    return sorted(f"{type_}:{s}" for s in rows.values_list("source_id", flat=True))


def reconcile_day(*, day: dt.date, client: HttpExchangeClient | None = None, sample: int = 20) -> ReconciliationReport:
    client = client or get_client()
    theirs: dict[str, Any] = client.digest(day.isoformat()).get("types", {})
    lines = []
    for type_ in TYPES:
        ours = expected_keys(type_, day)
        mine = {"count": len(ours), "digest": wire.keys_digest(ours)}
        other = theirs.get(type_, {"count": 0, "digest": wire.keys_digest([])})
        line: dict[str, Any] = {"type": type_, "ours": mine["count"], "theirs": other.get("count", 0),
                                "match": mine["digest"] == other.get("digest")}
        if not line["match"]:
            remote = set(client.keys(type_, day.isoformat()))
            local = set(ours)
            line["missing_there"] = sorted(local - remote)[:sample]
            line["extra_there"] = sorted(remote - local)[:sample]
            line["missing_there_count"] = len(local - remote)
            line["extra_there_count"] = len(remote - local)
        lines.append(line)
    report = ReconciliationReport.objects.create(day=day, ok=all(x["match"] for x in lines), lines=lines)
    audit_record(action=Action.EXCHANGE_RECONCILE, actor=Actor.system("exchange.reconcile"),
                 subject=Subject("exchange.reconciliation", report.pk),
                 details={"day": day.isoformat(), "ok": report.ok,
                          "differences": [x["type"] for x in lines if not x["match"]]})
    return report
