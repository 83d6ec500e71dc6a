"""Reads of the risk app: whether a response is in force, the console's lists, a citizen's verifications."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet

from tongban.core import clock
from tongban.risk.models import Alert, Block, BlockStatus, ExportTicket, Incident


def response_active(kind: str, target: str) -> bool:
    """Whether an automatic response `kind` is in force on `target` (the cache first, then the table, so a
    flushed cache does not lift a block)."""
    if cache.get(f"risk-block:{kind}:{target}") is not None:
        return True
    now = clock.now()
    return Block.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), kind=kind, target=target,
                                status=BlockStatus.ACTIVE).exists()


def can_manage(user: Any) -> bool:
    from tongban.accounts.roles import StaffRole

    return bool(getattr(user, "has_role", lambda _r: False)(StaffRole.SECURITY_ADMIN))


def alerts_for_console(user: Any, *, limit: int = 200) -> QuerySet[Alert]:
    if not can_manage(user):
        return Alert.objects.none()
    return Alert.objects.select_related("rule").order_by("status", "-created_at")[:limit]


def blocks_active(user: Any) -> QuerySet[Block]:
    if not can_manage(user):
        return Block.objects.none()
    return Block.objects.select_related("alert__rule").filter(status=BlockStatus.ACTIVE).order_by("-created_at")


def tickets_pending(user: Any) -> QuerySet[ExportTicket]:
    if not can_manage(user):
        return ExportTicket.objects.none()
    return ExportTicket.objects.select_related("requester").filter(status="pending").order_by("created_at")


def incidents(user: Any) -> QuerySet[Incident]:
    if not can_manage(user):
        return Incident.objects.none()
    return Incident.objects.select_related("alert__rule").prefetch_related("timeline__actor")[:50]
