"""Liveness and readiness probes for the load balancer and the operators, and the answer given when a
dependency is down (issue 12; docs/operations.md, "Probes" and "Budgets")."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tongban.core import resilience
from tongban.core.errors import error_body
from tongban.core.logging import get_logger
from tongban.core.middleware import error_response, is_json_path, request_language

log = get_logger("tongban.health")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answering; checks nothing else (no database, no cache, no session: it is
    a fast path, settings.TONGBAN_FAST_PATHS), so it answers whatever dependency hangs."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache(store: Any) -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    store.set(key, "1", timeout=5)
    if store.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    store.delete(key)


# One probe thread per check at most: a check still running from an earlier /readyz (a dependency that
# hangs) is reported as out of budget, not started again, so hung probes never pile up.
_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


def _probe(part: str, probe: Callable[[], None], box: dict[str, Any]) -> None:
    try:
        probe()
        box["state"] = "ok"
    except Exception as exc:  # a probe failing is the answer, not an error
        box["state"] = "unavailable"
        box["error"] = type(exc).__name__
    finally:
        connections.close_all()  # this thread's own connections: it ends now


# Readiness probes other apps add (core imports no domain app): each a function giving (part, probe) pairs,
# asked on every /readyz so that a source configured at run time is probed too.
_readiness_probes: list[Callable[[], list[tuple[str, Callable[[], None]]]]] = []


def register_readiness_probes(provider: Callable[[], list[tuple[str, Callable[[], None]]]]) -> None:
    if provider not in _readiness_probes:
        _readiness_probes.append(provider)


def run_checks(probes: list[tuple[str, Callable[[], None]]], budget: float) -> dict[str, str]:
    """Each probe in its own thread, all at once; whatever has not answered within `budget` seconds is
    "timeout". Never waits longer than the budget."""
    started: dict[str, tuple[threading.Thread | None, dict[str, Any]]] = {}
    with _running_lock:
        for part, probe in probes:
            box: dict[str, Any] = {}
            previous = _running.get(part)
            if previous is not None and previous.is_alive():
                started[part] = (None, box)
                continue
            thread = threading.Thread(target=_probe, args=(part, probe, box), name=f"readyz-{part}", daemon=True)
            _running[part] = thread
            thread.start()
            started[part] = (thread, box)
    deadline = time.monotonic() + budget
    checks: dict[str, str] = {}
    for part, (running, box) in started.items():
        if running is not None:
            running.join(max(0.0, deadline - time.monotonic()))
        checks[part] = box.get("state", "timeout")
        if checks[part] != "ok":
            log.debug("readiness_check_failed", part=part, state=checks[part], error=box.get("error"))
    return checks


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, every authoritative source and the cache reachable, each within its own budget
    (TONGBAN_READYZ_TIMEOUT_MS, checked in parallel); 503 naming what fails. `dependencies` is this
    process's view: each dependency's and breaker's state and how often it changed."""
    store = caches["default"]  # this thread's (Django's caches are per thread); a cache client is thread-safe
    probes: list[tuple[str, Callable[[], None]]] = [("database", _check_database),
                                                    ("cache", lambda: _check_cache(store))]
    for provider in _readiness_probes:
        probes += provider()
    checks = run_checks(probes, settings.TONGBAN_BUDGETS.readyz_timeout_ms / 1000)
    dependencies = resilience.metrics()
    failing = [part for part, state in checks.items() if state != "ok"]
    if not failing:
        return JsonResponse({"status": "ok", "checks": checks, "dependencies": dependencies})
    body = error_body("not_ready", language=request_language(request),
                      request_id=getattr(request, "request_id", None),
                      details=[{"part": part} for part in failing])
    response = JsonResponse({"status": "unavailable", "failing": failing, "checks": checks,
                             "dependencies": dependencies, **body}, status=503,
                            json_dumps_params={"ensure_ascii": False})
    response._has_been_logged = True  # type: ignore[attr-defined]  # the states changing were logged, once
    return response


def unavailable_response(request: HttpRequest, exc: BaseException | None) -> HttpResponse | None:
    """503 with Retry-After when `exc` is a dependency's failure (tongban.core.resilience.as_unavailable):
    the JSON envelope on API paths, a page needing nothing (no database, cache or session) for people.
    None when it is not. Nothing is logged: the dependency's change of state was, once."""
    unavailable = resilience.as_unavailable(exc)
    if unavailable is None:
        return None
    retry_after = (unavailable.headers or {}).get("Retry-After", "1")
    if is_json_path(request.path):
        response: HttpResponse = error_response(request, "service_unavailable", headers={"Retry-After": retry_after})
    else:
        html = render_to_string("core/unavailable.html", {"retry_after": retry_after,
                                                          "request_id": getattr(request, "request_id", None)})
        response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = retry_after
        response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's log_response: no traceback line
    return response


@never_cache
@require_GET
def language_set(request: HttpRequest, code: str) -> HttpResponse:
    """The header's language switch: a plain link per language (no form, so every page's header is the same
    bytes whatever its address — "not found" and "not allowed" pages stay identical). Remembers the choice in
    Django's language cookie and goes back to the page it came from (same host only), else home. Choosing a
    language is a preference, not a state change worth a CSRF token."""
    from django.http import HttpResponseRedirect
    from django.utils.http import url_has_allowed_host_and_scheme

    codes = {c for c, _ in settings.LANGUAGES}
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = "/"
    response = HttpResponseRedirect(back)
    if code in codes:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
                            path=settings.LANGUAGE_COOKIE_PATH, samesite="Lax",
                            secure=settings.SESSION_COOKIE_SECURE, httponly=True)
    return response
