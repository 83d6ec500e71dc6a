"""The circuit breaker: opens on failures, fails fast while open, half-opens after the cool-down, closes on success."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError

from tests.verification.test_engine import claim_for
from tongban.registry import interfaces
from tongban.registry.interfaces import SourceUnavailable
from tongban.verification.breaker import (
    BreakerConfig,
    BreakerOpen,
    BreakerState,
    BulkheadFull,
    CircuitBreaker,
    breaker_for,
    reset_breakers,
)
from tongban.verification.engine import verify
from tongban.verification.levels import AssuranceLevel
from tongban.verification.reasons import ReasonCode


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Source:
    """A callable that fails while `failing` is set and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = True
        self.error: Exception = SourceUnavailable("test")

    def __call__(self, value: str = "ok", *more: object) -> str:
        self.calls += 1
        if self.failing:
            raise self.error
        return value


def _breaker(**config) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker("test-source", BreakerConfig(**config), clock=clock), clock


def _fail(breaker, source, times):
    for _ in range(times):
        with pytest.raises(SourceUnavailable):
            breaker.call(source)


def test_opens_after_consecutive_failures_and_fails_fast():
    breaker, _ = _breaker(consecutive_failures=3)
    source = Source()
    _fail(breaker, source, 2)
    assert breaker.state is BreakerState.CLOSED
    _fail(breaker, source, 1)
    assert breaker.state is BreakerState.OPEN and source.calls == 3
    with pytest.raises(BreakerOpen):
        breaker.call(source)
    assert source.calls == 3  # not called while open


def test_a_success_resets_the_consecutive_count():
    breaker, _ = _breaker(consecutive_failures=3)
    source = Source()
    _fail(breaker, source, 2)
    source.failing = False
    assert breaker.call(source) == "ok"
    source.failing = True
    _fail(breaker, source, 2)
    assert breaker.state is BreakerState.CLOSED


def test_half_opens_after_the_cooldown_with_a_single_trial():
    breaker, clock = _breaker(consecutive_failures=2, cooldown_seconds=30)
    source = Source()
    _fail(breaker, source, 2)
    clock.advance(29)
    with pytest.raises(BreakerOpen):
        breaker.call(source)
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN
    # The trial fails: open again for a full cool-down.
    with pytest.raises(SourceUnavailable) as err:
        breaker.call(source)
    assert not isinstance(err.value, BreakerOpen) and source.calls == 3
    assert breaker.state is BreakerState.OPEN
    clock.advance(30)
    source.failing = False
    assert breaker.call(source, "back") == "back"
    assert breaker.state is BreakerState.CLOSED
    assert breaker.call(source) == "ok"


def test_only_one_trial_at_a_time():
    breaker, clock = _breaker(consecutive_failures=1, cooldown_seconds=5)
    source = Source()
    _fail(breaker, source, 1)
    clock.advance(5)
    seen = []

    def trial() -> str:
        # While the trial runs, another caller fails fast.
        with pytest.raises(BreakerOpen):
            breaker.call(source)
        seen.append("inner")
        return "done"

    assert breaker.call(trial) == "done" and seen == ["inner"]
    assert breaker.state is BreakerState.CLOSED


def test_opens_on_the_failure_rate_in_a_window():
    breaker, clock = _breaker(consecutive_failures=100, min_calls=10, failure_rate=0.5, window_seconds=10)
    source = Source()
    for i in range(11):  # the rate is judged on a failure: the 11th call makes 6 of 11
        source.failing = i % 2 == 0  # alternate: never two failures in a row
        try:
            breaker.call(source)
        except SourceUnavailable:
            pass
    assert breaker.state is BreakerState.OPEN


def test_the_window_forgets_old_calls():
    breaker, clock = _breaker(consecutive_failures=100, min_calls=10, failure_rate=0.5, window_seconds=10)
    source = Source()
    for i in range(9):
        source.failing = i % 2 == 0
        try:
            breaker.call(source)
        except SourceUnavailable:
            pass
    clock.advance(11)
    source.failing = True
    _fail(breaker, source, 1)
    assert breaker.state is BreakerState.CLOSED


def test_database_errors_count_and_become_source_unavailable():
    breaker, _ = _breaker(consecutive_failures=2)
    source = Source()
    source.error = OperationalError("gone")
    with pytest.raises(SourceUnavailable) as err:
        breaker.call(source)
    assert isinstance(err.value.__cause__, OperationalError)
    _fail(breaker, source, 1)
    assert breaker.state is BreakerState.OPEN


def test_bugs_propagate_and_do_not_count():
    breaker, _ = _breaker(consecutive_failures=1)
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["missing"])
    assert breaker.state is BreakerState.CLOSED


def test_slow_calls_count_as_failures_but_keep_their_answer():
    breaker, _ = _breaker(consecutive_failures=2, slow_call_seconds=0.001)

    def slow() -> str:
        time.sleep(0.005)
        return "late"

    assert breaker.call(slow) == "late"
    assert breaker.call(slow) == "late"
    assert breaker.state is BreakerState.OPEN


def test_other_processes_see_an_open_breaker_through_the_cache():
    from django.core.cache import cache

    clock = FakeClock()
    config = BreakerConfig(consecutive_failures=2, cooldown_seconds=30, shared_check_seconds=1)
    here = CircuitBreaker("shared-source", config, clock=clock)
    there = CircuitBreaker("shared-source", config, clock=clock)  # the same source in another worker
    source = Source()
    _fail(here, source, 2)
    assert cache.get(here.cache_key) == pytest.approx(clock.now + 30)
    calls = source.calls
    with pytest.raises(BreakerOpen):
        there.call(source)
    assert source.calls == calls
    # A successful trial anywhere clears the shared flag.
    clock.advance(30)
    source.failing = False
    assert here.call(source) == "ok"
    assert cache.get(here.cache_key) is None


def test_a_broken_cache_leaves_the_local_breaker_working(monkeypatch):
    from tongban.verification import breaker as module

    def broken():
        raise ConnectionError("redis down")

    monkeypatch.setattr(module, "_shared_cache", broken)
    breaker, _ = _breaker(consecutive_failures=1)
    source = Source()
    _fail(breaker, source, 1)
    with pytest.raises(BreakerOpen):
        breaker.call(source)


def test_settings_configure_the_breakers(settings):
    settings.TONGBAN_VERIFICATION_BREAKER = {"consecutive_failures": 9, "cooldown_seconds": 5}
    reset_breakers()
    assert breaker_for("population").config == BreakerConfig(consecutive_failures=9, cooldown_seconds=5)
    assert breaker_for("population") is breaker_for("population")
    settings.TONGBAN_VERIFICATION_BREAKER = {"cooldown": 5}
    reset_breakers()
    with pytest.raises(ValueError, match="cooldown"):
        breaker_for("population")


# --- Through the engine ------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_engine_stops_asking_a_failing_source_and_recovers(registry, monkeypatch):
    person = registry.person()
    population = interfaces.population()
    real_compare = population.compare
    source = Source()
    monkeypatch.setattr(population, "compare", lambda number, name: source() and real_compare(number, name))
    breaker = breaker_for("population")
    clock = FakeClock()
    breaker.clock = clock
    threshold = breaker.config.consecutive_failures

    for _ in range(threshold):
        outcome = verify(claim_for(person), level=AssuranceLevel.L1)
        assert outcome.reason is ReasonCode.SOURCE_UNAVAILABLE and outcome.sources_consulted == ("population",)
    assert source.calls == threshold and breaker.state is BreakerState.OPEN

    # Open: answered at once, source not called, nothing consulted, never a pass.
    outcome = verify(claim_for(person), level=AssuranceLevel.L1)
    assert outcome.reason is ReasonCode.SOURCE_UNAVAILABLE and not outcome.passed
    assert outcome.sources_consulted == () and source.calls == threshold

    # After the cool-down one trial goes through; the source is back, so the breaker closes.
    clock.advance(breaker.config.cooldown_seconds)
    source.failing = False
    assert verify(claim_for(person), level=AssuranceLevel.L1).passed
    assert breaker.state is BreakerState.CLOSED and source.calls == threshold + 1
    assert verify(claim_for(person), level=AssuranceLevel.L1).passed


@pytest.mark.django_db(databases="__all__")
def test_one_source_open_does_not_stop_the_others(registry, monkeypatch):
    person = registry.person(card="valid")
    monkeypatch.setattr(interfaces.idcard(), "current_card_check", Source())
    for _ in range(breaker_for("idcard").config.consecutive_failures):
        verify(claim_for(person), level=AssuranceLevel.L2)
    assert breaker_for("idcard").state is BreakerState.OPEN
    assert breaker_for("population").state is BreakerState.CLOSED
    assert verify(claim_for(person), level=AssuranceLevel.L1).passed
    l2 = verify(claim_for(person), level=AssuranceLevel.L2)
    assert l2.reached is AssuranceLevel.L1 and l2.reason is ReasonCode.SOURCE_UNAVAILABLE
    assert l2.sources_consulted == ("population",)


# --- Issue 12: back-off, the bulkhead, hung calls, transitions logged once, a restart's own probe ------------


def test_the_cool_down_starts_short_and_doubles_after_each_failed_trial_up_to_the_cap():
    breaker, clock = _breaker(consecutive_failures=1, cooldown_seconds=1, max_cooldown_seconds=4)
    source = Source()
    _fail(breaker, source, 1)
    waits = []
    for _ in range(4):  # each failed trial doubles the wait: 1 → 2 → 4 → 4
        waits.append(breaker._open_until - clock.now)
        clock.advance(breaker._open_until - clock.now)
        _fail(breaker, source, 1)
    assert waits == [1, 2, 4, 4]
    clock.advance(4)
    source.failing = False
    assert breaker.call(source) == "ok" and breaker.state is BreakerState.CLOSED
    source.failing = True
    _fail(breaker, source, 1)  # a new outage starts from the short cool-down again
    assert breaker._open_until - clock.now == 1


def test_the_bulkhead_refuses_a_call_beyond_its_places_without_calling_the_source():
    import threading

    breaker, _ = _breaker(max_concurrent=1, slot_wait_seconds=0.01, slow_call_seconds=60)
    inside, release = threading.Event(), threading.Event()

    def hung() -> str:
        inside.set()
        release.wait(5)
        return "late"

    worker = threading.Thread(target=breaker.call, args=(hung,))
    worker.start()
    assert inside.wait(5)
    calls = []
    with pytest.raises(BulkheadFull):
        breaker.call(lambda: calls.append(1))
    assert calls == [] and breaker.state is BreakerState.CLOSED  # busy is not broken
    release.set()
    worker.join(5)
    assert breaker.call(lambda: "free") == "free"


def test_a_hung_source_opens_the_breaker_while_its_calls_are_still_in_flight():
    import threading

    breaker, _ = _breaker(max_concurrent=2, slot_wait_seconds=0.01, slow_call_seconds=0.05)
    release = threading.Event()
    workers = [threading.Thread(target=breaker.call, args=(lambda: release.wait(5),)) for _ in range(2)]
    for w in workers:
        w.start()
    time.sleep(0.1)  # both calls in flight past slow_call_seconds: the source is hung
    with pytest.raises(BulkheadFull):
        breaker.call(lambda: "never")
    assert breaker.state is BreakerState.OPEN  # without waiting for the hung calls to end
    release.set()
    for w in workers:
        w.join(5)
    assert breaker.state is BreakerState.OPEN  # their late answers are not counted a second time


def test_each_change_of_state_is_logged_once_not_each_call(monkeypatch):
    from tongban.core import resilience

    lines = []
    monkeypatch.setattr(resilience, "log", type("L", (), {
        "warning": lambda self, event, **kw: lines.append(kw), "info": lambda self, event, **kw: lines.append(kw)})())
    breaker, clock = _breaker(consecutive_failures=3, cooldown_seconds=1)
    source = Source()
    _fail(breaker, source, 3)
    for _ in range(20):  # open: every call fails fast, no line
        with pytest.raises(BreakerOpen):
            breaker.call(source)
    clock.advance(1)
    source.failing = False
    breaker.call(source)
    assert [(x["dependency"], x["state"]) for x in lines] == [("source:test-source", "open"),
                                                            ("source:test-source", "closed")]
    counts = resilience.metrics()["transitions"]
    assert counts["source:test-source:open"] == 1 and counts["source:test-source:closed"] == 1


def test_a_restarted_process_probes_after_one_cool_down_instead_of_inheriting_the_shared_flag():
    clock = FakeClock()
    config = BreakerConfig(consecutive_failures=1, cooldown_seconds=1, max_cooldown_seconds=30,
                           shared_check_seconds=0)
    old = CircuitBreaker("restart-source", config, clock=clock)
    source = Source()
    _fail(old, source, 1)
    for _ in range(4):  # the outage lasted: the shared flag now says open for 16 s
        clock.advance(old._open_until - clock.now)
        _fail(old, source, 1)
    assert old._open_until - clock.now == 16
    source.failing = False  # the source is fixed; a worker restarts
    new = CircuitBreaker("restart-source", config, clock=clock)
    with pytest.raises(BreakerOpen):
        new.call(source)  # it sees the flag ...
    clock.advance(1)
    assert new.call(source) == "ok"  # ... for one cool-down, then probes itself and closes
    assert new.state is BreakerState.CLOSED


def test_in_a_web_process_the_trial_runs_off_the_request_thread():
    import threading

    breaker, clock = _breaker(consecutive_failures=1, cooldown_seconds=1)
    breaker.background_trials = True
    source = Source()
    _fail(breaker, source, 1)
    clock.advance(1)
    source.failing = False
    entered, release = threading.Event(), threading.Event()

    def slow_trial() -> str:  # the source answers, but slowly: the caller must not wait for it
        entered.set()
        release.wait(5)
        return source()

    started = time.monotonic()
    with pytest.raises(BreakerOpen):
        breaker.call(slow_trial)
    assert time.monotonic() - started < 0.5 and entered.wait(5)
    with pytest.raises(BreakerOpen):
        breaker.call(source)  # one trial at a time
    release.set()
    for _ in range(50):
        if breaker.state is BreakerState.CLOSED:
            break
        time.sleep(0.05)
    assert breaker.state is BreakerState.CLOSED and breaker.call(source) == "ok"
