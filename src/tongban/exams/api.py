"""The public JSON API of driving-test booking (/api/v1/exams/): the sessions open for booking, so a local
platform (粤省事) or the 12123 app can show the same schedule. No personal data is served here."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tongban.core import clock
from tongban.exams.models import ExamSession, SessionStatus

router = Router(tags=["exams"])


class ErrorDetail(Schema):
    code: str
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class SessionsIn(Schema):
    subject: Literal["", "subject1", "subject2", "subject3_road", "subject3_safety"] = Field(
        "", description="考试科目")
    licence_class: str = Field("", pattern=r"^([A-F][1-6]?)?$", description="准驾车型，如 C1")
    region: str = Field("", pattern=r"^(\d{6})?$", description="考场所在行政区划代码（省、市或区县）")


class SessionOut(Schema):
    id: int
    site_code: str
    site_name: str
    address: str
    region_code: str
    subject: str
    licence_classes: list[str]
    starts_at: dt.datetime
    booking_closes_at: dt.datetime
    capacity: int
    seats_free: int
    status: str


class SessionList(Schema):
    sessions: list[SessionOut]


def _prefix(region: str) -> str:
    return region[:2] if region.endswith("0000") else region[:4] if region.endswith("00") else region


@router.get("/sessions", response={200: SessionList, 400: ErrorOut, 422: ErrorOut, 503: ErrorOut},
            operation_id="exams_list_sessions", summary="可预约的考试场次（未来 200 场以内）")
def list_sessions(request: HttpRequest, params: Query[SessionsIn]) -> dict[str, Any]:
    rows = (ExamSession.objects.filter(status__in=(SessionStatus.PUBLISHED, SessionStatus.ALLOCATED),
                                       starts_at__gt=clock.now()).select_related("site").order_by("starts_at"))
    if params.subject:
        rows = rows.filter(subject=params.subject)
    if params.region:
        rows = rows.filter(site__region_code__startswith=_prefix(params.region))
    out = []
    for s in rows[:500]:
        if params.licence_class and params.licence_class not in s.licence_classes:
            continue
        out.append({"id": s.pk, "site_code": s.site.code, "site_name": s.site.name, "address": s.site.address,
                    "region_code": s.site.region_code, "subject": s.subject, "licence_classes": s.licence_classes,
                    "starts_at": s.starts_at, "booking_closes_at": s.booking_closes_at, "capacity": s.capacity,
                    "seats_free": s.seats_free, "status": s.status})
        if len(out) == 200:
            break
    return {"sessions": out}
