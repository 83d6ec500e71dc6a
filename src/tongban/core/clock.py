"""Time is timezone-aware, stored in UTC, shown in Asia/Shanghai (invariant 8)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    return timezone.now()


def today_local() -> dt.date:
    """Today's date in Asia/Shanghai: what a citizen or officer calls today."""
    return timezone.now().astimezone(SHANGHAI).date()


def to_local(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        raise ValueError("naive datetime: store and pass aware datetimes only")
    return value.astimezone(SHANGHAI)
