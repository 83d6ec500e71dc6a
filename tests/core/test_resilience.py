"""Budgets and clean failure (issue 12): a dependency's state, its slots, the client-side database deadline,
Redis failing closed, and the 503 a person or a program is answered."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import OperationalError, connections
from django.test import RequestFactory

from tongban.core import resilience
from tongban.core.resilience import DOWN, ERROR, TIMEOUT, UP, Dependency, DependencyUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, TimeoutError):
        return TIMEOUT
    if isinstance(exc, ConnectionError):
        return ERROR
    return None


def _dep(**kw) -> tuple[Dependency, Clock]:
    clock = Clock()
    return Dependency("test-dep", classify=_classify, clock=clock, **kw), clock


def _raise(exc):
    def call():
        raise exc
    return call


def test_a_timeout_takes_a_dependency_down_at_once_and_calls_then_fail_without_waiting():
    dep, clock = _dep(cooldown=1, max_cooldown=4)
    with pytest.raises(TimeoutError):
        dep.call(_raise(TimeoutError()))
    assert dep.state == DOWN
    called = []
    with pytest.raises(DependencyUnavailable) as err:
        dep.call(lambda: called.append(1))
    assert called == [] and err.value.code == "service_unavailable" and err.value.headers == {"Retry-After": "1"}
    clock.now += 1  # one probe goes through; its failure doubles the wait
    with pytest.raises(TimeoutError):
        dep.call(_raise(TimeoutError()))
    with pytest.raises(DependencyUnavailable):
        dep.call(lambda: "x")
    assert dep.retry_after() == 2
    clock.now += 2
    assert dep.call(lambda: "back") == "back" and dep.state == UP


def test_connection_errors_take_it_down_after_a_few_in_a_row_and_bugs_not_at_all():
    dep, _ = _dep(threshold=3)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            dep.call(_raise(ConnectionError()))
    with pytest.raises(KeyError):
        dep.call(_raise(KeyError()))  # the dependency answered: not its failure, and the run is broken
    for _ in range(2):
        with pytest.raises(ConnectionError):
            dep.call(_raise(ConnectionError()))
    assert dep.state == UP
    with pytest.raises(ConnectionError):
        dep.call(_raise(ConnectionError()))
    assert dep.state == DOWN


def test_state_changes_are_logged_and_counted_once(monkeypatch):
    lines = []
    monkeypatch.setattr(resilience, "log", type("L", (), {
        "warning": lambda self, event, **kw: lines.append(kw["state"]),
        "info": lambda self, event, **kw: lines.append(kw["state"])})())
    dep, clock = _dep(cooldown=1)
    with pytest.raises(TimeoutError):
        dep.call(_raise(TimeoutError()))
    for _ in range(50):
        with pytest.raises(DependencyUnavailable):
            dep.call(lambda: None)
    clock.now += 1
    dep.call(lambda: None)
    assert lines == [DOWN, UP]
    m = resilience.metrics()
    assert m["transitions"] == {"test-dep:down": 1, "test-dep:up": 1} and m["rejected"]["test-dep:down"] == 50


def test_no_more_threads_than_its_slots_wait_on_a_dependency():
    dep, _ = _dep(limit=1, admission_wait=0.05)
    inside, release = threading.Event(), threading.Event()
    worker = threading.Thread(target=dep.call, args=(lambda: (inside.set(), release.wait(5)),))
    worker.start()
    assert inside.wait(5)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable):
        dep.call(lambda: "never")
    assert time.monotonic() - started < 1
    release.set()
    worker.join(5)
    assert dep.call(lambda: "free") == "free" and dep.state == UP


def test_a_call_queues_for_a_slot_while_the_dependency_answers_and_not_once_it_is_stuck():
    dep, _ = _dep(limit=1, admission_wait=5, stuck_after=0.3)
    inside, release = threading.Event(), threading.Event()

    def holder():
        inside.set()
        release.wait(5)

    worker = threading.Thread(target=dep.call, args=(holder,))
    worker.start()
    assert inside.wait(5)
    threading.Timer(0.05, release.set).start()  # the holder answers soon: the next call waits and goes in
    assert dep.call(lambda: "queued") == "queued"
    worker.join(5)

    release.clear()
    inside.clear()
    worker = threading.Thread(target=dep.call, args=(holder,))
    worker.start()
    assert inside.wait(5)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable):  # the holder is stuck: refused after 0.3 s, not 5
        dep.call(lambda: "never")
    assert time.monotonic() - started < 1.5
    release.set()
    worker.join(5)


def test_a_slot_limit_only_in_a_web_process_of_two_threads_or_more(monkeypatch):
    monkeypatch.delenv("TONGBAN_SERVING_THREADS", raising=False)
    assert resilience.slot_limit() is None and not resilience.serving()
    monkeypatch.setenv("TONGBAN_SERVING_THREADS", "1")
    assert resilience.slot_limit() is None and resilience.serving()
    monkeypatch.setenv("TONGBAN_SERVING_THREADS", "4")
    assert resilience.slot_limit() == 3


@pytest.mark.django_db
def test_the_client_side_deadline_cuts_a_query_the_server_would_let_run():
    if connections["default"].vendor != "postgresql":
        pytest.skip("the deadline is on PostgreSQL connections")
    import psycopg

    from tongban.core.pgbackend.base import DatabaseTimeout

    conf = connections["default"].settings_dict
    conn = psycopg.connect(host="127.0.0.1", port=conf["PORT"] or 5432, user=conf["USER"], dbname=conf["NAME"],
                           autocommit=True)
    try:
        budget = resilience.CallBudget(None, 0.3, DatabaseTimeout)
        started = time.monotonic()
        with pytest.raises(DatabaseTimeout):
            budget.run(conn.pgconn.socket, conn.execute, "SELECT pg_sleep(5)")
        assert time.monotonic() - started < 1.5
        assert conn.closed or conn.broken
        assert budget.run(0, lambda: "no deadline hit") == "no deadline hit"
    finally:
        conn.close()


def test_every_postgresql_connection_gets_a_connect_timeout_and_keepalives(settings):
    for alias, conf in settings.DATABASES.items():
        if conf["ENGINE"] != "tongban.core.pgbackend":
            continue
        opts = conf["OPTIONS"]
        assert opts["connect_timeout"] >= 2 and opts["keepalives"] == 1 and opts["tcp_user_timeout"] > 0, alias
        assert conf["TONGBAN_BUDGET"]["statement_timeout_ms"] > 0, alias


def _dead_redis(settings):
    import socket

    from tongban.core.cache import RedisCache

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed: connections are refused
    return RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_connect_timeout": 0.5,
                                                                   "socket_timeout": 0.5}})


def test_a_redis_outage_is_a_503_and_fails_closed(settings):
    from tongban.core import ratelimit

    store = _dead_redis(settings)
    with pytest.raises(DependencyUnavailable) as err:
        store.get("k")
    assert err.value.code == "service_unavailable" and "Retry-After" in err.value.headers
    # A nonce cannot be claimed and a limit cannot be counted: both refuse rather than let the call through.
    with pytest.raises(DependencyUnavailable):
        ratelimit.claim_and_hit("nonce:x", 600, [ratelimit.Limit("app:x", 10, 60)], cache=store)
    with pytest.raises(DependencyUnavailable):
        ratelimit.enforce("login:x", limit=5, window=60, cache=store)


def test_the_503_is_json_for_programs_and_a_page_for_people():
    from tongban.core.middleware import ApiErrorMiddleware

    middleware = ApiErrorMiddleware(lambda r: None)
    factory = RequestFactory()
    api = middleware.process_exception(factory.get("/api/v1/x"), DependencyUnavailable("cache", retry_after=3))
    assert api.status_code == 503 and api["Retry-After"] == "3"
    assert json.loads(api.content)["error"]["code"] == "service_unavailable"
    page = middleware.process_exception(factory.get("/login/"), OperationalError("connection refused"))
    assert page.status_code == 503 and page["Retry-After"] == "1" and "服务暂时不可用" in page.content.decode()
    assert page["Content-Type"].startswith("text/html")
    assert middleware.process_exception(factory.get("/login/"), KeyError("bug")) is None  # a bug stays a 500


def test_a_failure_raised_in_a_middleware_is_a_503_too():
    import sys

    from tongban.portal.views import server_error

    request = RequestFactory().get("/")
    try:
        raise DependencyUnavailable("cache")
    except DependencyUnavailable:
        assert sys.exc_info()[1] is not None
        response = server_error(request)
    assert response.status_code == 503 and getattr(response, "_has_been_logged", False)


@pytest.mark.django_db
def test_healthz_is_a_fast_path_that_touches_no_dependency(client, django_assert_num_queries, monkeypatch):
    from django.core.cache import cache

    def broken(*a, **k):
        raise AssertionError("liveness asked the cache")

    monkeypatch.setattr(cache, "get", broken)
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
