"""The requester's view of a 一键挪车 request as JSON (`/api/v1/carmove/requests/{id}`, signed-in session): the
status and what can be done next — never anything about the owner."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from tongban.carmove import conf, selectors, services

router = Router(tags=["一键挪车"])
_MAX_ID = 2**63 - 1


class MoveRequestOut(Schema):
    id: int
    status: str
    status_label: str
    created_at: dt.datetime
    nudge_available_at: dt.datetime
    escalated: bool
    hotline: str


@router.get("/requests/{request_id}", response=MoveRequestOut, auth=django_auth,
            summary="本人发起的挪车请求的状态")
def request_status(request: HttpRequest, request_id: int) -> MoveRequestOut:
    move = selectors.request_for_requester(request.user, request_id) if 0 < request_id <= _MAX_ID else None
    if move is None:
        raise services.not_found()
    return MoveRequestOut(id=move.pk, status=move.status, status_label=str(move.get_status_display()),
                          created_at=move.created_at, nudge_available_at=services.nudge_available_at(move),
                          escalated=move.escalated_at is not None, hotline=str(conf.get("HOTLINE")))



