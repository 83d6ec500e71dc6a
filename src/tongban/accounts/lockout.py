"""Failed-login counting and account lockout, per account and per client address.

Counters live in the cache (tongban.core.ratelimit). An account is locked after N failures within the
window (TONGBAN_LOGIN_MAX_FAILURES, default 5) for TONGBAN_LOCKOUT_SECONDS; the lock is written to the
user row too, so operators see it and it survives a cache flush. A username that does not exist is
counted and "locked" the same way, in the cache only, so the answers never tell whether it exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from tongban.accounts.conf import security
from tongban.accounts.events import SecurityEvent, record_security_event, username_digest
from tongban.core import ratelimit


def _account_key(username: str) -> str:
    return f"login-fail:acct:{username_digest(username)}"


def _lock_key(username: str) -> str:
    return f"login-lock:{username_digest(username)}"


def _ip_key(ip: str) -> str:
    return f"login-fail:ip:{ip}"


def address_blocked(ip: str) -> bool:
    conf = security()
    state = ratelimit.peek(_ip_key(ip), limit=conf.login_ip_max_failures, window=conf.login_failure_window)
    return state.count >= conf.login_ip_max_failures


def login_locked(username: str, user: Any = None) -> bool:
    if cache.get(_lock_key(username)):
        return True
    return user is not None and user.is_locked()


def login_failure_record(*, username: str, ip: str, user: Any = None, request: HttpRequest | None = None,
                         reason: str = "bad_credentials") -> bool:
    """Count a failed attempt; lock the account when it reaches the limit. True when now locked."""
    conf = security()
    ratelimit.hit(_ip_key(ip), limit=conf.login_ip_max_failures, window=conf.login_failure_window)
    state = ratelimit.hit(_account_key(username), limit=conf.login_max_failures, window=conf.login_failure_window)
    record_security_event(SecurityEvent.LOGIN_FAILED, user=user, request=request, outcome="failure",
                          details={"reason": reason, "username_digest": username_digest(username),
                                   "failures": round(state.count, 2)})
    if state.count >= conf.login_max_failures:
        account_lock(username=username, user=user, request=request)
        return True
    return False


def account_lock(*, username: str, user: Any = None, request: HttpRequest | None = None) -> dt.datetime:
    conf = security()
    until = timezone.now() + dt.timedelta(seconds=conf.lockout_seconds)
    cache.set(_lock_key(username), 1, timeout=conf.lockout_seconds)
    if user is not None:
        # Through the user model, not type(user): views pass request.user, a SimpleLazyObject.
        get_user_model()._default_manager.filter(pk=user.pk).update(locked_until=until)
        user.locked_until = until
    record_security_event(SecurityEvent.ACCOUNT_LOCKED, user=user, request=request, outcome="locked",
                          details={"until": until.isoformat(), "username_digest": username_digest(username)})
    return until


def login_counters_clear(username: str) -> None:
    """After a successful login or an unlock: the account starts again from zero failures."""
    conf = security()
    ratelimit.reset(_account_key(username), window=conf.login_failure_window)
    cache.delete(_lock_key(username))
