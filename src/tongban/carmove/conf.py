"""The service's limits, read from settings.TONGBAN_CARMOVE (each key optional)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "MONTHLY_LIMIT": 5,  # requests per user per calendar month (Asia/Shanghai)
    "PLATE_DAILY_LIMIT": 3,  # requests about one plate in 24 hours, whoever sends them
    "BURST_LIMIT": 5,  # requests per user per minute (protects the traffic source)
    "NUDGE_AFTER_MINUTES": 10,  # 催单 allowed this long after the last message to the owner
    "MALICIOUS_FOR_BAN": 3,  # confirmed malicious requests within a year ...
    "BAN_DAYS": 365,  # ... ban the requester this long
    "MAX_PHOTOS": 3,
    "MAX_PHOTO_BYTES": 5 * 1024 * 1024,
    "DEFAULT_REGION": "330106",
    "HOTLINE": "0571-87280000",  # the local traffic police's duty line, shown with 122
}


def get(name: str) -> Any:
    return {**DEFAULTS, **getattr(settings, "TONGBAN_CARMOVE", {})}[name]
