"""Reads of 一键挪车 with the reader's rights applied: the requester's own requests, the owner's view (by the
SMS link's token or their account), the traffic police's queue and the contested requests to review."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.carmove.models import MoveRequest, MoveStatus


def requests_of(user: Any) -> QuerySet[MoveRequest]:
    return MoveRequest.objects.filter(requester_id=user.pk).order_by("-created_at")


def request_for_requester(user: Any, pk: int) -> MoveRequest | None:
    return MoveRequest.objects.filter(pk=pk, requester_id=getattr(user, "pk", None)).first()


def request_for_owner(user: Any, pk: int) -> MoveRequest | None:
    return MoveRequest.objects.filter(pk=pk, owner_user_id=getattr(user, "pk", None)).first()


def _traffic_scope(user: Any, rows: QuerySet[MoveRequest]) -> QuerySet[MoveRequest]:
    from tongban.accounts.roles import Department
    from tongban.accounts.selectors import officer_scope

    scope = officer_scope(user)
    if scope is None or scope.department != Department.TRAFFIC:
        return rows.none()
    return rows.filter(region_code__startswith=scope.region_prefix)


def police_queue(user: Any) -> QuerySet[MoveRequest]:
    """Escalated (催单) requests not yet handled, in the officer's region, oldest first."""
    rows = MoveRequest.objects.filter(escalated_at__isnull=False, handled_at__isnull=True)
    return _traffic_scope(user, rows).order_by("escalated_at")


def contested(user: Any) -> QuerySet[MoveRequest]:
    rows = MoveRequest.objects.filter(status=MoveStatus.CONTESTED)
    return _traffic_scope(user, rows).order_by("replied_at")


def request_for_officer(user: Any, pk: int) -> MoveRequest | None:
    return _traffic_scope(user, MoveRequest.objects.filter(pk=pk)).first()
