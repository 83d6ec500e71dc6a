"""Security events (logins, lockouts, second factor, roles, passwords) in one place.

For now each event is one structured, masked log line on the `tongban.security` logger; the audit app
(tongban.audit) will take these over so they join the hash-chained log in the same transaction.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from django.http import HttpRequest

from tongban.core.logging import get_logger

log = get_logger("tongban.security")


class SecurityEvent(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_REFUSED = "login_refused"  # locked account or blocked address: the password was not even tried
    LOGOUT = "logout"
    SESSION_IDLE_TIMEOUT = "session_idle_timeout"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_FAILED = "totp_failed"
    TOTP_VERIFIED = "totp_verified"
    TOTP_RESET = "totp_reset"
    ROLE_CHANGED = "role_changed"
    STAFF_CREATED = "staff_created"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  (an event name, not a password)
    PASSWORD_RESET = "password_reset"  # noqa: S105  (an event name, not a password)
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105  (an event name, not a password)
    NETWORK_DENIED = "network_denied"


def username_digest(username: str) -> str:
    """What a failed attempt's username is logged as: it may be a mistyped password, so never the text."""
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:16]


def record_security_event(event: SecurityEvent, *, user: Any = None, request: HttpRequest | None = None,
                          outcome: str = "success", actor: Any = None,
                          details: dict[str, Any] | None = None) -> None:
    """Record one security event. `user` is the subject, `actor` who did it (defaults to the subject)."""
    from tongban.core.security import client_ip

    fields: dict[str, Any] = {"type": str(event), "outcome": outcome}
    if user is not None:
        fields["subject"] = getattr(user, "username", str(user))
        fields["subject_id"] = getattr(user, "pk", None)
    if actor is not None:
        fields["actor"] = getattr(actor, "username", str(actor))
    if request is not None:
        fields["ip"] = client_ip(request)
        fields["user_agent"] = request.headers.get("User-Agent", "")[:200]
        fields["path"] = request.path
    if details:
        fields["details"] = details
    log.info("security_event", **fields)
