"""Security events (logins, lockouts, second factor, roles, passwords) in one place.

Each event is an entry of the hash-chained audit log, written in the caller's transaction (so a
role change and its audit entry commit or roll back together), and one masked line on the
`tongban.security` logger for the operators' log pipeline.
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
    SESSION_EXPIRED = "session_expired"  # the absolute cap after signing in (TONGBAN_SESSION_MAX_AGE_SECONDS)
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    TOTP_ENROLMENT_STARTED = "totp_enrolment_started"  # a new, unconfirmed device (its secret) made
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
    _audit(event, user=user, request=request, outcome=outcome, actor=actor, details=details)
    log.info("security_event", **fields)


_UNPROVEN = frozenset({SecurityEvent.LOGIN_FAILED, SecurityEvent.LOGIN_REFUSED, SecurityEvent.TOTP_FAILED,
                       SecurityEvent.NETWORK_DENIED, SecurityEvent.ACCOUNT_LOCKED})
_OUTCOMES = {"success": "success", "failure": "failure", "failed": "failure", "denied": "denied", "error": "error"}


def _audit(event: SecurityEvent, *, user: Any, request: HttpRequest | None, outcome: str, actor: Any,
           details: dict[str, Any] | None) -> None:
    from tongban.audit.actions import SECURITY_EVENT_ACTIONS, Outcome
    from tongban.audit.services import Actor, Subject, audit_record

    # A failed or refused attempt was made by whoever is at the keyboard, not (yet) by the account.
    unproven = event in _UNPROVEN
    who = actor if actor is not None else (None if unproven else user)
    if isinstance(who, str):
        audit_actor = Actor.cli() if who == "cli" else Actor.system(who)
    elif who is not None and getattr(who, "is_authenticated", False):
        audit_actor = Actor.user(who)
    elif not unproven and request is not None and getattr(request, "user", None) is not None \
            and request.user.is_authenticated:
        audit_actor = Actor.user(request.user)
    else:
        audit_actor = Actor.anonymous()
    subject = Subject("accounts.user", user.pk) if getattr(user, "pk", None) is not None else None
    audit_record(
        action=SECURITY_EVENT_ACTIONS[str(event)],
        outcome=Outcome(_OUTCOMES.get(outcome, "failure")),
        actor=audit_actor,
        subject=subject,
        request=request,
        details={"event": str(event), **(details or {})},
    )
