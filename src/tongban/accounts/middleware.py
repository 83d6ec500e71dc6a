"""Idle session timeout: staff after 15 minutes without a request, citizens after 30 (configurable)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from tongban.accounts.conf import security
from tongban.accounts.events import SecurityEvent, record_security_event

LAST_SEEN_KEY = "_tongban_last_seen"
IDLE_LOGOUT_KEY = "_tongban_idle_logout"
# Rewrite the timestamp at most this often, so a busy page does not save the session on every request.
TOUCH_EVERY_SECONDS = 30


def _now() -> float:
    return time.time()


def idle_limit_seconds(user: object) -> int:
    conf = security()
    return conf.staff_idle_seconds if getattr(user, "kind", None) == "staff" else conf.citizen_idle_seconds


def session_touch(request: HttpRequest) -> None:
    request.session[LAST_SEEN_KEY] = int(_now())


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = _now()
            last = request.session.get(LAST_SEEN_KEY)
            limit = idle_limit_seconds(user)
            if isinstance(last, int | float) and now - last > limit:
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
