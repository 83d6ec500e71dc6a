"""Liveness and readiness probes for the load balancer and the operators."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tongban.core.errors import error_body
from tongban.core.logging import get_logger
from tongban.core.middleware import request_language

log = get_logger("tongban.health")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answering; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, every authoritative source and the cache reachable; 503 naming what fails."""
    from tongban.registry.interfaces import get_source, source_names

    checks: dict[str, str] = {}
    probes = [("database", _check_database), ("cache", _check_cache)]
    probes += [(f"source:{name}", get_source(name).ping) for name in source_names()]
    for part, probe in probes:
        try:
            probe()
            checks[part] = "ok"
        except Exception as exc:  # a probe failing is the answer, not an error
            log.warning("readiness_check_failed", part=part, error=type(exc).__name__)
            checks[part] = "unavailable"
    failing = [part for part, state in checks.items() if state != "ok"]
    if not failing:
        return JsonResponse({"status": "ok", "checks": checks})
    body = error_body("not_ready", language=request_language(request),
                      request_id=getattr(request, "request_id", None),
                      details=[{"part": part} for part in failing])
    return JsonResponse({"status": "unavailable", "failing": failing, "checks": checks, **body}, status=503,
                        json_dumps_params={"ensure_ascii": False})
