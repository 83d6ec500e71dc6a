"""Faults do not spread (issue 12): each dependency behind a FaultProxy, the platform served by `tongban serve`
under load, every fault mode in turn. Each test checks: no false pass (never 'consistent' from a source that
cannot be reached), no 5xx but the designed 503 with Retry-After, /healthz within 1 s throughout, the other
sources unaffected, recovery within a few seconds of the fault ending, and one log line per change of state.
"""

from __future__ import annotations

import random
import time
import urllib.parse

import pytest
from django.db import connections

from tests.faults.conftest import (
    SOURCES,
    Answer,
    Load,
    db_url,
    make_people,
    make_signer,
    random_nonce,
    start_server,
    stop_server,
)
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.slow

FAULT_SECONDS = 3.0
RECOVERY_SECONDS = 8.0


def _clean(answers: list[Answer]) -> None:
    """Every answer is an HTTP answer, and the only 5xx is 503 service_unavailable with Retry-After."""
    for a in answers:
        assert a.status != 0, f"no answer at all ({a.kind}, after {a.elapsed:.1f} s)"
        if a.status >= 500:
            assert a.status == 503, (a.status, a.body)
            assert a.headers.get("retry-after", "").isdigit(), a.headers
            assert isinstance(a.body, dict) and a.body["error"]["code"] == "service_unavailable", a.body


def _healthz_fast(load: Load) -> None:
    slow = [(round(h.elapsed, 2), h.status) for h in load.health if h.status != 200 or h.elapsed > 1.0]
    assert not slow, f"/healthz slow or failing: {slow[:10]} of {len(load.health)}"
    assert len(load.health) > 10


def _recovered(load: Load, kind: str, after: float, predicate) -> float:
    """Seconds from `after` to the first request of `kind` sent since then that `predicate` accepts."""
    deadline = after + RECOVERY_SECONDS
    while time.monotonic() < deadline + 2:
        ok = [a.sent for a in list(load.answers) if a.kind == kind and a.sent >= after and predicate(a)]
        if ok:
            return min(ok) - after
        time.sleep(0.2)
    raise AssertionError(f"{kind} did not recover within {RECOVERY_SECONDS} s")


def _passed(a: Answer) -> bool:
    return a.status == 200 and a.body.get("passed") is True


def _log_problems(server) -> list[dict]:
    return [e for e in server.log_lines()
            if e.get("level") in ("error", "critical") or "exception" in e or e.get("event") == "unhandled_error"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases="__all__")
def test_a_failing_source_answers_source_unavailable_and_spreads_nowhere(postgresql_only, tmp_path):
    people = make_people(12)
    signer = make_signer()
    proxy = FaultProxy(int(connections["idcard"].settings_dict["PORT"] or 5432), delay=0.3, midstream_bytes=1)
    env = {"TONGBAN_DATABASE_URL": db_url("default")}
    env.update({f"TONGBAN_SOURCE_{alias.upper()}_DATABASE_URL": db_url(alias, proxy.port if alias == "idcard" else None)
                for alias in SOURCES})
    server = start_server(tmp_path, env)
    server.signer, server.people = signer, people
    phases: list[tuple[str, float, float, float]] = []
    try:
        with Load(server, {"l1": (1, lambda: server.verify(random.choice(people), "l1")),
                           "l2": (3, lambda: server.verify(random.choice(people), "l2"))}) as load:
            time.sleep(1.5)
            assert any(_passed(a) for a in load.answers if a.kind == "l2"), load.answers[:5]
            for mode in ("hang", "hang_midstream", "refuse", "cut", "slow"):
                start = time.monotonic()
                proxy.set_mode(mode)
                time.sleep(FAULT_SECONDS)
                end = time.monotonic()
                proxy.set_mode("pass")
                phases.append((mode, start, end, _recovered(load, "l2", end, _passed)))
    finally:
        proxy.close()
        stop_server(server)

    _clean(load.answers)
    _healthz_fast(load)
    for mode, start, end, recovery in phases:
        l2 = load.between(start + 0.3, end, "l2")
        l1 = load.between(start, end, "l1")
        assert l2 and l1, (mode, len(l2), len(l1))
        if mode != "slow":  # no false pass: the ID-card source cannot be reached
            for a in l2:
                assert a.status == 200 and a.body["passed"] is False, (mode, a.status, a.body)
                assert a.body["fields"]["card_validity"] == "source_unavailable", (mode, a.body)
                assert a.body["reason"] == "source_unavailable" and a.body["level_reached"] == "l1", (mode, a.body)
        # The population source (and so L1) is unaffected; answered as fast as before.
        assert all(_passed(a) for a in l1), (mode, [(a.status, a.body) for a in l1 if not _passed(a)][:3])
        assert max(a.elapsed for a in l1) < 1.5, (mode, sorted(a.elapsed for a in l1)[-3:])
        assert recovery < RECOVERY_SECONDS, (mode, recovery)
    # The breaker opened (on the hang too, not only on errors) and said so once per change, not per call.
    states = [e for e in server.log_lines() if e.get("event") == "dependency_state"
              and e.get("dependency") == "source:idcard"]
    opened = [e for e in states if e["state"] == "open"]
    assert opened and opened[0].get("after") in ("hung", "failures"), states[:3]
    assert any(e["state"] == "closed" for e in states)
    assert len(states) < 12 * len(phases), len(states)
    assert not _log_problems(server)


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases="__all__")
def test_a_stalled_platform_database_answers_503_and_liveness_holds(postgresql_only, tmp_path):
    people = make_people(6)
    signer = make_signer()
    proxy = FaultProxy(int(connections["default"].settings_dict["PORT"] or 5432), midstream_bytes=1)
    env = {"TONGBAN_DATABASE_URL": db_url("default", proxy.port)}
    env.update({f"TONGBAN_SOURCE_{alias.upper()}_DATABASE_URL": db_url(alias) for alias in SOURCES})
    server = start_server(tmp_path, env)
    server.signer, server.people = signer, people
    phases = []
    try:
        with Load(server, {"l1": (3, lambda: server.verify(random.choice(people), "l1")),
                           "page": (1, lambda: server.request("GET", "/readyz", kind="readyz"))}) as load:
            time.sleep(1.0)
            for mode in ("hang", "refuse", "cut"):
                start = time.monotonic()
                proxy.set_mode(mode)
                time.sleep(FAULT_SECONDS)
                end = time.monotonic()
                proxy.set_mode("pass")
                phases.append((mode, start, end, _recovered(load, "l1", end, _passed)))
    finally:
        proxy.close()
        stop_server(server)

    _clean([a for a in load.answers if a.kind != "readyz"])
    _healthz_fast(load)
    for mode, start, end, recovery in phases:
        during = load.sent_between(start + 0.5, end - 0.5, "l1")
        # The designed 503 (never a pass, never a wait past the budget: deadline 3 s, connect timeout 3 s).
        assert during and all(a.status == 503 for a in during), (mode, [(a.status, round(a.sent - start, 2), round(a.elapsed, 2), a.body) for a in during if a.status != 503])
        assert max(a.elapsed for a in during) < 4.5, (mode, sorted(round(a.elapsed, 2) for a in during)[-3:])
        ready = load.sent_between(start + 0.5, end, "readyz")
        assert ready and all(a.status == 503 and a.elapsed < 2.0 for a in ready), \
            (mode, [(a.status, round(a.elapsed, 2)) for a in ready])
        assert recovery < RECOVERY_SECONDS, (mode, recovery)
    states = [e for e in server.log_lines() if e.get("event") == "dependency_state" and e.get("dependency") == "database"]
    assert [e["state"] for e in states][:2] == ["down", "up"], states
    assert len(states) <= 4 * len(phases)
    assert not _log_problems(server)


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases="__all__")
def test_a_failing_redis_answers_503_fails_closed_and_recovers(tmp_path):
    people = make_people(6)
    signer = make_signer()
    proxy = FaultProxy(6379)
    env = {"TONGBAN_DATABASE_URL": db_url("default"), "TONGBAN_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/13"}
    env.update({f"TONGBAN_SOURCE_{alias.upper()}_DATABASE_URL": db_url(alias) for alias in SOURCES})
    server = start_server(tmp_path, env)
    server.signer, server.people = signer, people
    phases = []
    try:
        used = random_nonce()
        assert _passed(server.verify(people[0], "l1", nonce=used))
        with Load(server, {"l1": (2, lambda: server.verify(random.choice(people), "l1")),
                           "page": (1, lambda: server.request("GET", "/login/", kind="page"))}) as load:
            time.sleep(1.0)
            for mode in ("hang", "refuse", "cut"):
                start = time.monotonic()
                proxy.set_mode(mode)
                time.sleep(FAULT_SECONDS)
                end = time.monotonic()
                proxy.set_mode("pass")
                phases.append((mode, start, end, _recovered(load, "l1", end, _passed)))
        # Failing closed held: the nonce used before the outage is still refused after it.
        replay = server.verify(people[0], "l1", nonce=used)
        assert replay.status == 401 and replay.body["error"]["code"] == "nonce_replayed", replay.body
    finally:
        proxy.close()
        stop_server(server)

    _clean([a for a in load.answers if a.kind != "page"])
    _healthz_fast(load)
    for mode, start, end, recovery in phases:
        during = load.between(start + 1.0, end, "l1")
        # Fail closed: without Redis no nonce can be claimed and no limit counted, so nothing is answered.
        assert during and all(a.status == 503 for a in during), (mode, [(a.status, a.body) for a in during][:3])
        pages = load.between(start + 1.0, end, "page")
        assert all(a.status in (200, 302, 503) for a in pages), (mode, [a.status for a in pages])
        assert all("retry-after" in a.headers and "服务暂时不可用" in a.body for a in pages if a.status == 503)
        assert recovery < RECOVERY_SECONDS, (mode, recovery)
    states = [e for e in server.log_lines() if e.get("event") == "dependency_state" and e.get("dependency") == "cache"]
    assert states and len(states) <= 4 * len(phases), states
    assert not _log_problems(server)


def test_the_sms_gateway_client_keeps_its_budget_and_delivers_after_the_fault():
    from sim.sms_gateway import SmsSimulator
    from tongban.notifications.sms import HttpSmsGateway, SmsUnavailable

    sim = SmsSimulator.start("127.0.0.1", 0, token="fault-token")
    port = urllib.parse.urlsplit(sim.url).port
    proxy = FaultProxy(port, delay=0.2, midstream_bytes=12)
    gateway = HttpSmsGateway(url=f"http://127.0.0.1:{proxy.port}/v1/messages", token="fault-token", timeout=1.0)
    try:
        for mode in ("hang", "hang_midstream", "refuse", "cut"):
            proxy.set_mode(mode)
            started = time.monotonic()
            with pytest.raises(SmsUnavailable):
                gateway.send(phone="13800138000", text=f"测试 {mode}", idempotency_key=f"fault:{mode}")
            assert time.monotonic() - started < 2.5, mode
        proxy.set_mode("slow")
        assert gateway.send(phone="13800138000", text="测试 slow", idempotency_key="fault:slow")
        proxy.set_mode("pass")
        for mode in ("hang", "hang_midstream", "refuse", "cut"):  # delivered once each when retried
            gateway.send(phone="13800138000", text=f"测试 {mode}", idempotency_key=f"fault:{mode}")
        texts = sorted(m.text for m in sim.messages("13800138000"))
        assert all(texts.count(f"测试 {m}") == 1 for m in ("hang", "hang_midstream", "refuse", "cut", "slow")), texts
    finally:
        proxy.close()
        sim.stop()
