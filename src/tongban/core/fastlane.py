"""The fast lane: the WSGI entry point that serves the hot, self-authenticating endpoints
(settings.TONGBAN_FAST_PATHS: the signed partner API, the OpenID Connect token, discovery, JWKS,
userinfo and revocation endpoints) without Django's full request cycle.

Every other request goes to Django's WSGIHandler unchanged. A fast-lane request runs through the
*same* middleware classes that sit above FastPathMiddleware in settings.MIDDLEWARE — the request id
and the request log line, Django's SecurityMiddleware (HTTPS redirect, HSTS, nosniff, referrer and
opener policies), the CSP/Permissions-Policy headers, the JSON error envelope — and then straight into
its view, exactly as FastPathMiddleware sends it there inside the full cycle (that middleware remains
for Django's test client and any other handler). What the lane leaves out, and why that is safe:

* the network gate and WhiteNoise: a fast path is never a back-office path nor a static file
  (checked when the routes are built);
* the `request_started` / `request_finished` signals. Their receivers are Django's query-log reset (a
  bounded deque, DEBUG only) and `close_old_connections`, which the lane does itself after each request
  (`release_connections`): a connection that saw an error is checked and dropped if unusable, one past
  CONN_MAX_AGE or left outside autocommit is closed — but there is no `SELECT 1` before the first query
  of every request (CONN_HEALTH_CHECKS). On these endpoints a connection that died since the last
  request fails that one request with the service-unavailable envelope (never a pass, and nothing
  half-written: each write is one autocommit statement or one transaction) and is replaced for the next.

Measured on bench/verify_inprocess.py --entry both: docs/performance.md, "Partner verification API".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_script_name
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

from tongban.core.middleware import FastPathMiddleware
from tongban.core.security import is_backoffice_path

# Middleware above FastPathMiddleware that a fast path never needs (see the module docstring).
NOT_IN_LANE = frozenset({"tongban.core.security.NetworkGateMiddleware", "whitenoise.middleware.WhiteNoiseMiddleware"})
FAST_PATH_MIDDLEWARE = "tongban.core.middleware.FastPathMiddleware"

StartResponse = Callable[..., Any]


def lane_middleware() -> list[str]:
    """The middleware a fast-lane request runs through: settings.MIDDLEWARE above FastPathMiddleware,
    less NOT_IN_LANE, in the same order."""
    names = list(settings.MIDDLEWARE)
    if FAST_PATH_MIDDLEWARE not in names:
        return []
    return [name for name in names[:names.index(FAST_PATH_MIDDLEWARE)] if name not in NOT_IN_LANE]


def release_connections() -> None:
    """What `close_old_connections` does at the end of a request, without re-arming the per-request
    health check: close a connection left in a broken state, outside autocommit, or past its age."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.errors_occurred or (conn.close_at is not None and now >= conn.close_at) \
                or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close_if_unusable_or_obsolete()


class FastLane:
    """WSGI application: TONGBAN_FAST_PATHS through the lane, everything else through `django_app`."""

    def __init__(self, django_app: WSGIHandler) -> None:
        self.django_app = django_app
        self._routes: dict[str, Callable[[HttpRequest], HttpResponse]] | None = None
        self._chain: Callable[[HttpRequest], Any] | None = None

    def routes(self) -> dict[str, Callable[[HttpRequest], HttpResponse]]:
        if self._routes is None:
            if not lane_middleware():
                self._routes = {}  # FastPathMiddleware not installed: nothing goes through the lane
                return self._routes
            dispatcher = FastPathMiddleware(self._no_route)
            routes = dispatcher._routes(settings.ROOT_URLCONF)
            for path in routes:
                if is_backoffice_path(path) or path.startswith(settings.STATIC_URL or "/static/"):
                    raise RuntimeError(f"{path} cannot be a fast path: it needs the network gate or WhiteNoise")
            handler: Callable[[HttpRequest], Any] = convert_exception_to_response(dispatcher)
            for name in reversed(lane_middleware()):
                handler = convert_exception_to_response(import_string(name)(handler))
            self._chain = handler
            self._routes = routes
        return self._routes

    @staticmethod
    def _no_route(request: HttpRequest) -> HttpResponse:  # routes() only sends known paths in
        raise RuntimeError(f"no fast path for {request.path_info}")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") not in self.routes():
            return self.django_app(environ, start_response)
        assert self._chain is not None
        set_script_prefix(get_script_name(environ))
        request = WSGIRequest(environ)
        try:
            response: HttpResponse = self._chain(request)  # the lane's views answer HttpResponse, never await
        finally:
            request.close()
            release_connections()
        status = f"{response.status_code} {response.reason_phrase}"
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        start_response(status, headers)
        if response.streaming:  # not one of the lane's views; served as Django would
            response._handler_class = WSGIHandler  # type: ignore[attr-defined]
            return response  # type: ignore[return-value]
        content = response.content
        for closer in response._resource_closers:  # type: ignore[attr-defined]
            closer()
        return [content]
