"""A circuit breaker per authoritative source, so a failing source is not hammered and fails fast.

closed → open after `consecutive_failures` failures in a row, or when at least `min_calls` calls in
the current `window_seconds` failed at a rate of `failure_rate` or more; open → every call fails at
once with BreakerOpen (a SourceUnavailable) for `cooldown_seconds`; then half-open → one trial call
is let through: success closes the breaker, failure opens it again. A call slower than
`slow_call_seconds` keeps its answer but counts as a failure, so a source that hangs opens the
breaker as surely as one that errors.

State lives in each process (cheap: no I/O on the hot path). When a breaker opens it also writes
"open until" into the Django cache (Redis in production); every process looks at that flag at most
once per `shared_check_seconds` and opens too, so one process's discovery spares the others. A
process whose trial call succeeds clears the flag. If the cache is down, each process keeps its own
breaker. Parameters: settings.TONGBAN_VERIFICATION_BREAKER (a dict of BreakerConfig fields).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

from django.db import Error as DatabaseError

from tongban.registry.interfaces import SourceUnavailable

T = TypeVar("T")

# What counts as the source failing (anything else is a bug and propagates unchanged).
SOURCE_FAILURES: tuple[type[BaseException], ...] = (SourceUnavailable, DatabaseError, TimeoutError, ConnectionError)


class BreakerOpen(SourceUnavailable):
    """The breaker is open: the source was not called."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    consecutive_failures: int = 5
    window_seconds: float = 10.0
    failure_rate: float = 0.5
    min_calls: int = 20
    cooldown_seconds: float = 30.0
    slow_call_seconds: float = 2.0
    shared_check_seconds: float = 1.0

    @classmethod
    def from_settings(cls) -> BreakerConfig:
        from django.conf import settings

        overrides = getattr(settings, "TONGBAN_VERIFICATION_BREAKER", None) or {}
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"TONGBAN_VERIFICATION_BREAKER: unknown keys {sorted(unknown)}")
        return cls(**overrides)


def _shared_cache() -> Any:
    from django.core.cache import cache

    return cache


class CircuitBreaker:
    """One source's breaker. `clock` (wall seconds, shared across processes) may be replaced in tests."""

    def __init__(self, name: str, config: BreakerConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self.clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._open_until = 0.0
        self._consecutive = 0
        self._window_start = clock()
        self._calls = 0
        self._failures = 0
        self._trial_in_flight = False
        self._next_shared_check = 0.0

    @property
    def cache_key(self) -> str:
        return f"verification:breaker:{self.name}:open_until"

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.clock() >= self._open_until:
            return BreakerState.HALF_OPEN
        return self._state

    # --- the call ---------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs) through the breaker; SourceUnavailable when it fails or the breaker is open."""
        self._before()
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except SOURCE_FAILURES as exc:
            self._record(failed=True)
            if isinstance(exc, SourceUnavailable):
                raise
            raise SourceUnavailable(self.name) from exc
        except BaseException:
            with self._lock:
                self._trial_in_flight = False
            raise
        self._record(failed=time.perf_counter() - started > self.config.slow_call_seconds)
        return result

    def _before(self) -> None:
        now = self.clock()
        if now >= self._next_shared_check:
            self._sync_shared(now)
        if self._state is BreakerState.CLOSED:  # the hot path: no lock
            return
        with self._lock:
            if self._state is BreakerState.OPEN:
                if now < self._open_until:
                    raise BreakerOpen(self.name)
                self._state = BreakerState.HALF_OPEN
                self._trial_in_flight = False
            if self._state is BreakerState.HALF_OPEN:
                if self._trial_in_flight:
                    raise BreakerOpen(self.name)
                self._trial_in_flight = True

    def _record(self, *, failed: bool) -> None:
        opened_until: float | None = None
        closed = False
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.config.window_seconds:
                self._window_start, self._calls, self._failures = now, 0, 0
            self._calls += 1
            if failed:
                self._failures += 1
                self._consecutive += 1
                cfg = self.config
                if (
                    self._state is BreakerState.HALF_OPEN
                    or self._consecutive >= cfg.consecutive_failures
                    or (self._calls >= cfg.min_calls and self._failures >= cfg.failure_rate * self._calls)
                ):
                    opened_until = self._open(now)
            else:
                self._consecutive = 0
                if self._state is BreakerState.HALF_OPEN:
                    self._state = BreakerState.CLOSED
                    self._trial_in_flight = False
                    self._window_start, self._calls, self._failures = now, 0, 0
                    closed = True
        if opened_until is not None:
            self._publish(opened_until)
        elif closed:
            self._publish(None)

    def _open(self, now: float) -> float:
        self._state = BreakerState.OPEN
        self._open_until = now + self.config.cooldown_seconds
        self._trial_in_flight = False
        self._consecutive = 0
        self._window_start, self._calls, self._failures = now, 0, 0
        return self._open_until

    # --- sharing with other processes -------------------------------------------------------

    def _publish(self, open_until: float | None) -> None:
        try:
            cache = _shared_cache()
            if open_until is None:
                cache.delete(self.cache_key)
            else:
                cache.set(self.cache_key, open_until, timeout=int(self.config.cooldown_seconds) + 1)
        except Exception:  # noqa: S110 - the cache is an optimisation; the local breaker still works
            pass

    def _sync_shared(self, now: float) -> None:
        self._next_shared_check = now + self.config.shared_check_seconds
        try:
            until = _shared_cache().get(self.cache_key)
        except Exception:
            return
        if until is None or float(until) <= now:
            return
        with self._lock:
            if self._state is not BreakerState.OPEN or float(until) > self._open_until:
                self._state = BreakerState.OPEN
                self._open_until = float(until)
                self._trial_in_flight = False

    def reset(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._open_until = 0.0
            self._consecutive = 0
            self._window_start, self._calls, self._failures = self.clock(), 0, 0
            self._trial_in_flight = False
            self._next_shared_check = 0.0


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(source: str) -> CircuitBreaker:
    """The process's breaker for a source name (created on first use, settings read then)."""
    breaker = _breakers.get(source)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.get(source)
            if breaker is None:
                breaker = _breakers[source] = CircuitBreaker(source, BreakerConfig.from_settings())
    return breaker


def reset_breakers() -> None:
    """Forget every breaker (tests; settings changes)."""
    with _breakers_lock:
        _breakers.clear()
