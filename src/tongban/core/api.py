"""Shared-kernel endpoints: the working-day calendar, for local platforms that compute deadlines."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from tongban.core import calendar

router = Router(tags=["core"])


class AddWorkingDaysIn(Schema):
    start: dt.date = Field(description="起始日期（不计入），YYYY-MM-DD")
    days: int = Field(ge=0, le=3650, description="工作日天数")


class AddWorkingDaysOut(Schema):
    start: dt.date
    days: int
    due: dt.date
    provisional: bool = Field(description="所涉年份的国务院放假安排尚未发布时为 true")


class BetweenIn(Schema):
    start: dt.date
    end: dt.date


class BetweenOut(Schema):
    start: dt.date
    end: dt.date
    working_days: int
    provisional: bool


@router.get("/calendar/add-working-days", response=AddWorkingDaysOut, summary="N 个工作日之后的日期")
def add_working_days(request: HttpRequest, params: Query[AddWorkingDaysIn]) -> AddWorkingDaysOut:
    due = calendar.add_working_days(params.start, params.days)
    return AddWorkingDaysOut(start=params.start, days=params.days, due=due,
                             provisional=calendar.is_provisional(params.start) or calendar.is_provisional(due))


@router.get("/calendar/working-days-between", response=BetweenOut, summary="两日期之间的工作日数，区间 (start, end]")
def working_days_between(request: HttpRequest, params: Query[BetweenIn]) -> BetweenOut:
    if abs((params.end - params.start).days) > 3660:
        from tongban.core.errors import TongbanError

        raise TongbanError("invalid_date", message_zh="日期区间不能超过十年。", message_en="The range may not exceed ten years.")
    return BetweenOut(start=params.start, end=params.end,
                      working_days=calendar.working_days_between(params.start, params.end),
                      provisional=calendar.is_provisional(params.start) or calendar.is_provisional(params.end))
