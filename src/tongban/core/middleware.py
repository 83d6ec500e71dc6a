"""Request id on every log line; the JSON error envelope for API paths, never a stack trace; the fast path
that takes the signed partner API past the session, CSRF and back-office middleware."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from tongban.core.errors import TongbanError, error_body, status_for
from tongban.core.logging import get_logger

log = get_logger("tongban.request")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Paths answered in JSON: failures there use the envelope, never an HTML page.
JSON_PREFIXES = ("/api/", "/partner/", "/healthz", "/readyz")


def is_json_path(path: str) -> bool:
    return path.startswith(JSON_PREFIXES)


def request_language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or request.headers.get("Accept-Language", "zh")


def error_response(request: HttpRequest, code: str, *, status: int | None = None, message: str | None = None,
                   details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(
        error_body(code, language=request_language(request), request_id=getattr(request, "request_id", None),
                   message=message, details=details),
        status=status or status_for(code),
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the caller or makes one; binds it to every log line of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")  # not request.headers: that parses every header
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Bound for this request and reset after it (the thread serves the next request): reset by token
        # rather than clear_contextvars, which walks every context variable of the process.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            started = time.perf_counter()
            try:
                response = self.get_response(request)
            finally:
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
            response["X-Request-ID"] = request_id
            if request.path not in ("/healthz", "/readyz"):
                log.info("request", method=request.method, path=request.path, status=response.status_code,
                         duration_ms=duration_ms)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
        return response


class ApiErrorMiddleware:
    """On JSON paths: unhandled errors, unknown routes and oversize bodies become the error envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_json_path(request.path) and response.status_code in (404, 405) and \
                not response.get("Content-Type", "").startswith("application/json"):
            code = "not_found" if response.status_code == 404 else "method_not_allowed"
            allow = {"Allow": response["Allow"]} if response.has_header("Allow") else None
            return error_response(request, code, headers=allow)  # a 405 still names what is allowed (RFC 9110)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from tongban.core.views import unavailable_response

        # A dependency down or out of budget: 503 + Retry-After (a page for people), no traceback (issue 12).
        unavailable = unavailable_response(request, exception)
        if unavailable is not None:
            return unavailable
        if isinstance(exception, TongbanError):
            return error_response(request, exception.code, status=exception.http_status(),
                                  message=exception.message(request_language(request)),
                                  details=exception.details, headers=exception.headers)
        if not is_json_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return error_response(request, "payload_too_large")
        if isinstance(exception, Http404):
            return error_response(request, "not_found")
        if isinstance(exception, PermissionDenied):
            return error_response(request, "forbidden")
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return error_response(request, "bad_request")
        log.exception("unhandled_error", path=request.path)
        return error_response(request, "internal_error")


class FastPathMiddleware:
    """Sends the URLs named in settings.TONGBAN_FAST_PATHS straight to their views, past the middleware
    below this one (sessions, locale, CSRF, authentication, OTP, idle timeout, the staff gate,
    messages) and past URL resolution.

    Only for views that need none of it: the partner API authenticates every call by its SM2
    signature, uses no session, cookie, CSRF token or template, and answers every failure itself in
    the signed JSON envelope. The middleware above this one — request id and log line, the security
    headers, the network gate, the API error envelope — still runs; X-Frame-Options is set here as
    XFrameOptionsMiddleware would. Measured on bench/verify.py: docs/performance.md.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.routes: dict[str, dict[str, Callable[[HttpRequest], HttpResponse]]] = {}

    def _routes(self, urlconf: str) -> dict[str, Callable[[HttpRequest], HttpResponse]]:
        from django.urls import NoReverseMatch, resolve, reverse

        routes = {}
        for name in getattr(settings, "TONGBAN_FAST_PATHS", ()):
            try:
                path = reverse(name, urlconf=urlconf)
            except NoReverseMatch:  # a URLconf without that view (tests)
                continue
            routes[path] = resolve(path, urlconf=urlconf).func
        self.routes[urlconf] = routes
        return routes

    def __call__(self, request: HttpRequest) -> HttpResponse:
        urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
        routes = self.routes.get(urlconf)
        view = (routes if routes is not None else self._routes(urlconf)).get(request.path_info)
        if view is None:
            return self.get_response(request)
        try:
            response = view(request)
        except Exception as exc:  # the views answer their own errors; this is the last resort, still JSON
            from tongban.core.views import unavailable_response

            unavailable = unavailable_response(request, exc)
            if unavailable is not None:
                response = unavailable
            else:
                log.exception("unhandled_error", path=request.path)
                response = error_response(request, "internal_error")
        if "X-Frame-Options" not in response:
            response["X-Frame-Options"] = getattr(settings, "X_FRAME_OPTIONS", "DENY")
        return response
