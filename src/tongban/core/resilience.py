"""Budgets and clean failure for the platform's dependencies (issue 12; docs/operations.md, "Budgets").

* `Dependency`: one dependency's state in this process (the platform database, the cache). A call that
  times out takes it down at once, and so do `threshold` connection failures in a row; while it is down
  every call fails at once with `DependencyUnavailable` (a 503 with Retry-After, never a pass) instead
  of waiting on it. After a short cool-down one call is let through as a probe: its success brings the
  dependency back, its failure doubles the cool-down (up to a cap), so a dependency that returns is used
  again within seconds. Each change of state is one log line (`dependency_state`) and one count in
  `metrics()`, never a line per request.
* A slot limit per dependency: in a web process (`tongban serve`, T threads) at most T-1 threads wait
  on one dependency at once. A further call queues for a slot while the calls holding them are young (an
  answering dependency frees one within milliseconds), but is refused as unavailable as soon as they have
  been in flight `stuck_after` (0.5 s), so a dependency that hangs never holds every thread: /healthz and
  whatever does not need it keep being served. (The reference sources have their own bulkhead: tongban.verification.breaker.)
* `watchdog`: a client-side deadline on one database round trip. The server's statement_timeout cannot
  stop a connection that never completes or a network that stalls; a watchdog thread shuts the socket
  of a call past its deadline down, libpq reports the connection lost, and Django replaces it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger

log = get_logger("tongban.dependencies")

UP, DOWN = "up", "down"
TIMEOUT, ERROR = "timeout", "error"


class DependencyUnavailable(TongbanError):
    """A dependency is down or out of budget: `503 service_unavailable` with Retry-After. Never a pass."""

    def __init__(self, dependency: str, *, retry_after: int = 1) -> None:
        super().__init__("service_unavailable", headers={"Retry-After": str(max(1, retry_after))})
        self.dependency = dependency

    def __str__(self) -> str:
        return f"{self.dependency} unavailable"


# --- what an operator can read: the state of each dependency and how often it changed ----------------------

_metrics_lock = threading.Lock()
_transitions: Counter[tuple[str, str]] = Counter()
_rejected: Counter[tuple[str, str]] = Counter()
_states: dict[str, dict[str, Any]] = {}


def note_transition(dependency: str, state: str, *, reason: str | None = None, level: str = "warning",
                    **fields: Any) -> None:
    """One log line and one count for a change of state of `dependency` (a breaker's too)."""
    with _metrics_lock:
        _transitions[(dependency, state)] += 1
        _states[dependency] = {"state": state, "since": time.time(), "reason": reason}
    getattr(log, level)("dependency_state", dependency=dependency, state=state, reason=reason, **fields)


def note_rejected(dependency: str, why: str) -> None:
    """A call refused without waiting (down, or no free slot): counted, not logged."""
    with _metrics_lock:
        _rejected[(dependency, why)] += 1


def metrics() -> dict[str, Any]:
    """This process's dependency states and counters (shown by /readyz)."""
    with _metrics_lock:
        return {
            "states": {name: dict(value) for name, value in _states.items()},
            "transitions": {f"{name}:{state}": count for (name, state), count in sorted(_transitions.items())},
            "rejected": {f"{name}:{why}": count for (name, why), count in sorted(_rejected.items())},
        }


# --- one dependency ------------------------------------------------------------------------------------------


def _serving_threads() -> int:
    from config.env import serving_threads

    return serving_threads()


def serving() -> bool:
    """Does this process serve web requests (`tongban serve`)?"""
    return _serving_threads() > 0


def slot_limit() -> int | None:
    """Threads of this web process that may wait on one dependency at once (T-1), or None (no limit:
    not a web process, or one thread, which can never keep one free)."""
    threads = _serving_threads()
    return threads - 1 if threads >= 2 else None


class Dependency:
    """One dependency's state and slots in this process (see the module docstring)."""

    def __init__(self, name: str, *, classify: Callable[[BaseException], str | None],
                 error: Callable[[Dependency], BaseException] | None = None, cooldown: float = 1.0,
                 max_cooldown: float = 5.0, threshold: int = 3, limit: int | None = None,
                 admission_wait: float = 1.0, stuck_after: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.classify = classify
        self.error = error or (lambda dep: DependencyUnavailable(dep.name, retry_after=dep.retry_after()))
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.threshold = threshold
        self.admission_wait = admission_wait
        self.clock = clock
        self.limit = limit or None
        self.stuck_after = stuck_after
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(threading.Lock())
        self._inflight: dict[int, float] = {}  # slot token -> started (time.monotonic)
        self._tokens = 0
        self._down = False
        self._retry_at = 0.0
        self._cooldown = cooldown
        self._probing = False
        self._failures = 0

    @property
    def state(self) -> str:
        return DOWN if self._down else UP

    def retry_after(self) -> int:
        return max(1, int(self._retry_at - self.clock() + 0.999)) if self._down else 1

    # -- a call ------------------------------------------------------------------------------------------

    def admit(self) -> tuple[bool, int]:
        """Before a call: raise at once while down (unless this call is the probe) or when no slot is free.
        Returns (is the probe, slot token) for `release`.

        With every slot taken, a call waits for one — up to `admission_wait` — only while the calls holding
        them are young (the dependency answers, they are queueing): once the oldest has been in flight
        `stuck_after`, the dependency is stuck and the call is refused at once, which frees its thread."""
        probe = False
        if self._down:
            with self._lock:
                if self._down:
                    if self._probing or self.clock() < self._retry_at:
                        note_rejected(self.name, "down")
                        raise self.error(self)
                    self._probing = probe = True
        if self.limit is None:
            return probe, 0
        with self._slot_free:
            inflight = self._inflight
            if len(inflight) >= self.limit:
                now = time.monotonic()
                give_up = now + self.admission_wait
                while len(inflight) >= self.limit:
                    stuck_at = min(inflight.values()) + self.stuck_after
                    if now >= stuck_at or now >= give_up:
                        if probe:
                            with self._lock:
                                self._probing = False
                        note_rejected(self.name, "busy")
                        raise self.error(self)
                    self._slot_free.wait(min(stuck_at, give_up) - now)
                    now = time.monotonic()
            self._tokens += 1
            inflight[self._tokens] = time.monotonic()
            return probe, self._tokens

    def release(self, admitted: tuple[bool, int], exc: BaseException | None, *, timed_out: bool = False) -> None:
        """After a call: its outcome (`exc` None: it answered) moves the state."""
        probe, token = admitted
        if token:
            with self._slot_free:
                self._inflight.pop(token, None)
                self._slot_free.notify()
        kind = TIMEOUT if timed_out else (self.classify(exc) if exc is not None else None)
        if kind is None:
            if self._down or self._failures:
                self._succeeded()
            return
        self._failed(kind, exc, probe)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        admitted = self.admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.release(admitted, exc)
            raise
        self.release(admitted, None)
        return result

    def _succeeded(self) -> None:
        with self._lock:
            was_down = self._down
            self._down = self._probing = False
            self._failures = 0
            self._cooldown = self.base_cooldown
        if was_down:
            note_transition(self.name, UP, level="info")

    def _failed(self, kind: str, exc: BaseException | None, probe: bool) -> None:
        with self._lock:
            self._failures += 1
            if probe:
                self._probing = False
                self._cooldown = min(self.max_cooldown, self._cooldown * 2)
            elif not self._down and kind != TIMEOUT and self._failures < self.threshold:
                return
            went_down = not self._down
            self._down = True
            self._retry_at = self.clock() + self._cooldown
            cooldown = self._cooldown
        if went_down:
            note_transition(self.name, DOWN, reason=kind, error=type(exc).__name__ if exc else None,
                            retry_in_seconds=round(cooldown, 2))

    def reset(self) -> None:
        with self._lock:
            self._down = self._probing = False
            self._failures = 0
            self._cooldown = self.base_cooldown


_dependencies: dict[str, Dependency] = {}
_dependencies_lock = threading.Lock()


def register(dependency: Dependency) -> Dependency:
    with _dependencies_lock:
        return _dependencies.setdefault(dependency.name, dependency)


def get(name: str) -> Dependency | None:
    return _dependencies.get(name)


def reset() -> None:
    """Every dependency back up and the counters cleared (tests)."""
    for dependency in list(_dependencies.values()):
        dependency.reset()
    with _metrics_lock:
        _transitions.clear()
        _rejected.clear()
        _states.clear()


def budgets() -> Any:
    from django.conf import settings

    return settings.TONGBAN_BUDGETS


def new_dependency(name: str, *, classify: Callable[[BaseException], str | None],
                   error: Callable[[Dependency], BaseException] | None = None) -> Dependency:
    """A dependency with the configured cool-downs and, in a web process, T-1 slots."""
    b = budgets()
    return register(Dependency(name, classify=classify, error=error, cooldown=b.dependency_cooldown_ms / 1000,
                               max_cooldown=b.dependency_max_cooldown_ms / 1000, limit=slot_limit(),
                               admission_wait=b.dependency_admission_wait_ms / 1000,
                               stuck_after=b.dependency_stuck_ms / 1000))


# --- the client-side deadline on a database round trip -------------------------------------------------------


class _Watchdog:
    """Shuts down the socket of a call still running past its deadline (one thread per process)."""

    TICK = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, list[Any]] = {}  # thread id -> [deadline, fd, fired]
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, fd: int, seconds: float) -> None:
        entry = [time.monotonic() + seconds, fd, False]
        with self._lock:
            self._calls[threading.get_ident()] = entry
        if self._pid != os.getpid():
            self._start()
        if not self._wake.is_set():
            self._wake.set()

    def unwatch(self) -> bool:
        """End the watch of this thread's call; True when its deadline had passed and its socket was cut."""
        with self._lock:
            entry = self._calls.pop(threading.get_ident(), None)
        return bool(entry is not None and entry[2])

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="tongban-deadlines", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                if not self._calls:
                    self._wake.clear()
                    continue
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:  # held while cutting: a call cannot end (and its socket close) meanwhile
                for entry in self._calls.values():
                    if not entry[2] and now >= entry[0]:
                        entry[2] = True
                        _cut(entry[1])


def _cut(fd: int) -> None:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


watchdog = _Watchdog()


class CallBudget:
    """What one database connection's calls run under: its dependency (fail fast, slots) and deadline."""

    __slots__ = ("dependency", "deadline", "timeout_error")

    def __init__(self, dependency: Dependency | None, deadline: float | None,
                 timeout_error: type[BaseException] = TimeoutError) -> None:
        self.dependency = dependency
        self.deadline = deadline
        self.timeout_error = timeout_error  # raised (from the driver's error) when the deadline cut a call

    def run(self, fd: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        dependency, deadline = self.dependency, self.deadline
        probe = dependency.admit() if dependency is not None else (False, 0)
        if deadline is not None:
            watchdog.watch(fd, deadline)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            fired = watchdog.unwatch() if deadline is not None else False
            if dependency is not None:
                dependency.release(probe, exc, timed_out=fired)
            if fired:
                raise self.timeout_error(f"no answer within {deadline:.1f} s: the connection was cut") from exc
            raise
        fired = watchdog.unwatch() if deadline is not None else False
        if dependency is not None:
            dependency.release(probe, None, timed_out=fired)
        return result


def as_unavailable(exc: BaseException | None) -> DependencyUnavailable | None:
    """The 503 a failure of a dependency answers (None: not a dependency's failure, a bug — a 500).

    DependencyUnavailable itself; a database error of reaching the database (Django's OperationalError and
    InterfaceError, which tongban.core.pgbackend's fail-fast and deadline errors become); a Redis
    connection error or timeout that escaped tongban.core.cache."""
    if exc is None:
        return None
    if isinstance(exc, DependencyUnavailable):
        return exc
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        database = get("database")
        return DependencyUnavailable("database", retry_after=database.retry_after() if database else 1)
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return None
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        cache = get("cache")
        return DependencyUnavailable("cache", retry_after=cache.retry_after() if cache else 1)
    return None
