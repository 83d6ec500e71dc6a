"""Session time limits: idle timeout (staff after 15 minutes without a request, citizens after 30) and the
absolute cap (12 hours after signing in, whatever the activity); both configurable.

The cap is kept in the session itself: the sign-in time (`SIGNED_IN_AT_KEY`, written at every login by
accounts.signals) and an absolute expiry date for the session store and the cookie (`set_expiry` with a
date, not a number of seconds). Django's default expiry is relative — each save of the session, which the
idle clock below does every 30 s, moved SESSION_COOKIE_AGE forward again, so a session kept busy (a stolen
one too) never reached its cap.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from tongban.accounts.conf import security
from tongban.accounts.events import SecurityEvent, record_security_event

LAST_SEEN_KEY = "_tongban_last_seen"
SIGNED_IN_AT_KEY = "_tongban_signed_in_at"
IDLE_LOGOUT_KEY = "_tongban_idle_logout"
CAP_LOGOUT_KEY = "_tongban_cap_logout"
# Rewrite the timestamp at most this often, so a busy page does not save the session on every request.
TOUCH_EVERY_SECONDS = 30


def _now() -> float:
    return time.time()


def idle_limit_seconds(user: object) -> int:
    conf = security()
    return conf.staff_idle_seconds if getattr(user, "kind", None) == "staff" else conf.citizen_idle_seconds


def session_touch(request: HttpRequest) -> None:
    request.session[LAST_SEEN_KEY] = int(_now())


def session_signed_in_mark(request: HttpRequest, at: float | None = None) -> None:
    """At login: the sign-in time, and an absolute expiry date (sign-in + the cap) for the store and the
    cookie, so that no later save of the session moves it."""
    signed_in = int(_now() if at is None else at)
    request.session[SIGNED_IN_AT_KEY] = signed_in
    request.session.set_expiry(dt.datetime.fromtimestamp(signed_in + security().session_max_seconds, tz=dt.UTC))


def _signed_in_at(request: HttpRequest, user: Any) -> float | None:
    """The session's sign-in time. A session signed in before the time was kept in it (an upgrade) takes it
    from its LoginSession row, once; None when neither knows (the session is then ended)."""
    value = request.session.get(SIGNED_IN_AT_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    key = request.session.session_key
    if not key:
        return None
    from tongban.accounts.models import LoginSession
    from tongban.accounts.sessions import key_hash

    created = (LoginSession.objects.filter(key_hash=key_hash(key), user_id=user.pk)
               .values_list("created_at", flat=True).first())
    if created is None:
        return None
    session_signed_in_mark(request, created.timestamp())
    return created.timestamp()


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = _now()
            cap = security().session_max_seconds
            signed_in = _signed_in_at(request, user)
            last = request.session.get(LAST_SEEN_KEY)
            limit = idle_limit_seconds(user)
            if signed_in is None or now - signed_in > cap:
                record_security_event(SecurityEvent.SESSION_EXPIRED, user=user, request=request,
                                      details={"session_seconds": int(now - signed_in) if signed_in else None,
                                               "limit": cap})
                logout(request)
                request.session[CAP_LOGOUT_KEY] = True
            elif isinstance(last, int | float) and now - last > limit:
                record_security_event(SecurityEvent.SESSION_IDLE_TIMEOUT, user=user, request=request,
                                      details={"idle_seconds": int(now - last), "limit": limit})
                logout(request)
                request.session[IDLE_LOGOUT_KEY] = True
            elif not isinstance(last, int | float) or now - last >= TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = int(now)
                if getattr(user, "kind", None) == "citizen":
                    from tongban.accounts.sessions import session_touch as login_session_touch

                    login_session_touch(request)
        return self.get_response(request)
