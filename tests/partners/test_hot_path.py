"""The partner API's hot path (bench/verify.py, docs/performance.md): the fast-path middleware, the
batched rate-limit counters, the queries one verification costs."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.partners.conftest import make_partner
from tests.partners.test_api import BATCH, PATH, person_body, valid_people
from tongban.core import ratelimit

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_verification_skips_session_csrf_and_auth_but_keeps_the_outer_middleware(client, registry, partner):
    person = valid_people(registry, 1)[0]
    response = partner.post(client, PATH, person_body(person), extra={"HTTP_X_REQUEST_ID": "req-fastpath-0001"})
    assert response.status_code == 200, response.content
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user")  # never reached those middleware
    assert response["X-Request-ID"] == "req-fastpath-0001"  # RequestIdMiddleware: above the fast path
    assert "Content-Security-Policy" in response and response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert not response.cookies and "Cookie" not in response.get("Vary", "")


def test_other_paths_still_go_through_every_middleware(client, partner):
    response = client.get("/partner/v1/keys")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    response = client.post(PATH + "/", b"{}", content_type="application/json")  # not a fast-path URL
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_batch_is_on_the_fast_path_too(client, registry, partner):
    people = valid_people(registry, 2)
    body = {"level": "l2", "purpose": "gov_service",
            "items": [{k: v for k, v in person_body(p).items() if k not in ("level", "purpose")} for p in people]}
    response = partner.post(client, BATCH, body)
    assert response.status_code == 200, response.content
    assert not hasattr(response.wsgi_request, "session")


def test_a_view_error_on_the_fast_path_is_the_json_envelope(client, partner, monkeypatch):
    from tongban.core.middleware import FastPathMiddleware

    def boom(request):
        raise RuntimeError("bug")

    monkeypatch.setattr(FastPathMiddleware, "_routes", lambda self, urlconf: {PATH: boom})
    response = client.post(PATH, b"{}", content_type="application/json")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"


def test_a_verification_costs_one_query_per_source_and_one_audit_insert(client, registry, partner, settings):
    # As in production: the app is cached for seconds and metering flushed every few seconds.
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, meter_flush_seconds=3600,
                                                    app_cache_seconds=3600)
    person = valid_people(registry, 2)
    partner.post(client, PATH, person_body(person[0]))  # warms the app cache and opens the audit chain
    captured = {alias: CaptureQueriesContext(connections[alias]) for alias in ("default", "population", "idcard")}
    for ctx in captured.values():
        ctx.__enter__()
    try:
        response = partner.post(client, PATH, person_body(person[1]))
    finally:
        for ctx in captured.values():
            ctx.__exit__(None, None, None)
    assert response.status_code == 200, response.content
    assert len(captured["population"]) == 1 and len(captured["idcard"]) == 1
    default = [q["sql"] for q in captured["default"]]
    assert len(default) == 1 and default[0].startswith('INSERT INTO "audit_auditentry"'), default


# -- ratelimit.hit_many / counter_add ---------------------------------------------------------------------


def test_hit_many_counts_like_hit():
    cache.clear()
    t = 1_000_000.5
    limits = [ratelimit.Limit("hm", 3, 1), ratelimit.Limit("hm", 100, 60)]
    results = [ratelimit.hit_many(limits, now=t) for _ in range(4)]
    assert [r[0].allowed for r in results] == [True, True, True, False]
    assert [r[1].allowed for r in results] == [True] * 4
    assert results[-1][1].count == 4
    cache.clear()
    expected = [ratelimit.hit("hm", limit=3, window=1, now=t) for _ in range(4)]
    assert [r.count for r in expected] == [r[0].count for r in results]


def test_hit_many_cost_zero_only_reads():
    cache.clear()
    t = 2_000_000.0
    ratelimit.hit_many([ratelimit.Limit("bad", 10, 60)], now=t)
    seen = ratelimit.hit_many([ratelimit.Limit("all", 10, 60), ratelimit.Limit("bad", 10, 60, cost=0)], now=t)
    assert (seen[0].count, seen[1].count) == (1, 1)
    assert ratelimit.peek("bad", limit=10, window=60, now=t).count == 1


def test_counter_add():
    cache.clear()
    assert ratelimit.counter_add("q", 2, timeout=60) == 2
    assert ratelimit.counter_add("q", 3, timeout=60) == 5


def test_rate_limits_still_refuse_on_the_fast_path(client, registry):
    limited = make_partner(name="限速应用", rate_per_second=1, rate_per_minute=100)
    people = valid_people(registry, 3)
    codes = [limited.post(client, PATH, person_body(p)).status_code for p in people]
    assert codes[0] == 200 and 429 in codes[1:]
