"""The evaluation settings, with their defaults (override in Django settings)."""

from __future__ import annotations

from django.conf import settings


def window_days() -> int:
    """Calendar days after a case ends during which its applicant may rate it (and change the rating once)."""
    return int(getattr(settings, "TONGBAN_EVALUATION_WINDOW_DAYS", 30))


def rectify_working_days() -> int:
    """Working days a department has to rectify a verified bad review (national rule: 15)."""
    return int(getattr(settings, "TONGBAN_EVALUATION_RECTIFY_WORKING_DAYS", 15))


def link_days() -> int:
    """How long the rating link in an SMS stays valid (calendar days)."""
    return int(getattr(settings, "TONGBAN_EVALUATION_LINK_DAYS", window_days()))


def public_url() -> str:
    return str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
