"""Reads for operators: message counts, dead letters, lanes in trouble, reconciliation reports, and one
message shown masked."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from tongban.core.masking import mask_id_number, mask_name
from tongban.exchange.messages import BUILDERS
from tongban.exchange.models import Lane, MessageStatus, OutMessage, ReconciliationReport


def counts_by_status() -> dict[str, int]:
    return {row["status"]: row["n"] for row in OutMessage.objects.values("status").annotate(n=Count("id"))}


def dead_letters(limit: int = 100) -> QuerySet[OutMessage]:
    return OutMessage.objects.filter(status=MessageStatus.DEAD).order_by("-id")[:limit]


def lanes_in_trouble() -> QuerySet[Lane]:
    return Lane.objects.filter(failures__gt=0).order_by("id")


def recent_reports(limit: int = 10) -> QuerySet[ReconciliationReport]:
    return ReconciliationReport.objects.all()[:limit]


def _mask(personal: dict[str, Any] | None) -> dict[str, str] | None:
    if not personal:
        return None
    out = {}
    for name, value in personal.items():
        text = str(value or "")
        out[name] = mask_id_number(text) if "id_number" in name else mask_name(text) if "name" in name else "***"
    return out


def message_masked(message: OutMessage) -> dict[str, Any]:
    """What the message carries, as it would be sent, personal fields masked."""
    builder = BUILDERS.get(message.type)
    built = builder([message.source_id]).get(message.source_id) if builder else None
    if built is None:
        return {"missing": True}
    return {"entity": built.entity, "seq": built.seq, "body": built.body, "personal": _mask(built.personal)}
