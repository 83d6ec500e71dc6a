"""Every account's signed-in sessions, the list a citizen sees, and ending them (works with the db and
cache session engines).

A row per login (LoginSession), staff and citizens alike: when, from where (masked address), on what (a
short device summary), last seen. Revoking deletes the session from Django's session store — whichever
engine holds it — so the next request from that browser is signed out; deleting the row ends the single
sign-on the session carried (tongban.sso.logout). Staff rows exist so that an account shut out by the
security admin (accounts.services) loses its open sessions too.
"""

from __future__ import annotations

import hashlib
import ipaddress
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from tongban.accounts.auditing import account_subject, audit_account_event, staff_actor
from tongban.accounts.models import LoginSession, User
from tongban.core.errors import TongbanError
from tongban.core.security import client_ip

# Sent when a signed-in session gets a new key (session_key_rotate), with old_key_hash, new_key_hash and user:
# whatever is tied to the session by its key's hash follows it (tongban.sso: the session's sign-ins).
session_key_rotated = Signal()

# Sent, with user and reason, when every session of an account has been ended for it (password recovered,
# account closed, shut out by staff): whatever else the account is signed in to ends too (tongban.sso: its
# sign-ins at relying parties, including those no session row points at any more).
account_sessions_all_ended = Signal()


def key_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def mask_ip(value: str) -> str:
    """`203.0.113.57` -> `203.0.*.*`; IPv6 keeps its first two groups."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if address.version == 4:
        a, b, _, _ = str(address).split(".")
        return f"{a}.{b}.*.*"
    groups = address.exploded.split(":")
    return f"{groups[0]}:{groups[1]}:*"


def user_agent_summary(value: str) -> str:
    """A coarse device label (browser · system): enough to recognise one's own devices, no fingerprint."""
    ua = value or ""
    browser = next((name for token, name in (("Edg/", "Edge"), ("MicroMessenger", "微信"), ("Firefox/", "Firefox"),
                                             ("Chrome/", "Chrome"), ("Safari/", "Safari")) if token in ua), "浏览器")
    system = next((name for token, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))
                   if token in ua), "")
    return f"{browser} · {system}" if system else browser


def _store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_record(request: HttpRequest, user: Any) -> LoginSession | None:
    """Called on login (tongban.accounts.signals): one row for the new session of a citizen or staff user."""
    session = getattr(request, "session", None)
    if session is None or getattr(user, "pk", None) is None:
        return None
    if session.session_key is None:
        session.save()
    key = session.session_key
    if not key:
        return None
    now = timezone.now()
    fields = {"created_at": now, "last_seen_at": now,
              "user_agent": user_agent_summary(request.headers.get("User-Agent", ""))[:64],
              "ip_masked": mask_ip(client_ip(request)),
              "method": str(getattr(request, "tongban_login_method", "password"))[:16]}
    # The same person signing in again keeps the session key (Django cycles it only from an anonymous
    # session): the row is brought up to date rather than replaced, since deleting it ends the session's
    # single sign-on (tongban.sso.logout) — a re-authentication (prompt=login, max_age) must not.
    if LoginSession.objects.filter(key_hash=key_hash(key), user_id=user.pk).update(**fields):
        return LoginSession.objects.get(key_hash=key_hash(key))
    row = LoginSession(user=user, key_hash=key_hash(key), session_key=key, **fields)
    LoginSession.objects.filter(key_hash=row.key_hash).delete()
    row.save()
    return row


def session_touch(request: HttpRequest) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        LoginSession.objects.filter(key_hash=key_hash(key)).update(last_seen_at=timezone.now())


def session_key_rotate(request: HttpRequest, user: Any) -> bool:
    """A new session key for the signed-in session of `user`, its data kept (Django's cycle_key), when what
    the session is worth changes — the person's assurance level went up (citizens.citizen_verify_identity).
    A key someone planted or saw before (session fixation) is worth nothing after. The session's row and
    whatever is tied to it by the key's hash (session_key_rotated) follow the new key. False when the request
    is not that user's signed-in session."""
    session = getattr(request, "session", None)
    if session is None or getattr(getattr(request, "user", None), "pk", None) != getattr(user, "pk", None):
        return False
    old = session.session_key
    session.cycle_key()
    new = session.session_key
    if not old or not new or old == new:
        return bool(new)
    with transaction.atomic():
        row = LoginSession.objects.select_for_update().filter(key_hash=key_hash(old), user_id=user.pk).first()
        if row is not None:
            row.key_hash = key_hash(new)
            row.session_key = new
            row.save(update_fields=["key_hash", "session_key"])
        session_key_rotated.send(sender=LoginSession, old_key_hash=key_hash(old), new_key_hash=key_hash(new),
                                 user=user)
    return True


def session_forget(request: HttpRequest) -> None:
    """On logout: the row goes with the session."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        LoginSession.objects.filter(key_hash=key_hash(key)).delete()


def sessions_of(user: Any) -> list[LoginSession]:
    return list(LoginSession.objects.filter(user_id=user.pk).order_by("-last_seen_at", "-pk")[:50])


def current_session_id(request: HttpRequest) -> int | None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if not key:
        return None
    return LoginSession.objects.filter(key_hash=key_hash(key)).values_list("pk", flat=True).first()


def _end(row: LoginSession) -> None:
    _store()().delete(row.session_key)
    row.delete()


@transaction.atomic
def session_revoke(*, user: User, session_id: int, request: HttpRequest | None = None) -> None:
    """End one of the user's own sessions (another user's session is simply not found)."""
    row = LoginSession.objects.select_for_update().filter(pk=session_id, user_id=user.pk).first()
    if row is None:
        raise TongbanError("not_found")
    _end(row)
    audit_account_event("session_revoked", actor=user, subject=account_subject(user), request=request,
                        details={"session": session_id, "device": row.user_agent,
                                 "ip": row.ip_masked})


@transaction.atomic
def sessions_revoke_others(*, user: User, request: HttpRequest) -> int:
    current = current_session_id(request)
    rows = list(LoginSession.objects.select_for_update().filter(user_id=user.pk).exclude(pk=current or 0))
    for row in rows:
        _end(row)
    if rows:
        audit_account_event("session_revoked", actor=user, subject=account_subject(user), request=request,
                            details={"sessions": len(rows), "scope": "others"})
    return len(rows)


def sessions_end_all(user: Any, *, reason: str = "session_ended") -> int:
    """Every session of the account (password recovered, account closed, account shut out by staff), in the
    caller's transaction: each is deleted from the session store, and its row with it — which ends the
    single sign-on it carried (tongban.sso.logout: tokens revoked, relying parties told by back-channel
    through the outbox). Sign-ins at relying parties that no row carries any more are ended too. The number
    of web sessions ended."""
    rows = list(LoginSession.objects.filter(user_id=user.pk).order_by("pk"))
    for row in rows:
        _end(row)
    account_sessions_all_ended.send(sender=User, user=user, reason=reason)
    return len(rows)


def account_sessions_end(*, user: Any, actor: Any, reason: str, request: HttpRequest | None = None) -> int:
    """Staff shut an account out (disabled, its password or second factor reset): every session of the
    account ends, with an audit entry `sessions_ended`, in the caller's transaction (the change's). `actor`
    is the staff user, or None for an operator at the console. The number of web sessions ended."""
    ended = sessions_end_all(user, reason=reason)
    audit_account_event("sessions_ended", actor=staff_actor(actor),
                        subject=account_subject(user), request=request,
                        details={"sessions": ended, "reason": reason})
    return ended
