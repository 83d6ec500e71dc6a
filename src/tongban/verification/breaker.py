"""A circuit breaker and a bulkhead per authoritative source, so a failing or hung source is not hammered,
fails fast, and cannot hold every worker thread (issue 12).

closed → open after `consecutive_failures` failures in a row, or when at least `min_calls` calls in
the current `window_seconds` failed at a rate of `failure_rate` or more; open → every call fails at
once with BreakerOpen (a SourceUnavailable) for the cool-down; then half-open → one trial call
is let through: success closes the breaker, failure opens it again with the cool-down doubled (from
`cooldown_seconds`, 1 s, up to `max_cooldown_seconds`, 5 s), so a source that comes back is used
again within seconds. A call slower than `slow_call_seconds` keeps its answer but counts as a failure,
and a call still in flight past it counts as a timeout as soon as another call finds the bulkhead full
— a source that hangs opens the breaker as surely as one that errors, without waiting for the hung
calls to end (the database's client-side deadline ends them: tongban.core.pgbackend).

The bulkhead: at most `max_concurrent` calls to one source in flight in a process (default: half the
web threads, at least 1; unlimited outside a web process); a further call waits `slot_wait_seconds`
(0.1 s: a source that answers frees a place within milliseconds) and then fails with BulkheadFull (a
SourceUnavailable) for that source only — the other sources, L1 verifications, pages
and /healthz keep their threads.

Every change of state is one log line and one count (tongban.core.resilience.note_transition, shown by
/readyz), and so is the first failure after a success; never a line per call.

State lives in each process (cheap: no I/O on the hot path). When a breaker opens it also writes
"open until" into the Django cache (Redis in production); every process looks at that flag at most
once per `shared_check_seconds` and opens too, so one process's discovery spares the others — but for
no longer than its own current cool-down, so a process that starts (or restarts) while the flag is up
makes its own probe within one cool-down instead of inheriting a stale open state. A process whose
trial call succeeds clears the flag. If the cache is down, each process keeps its own breaker.
Parameters: settings.TONGBAN_VERIFICATION_BREAKER (a dict of BreakerConfig fields).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

from django.db import Error as DatabaseError

from tongban.core import resilience
from tongban.core.logging import get_logger
from tongban.registry.interfaces import SourceUnavailable

log = get_logger("tongban.verification.breaker")

T = TypeVar("T")

# What counts as the source failing (anything else is a bug and propagates unchanged).
SOURCE_FAILURES: tuple[type[BaseException], ...] = (SourceUnavailable, DatabaseError, TimeoutError, ConnectionError)


class BreakerOpen(SourceUnavailable):
    """The breaker is open: the source was not called."""


class BulkheadFull(BreakerOpen):
    """The source already has `max_concurrent` calls in flight in this process: not called."""


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
    cooldown_seconds: float = 1.0  # the first wait before a trial; doubled after each failed trial ...
    max_cooldown_seconds: float = 5.0  # ... up to this (or cooldown_seconds, if larger)
    slow_call_seconds: float = 2.0
    shared_check_seconds: float = 1.0
    max_concurrent: int | None = None  # calls in flight per process; None: from the budgets (module docstring)
    slot_wait_seconds: float = 0.1  # a call finding the bulkhead full waits this long for a place

    @classmethod
    def from_settings(cls) -> BreakerConfig:
        from django.conf import settings

        overrides = getattr(settings, "TONGBAN_VERIFICATION_BREAKER", None) or {}
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"TONGBAN_VERIFICATION_BREAKER: unknown keys {sorted(unknown)}")
        return cls(**overrides)

    def concurrency(self) -> int | None:
        """The bulkhead's size: configured, else TONGBAN_SOURCE_MAX_CONCURRENT, else half the web threads
        (at least 1); None (unlimited) outside a web process."""
        if self.max_concurrent is not None:
            return self.max_concurrent if self.max_concurrent > 0 else None
        from django.conf import settings

        configured = settings.TONGBAN_BUDGETS.source_max_concurrent
        if configured > 0:
            return int(configured)
        threads = resilience._serving_threads()
        return max(1, threads // 2) if threads else None


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
        self._cooldown = self.config.cooldown_seconds
        self._limit = self.config.concurrency()
        # Trials off the request threads in a web process (tests and commands keep them inline).
        self.background_trials = resilience.serving()
        self._inflight: dict[int, float] = {}  # call token -> started (perf_counter)
        self._tokens = 0
        self._slot_free = threading.Condition(self._lock)
        self._overdue: set[int] = set()  # in-flight calls already counted as timeouts
        self._failing_logged = False

    @property
    def dependency(self) -> str:
        return f"source:{self.name}"

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
        trial = self._before()
        if trial and self.background_trials:
            # In a web process the trial runs on a thread of its own, never a request's: a source still hung
            # holds no worker thread for its deadline, and this caller is answered at once.
            threading.Thread(target=self._background_trial, args=(fn, args, kwargs),
                             name=f"breaker-trial-{self.name}", daemon=True).start()
            raise BreakerOpen(self.name)
        return self._attempt(trial, fn, args, kwargs)

    def _background_trial(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            self._attempt(True, fn, args, kwargs)
        except BaseException:  # noqa: S110 - the trial's outcome is recorded; nobody waits for it
            pass
        finally:
            from django.db import connections

            connections.close_all()  # this thread's own connections: it ends now

    def _attempt(self, trial: bool, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        token = self._enter(trial)
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except SOURCE_FAILURES as exc:
            if not self._leave(token):  # (a call already counted as a timeout while in flight is not counted twice)
                self._record(failed=True, error=exc)
            if isinstance(exc, SourceUnavailable):
                raise
            raise SourceUnavailable(self.name) from exc
        except BaseException:
            self._leave(token)
            with self._lock:
                self._trial_in_flight = False
            raise
        counted = self._leave(token)
        slow = time.perf_counter() - started > self.config.slow_call_seconds
        if not counted or not slow:
            self._record(failed=slow, error=TimeoutError("slow") if slow else None)
        return result

    # --- the bulkhead -------------------------------------------------------------------------

    def _enter(self, trial: bool) -> int:
        """Take a place among the calls in flight, or fail at once (BulkheadFull) when there is none. The
        calls then found in flight past slow_call_seconds count as timeouts (each once); when every call in
        flight is past it, the source is hung and the breaker opens now."""
        now = time.perf_counter()
        overdue = 0
        with self._slot_free:
            if self._limit is not None and len(self._inflight) >= self._limit:
                # A source that answers frees a place within milliseconds: wait that long, no more.
                self._slot_free.wait_for(lambda: len(self._inflight) < self._limit, self.config.slot_wait_seconds)  # type: ignore[operator]
                now = time.perf_counter()
            if self._limit is None or len(self._inflight) < self._limit:
                self._tokens += 1
                self._inflight[self._tokens] = now
                return self._tokens
            late = self.config.slow_call_seconds
            for other, started in self._inflight.items():
                if other not in self._overdue and now - started > late:
                    self._overdue.add(other)
                    overdue += 1
            hung = all(now - started > late for started in self._inflight.values())
            if trial:
                self._trial_in_flight = False
        resilience.note_rejected(self.dependency, "bulkhead")
        for _ in range(overdue):
            self._record(failed=True, error=TimeoutError("no answer within slow_call_seconds"), force=hung)
        raise BulkheadFull(self.name)

    def _leave(self, token: int) -> bool:
        """Give the place back; True when this call was already counted (as a timeout) while in flight."""
        with self._lock:
            self._inflight.pop(token, None)
            if self._limit is not None:
                self._slot_free.notify()
            if token in self._overdue:
                self._overdue.discard(token)
                return True
        return False

    def _before(self) -> bool:
        """Fail at once while open; True when this call is the half-open trial."""
        now = self.clock()
        if now >= self._next_shared_check:
            self._sync_shared(now)
        if self._state is BreakerState.CLOSED:  # the hot path: no lock
            return False
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
                return True
        return False

    def _record(self, *, failed: bool, error: BaseException | None = None, force: bool = False) -> None:
        opened_until: float | None = None
        closed = first_failure = False
        previous = self._state
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.config.window_seconds:
                self._window_start, self._calls, self._failures = now, 0, 0
            self._calls += 1
            if failed:
                self._failures += 1
                self._consecutive += 1
                cfg = self.config
                if self._state is BreakerState.CLOSED and not self._failing_logged:
                    self._failing_logged = first_failure = True
                if self._state is BreakerState.HALF_OPEN:
                    self._cooldown = min(max(cfg.max_cooldown_seconds, cfg.cooldown_seconds), self._cooldown * 2)
                    opened_until = self._open(now)
                elif self._state is BreakerState.CLOSED and (
                    force or self._consecutive >= cfg.consecutive_failures
                    or (self._calls >= cfg.min_calls and self._failures >= cfg.failure_rate * self._calls)
                ):
                    self._cooldown = cfg.cooldown_seconds
                    opened_until = self._open(now)
            else:
                self._consecutive = 0
                self._failing_logged = False
                if self._state is BreakerState.HALF_OPEN:
                    self._state = BreakerState.CLOSED
                    self._trial_in_flight = False
                    self._window_start, self._calls, self._failures = now, 0, 0
                    self._cooldown = self.config.cooldown_seconds
                    closed = True
        reason = None if error is None else type(error).__name__
        if first_failure and opened_until is None:
            log.warning("source_call_failed", source=self.name, error=reason)
        if opened_until is not None:
            after_trial = previous is BreakerState.HALF_OPEN
            resilience.note_transition(self.dependency, "open", reason=reason,
                                       level="info" if after_trial else "warning", source=self.name,
                                       retry_in_seconds=round(self._cooldown, 2),
                                       after="trial" if after_trial else ("hung" if force else "failures"))
            self._publish(opened_until)
        elif closed:
            resilience.note_transition(self.dependency, "closed", level="info", source=self.name)
            self._publish(None)

    def _open(self, now: float) -> float:
        self._state = BreakerState.OPEN
        self._open_until = now + self._cooldown
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
                cache.set(self.cache_key, open_until, timeout=int(self._cooldown) + 1)
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
        # Never longer than this process's own cool-down: a process that (re)starts while another's flag is up
        # probes the source itself after one cool-down instead of inheriting a stale open state.
        # Only a closed breaker adopts it: an open one keeps its own timing, so re-reading the flag never
        # postpones its trial.
        until = min(float(until), now + self._cooldown)
        adopted = False
        with self._lock:
            if self._state is BreakerState.CLOSED:
                adopted = True
                self._state = BreakerState.OPEN
                self._open_until = until
                self._trial_in_flight = False
        if adopted:
            resilience.note_transition(self.dependency, "open", reason="shared", level="info", source=self.name,
                                       retry_in_seconds=round(until - now, 2))

    def reset(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._open_until = 0.0
            self._consecutive = 0
            self._window_start, self._calls, self._failures = self.clock(), 0, 0
            self._trial_in_flight = False
            self._next_shared_check = 0.0
            self._cooldown = self.config.cooldown_seconds
            self._inflight.clear()
            self._overdue.clear()
            self._failing_logged = False


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
