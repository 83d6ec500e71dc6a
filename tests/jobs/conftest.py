"""Fixtures for the job tests: a clock the test moves, throw-away tasks, a recording channel."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest

from tongban.jobs import registry

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


class FakeClock:
    """Stands in for tongban.core.clock.now: the worker and the services read time only there."""

    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, seconds: float) -> dt.datetime:
        self.value += dt.timedelta(seconds=seconds)
        return self.value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(START)
    monkeypatch.setattr("tongban.core.clock.now", fake)
    return fake


class Recorder:
    """What test handlers saw, safe to use from several worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.runs: Counter[int] = Counter()  # job id -> times its handler ran
        self.applied: dict[str, dict[str, Any]] = {}  # a receiver's view: idempotency key -> message
        self.fail_times = 0  # the next N calls raise

    def record(self, **entry: Any) -> None:
        job = registry.current_job()
        with self.lock:
            self.calls.append(entry)
            if job is not None:
                self.runs[job.job_id] += 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def tasks(recorder: Recorder):
    """Registers test tasks and a test outbox channel; removes them afterwards."""
    names: list[str] = []

    def add(name: str, func: Any, **options: Any) -> None:
        registry.job_task(name, **options)(func)
        names.append(name)

    def ok(*, case_id: int) -> None:
        recorder.record(task="ok", case_id=case_id)

    def flaky(*, case_id: int) -> None:
        recorder.record(task="flaky", case_id=case_id)
        with recorder.lock:
            if recorder.fail_times > 0:
                recorder.fail_times -= 1
                raise ConnectionError("counterpart timed out for 110105199001011234 / 13800138000")

    def broken(*, case_id: int) -> None:
        recorder.record(task="broken", case_id=case_id)
        raise RuntimeError("always broken")

    def rejected(*, case_id: int) -> None:
        recorder.record(task="rejected", case_id=case_id)
        raise registry.PermanentJobError("receiver said the message is invalid")

    add("test.ok", ok)
    add("test.flaky", flaky, max_attempts=4, backoff=10, backoff_cap=25)
    add("test.broken", broken, max_attempts=3, backoff=1, backoff_cap=1)
    add("test.rejected", rejected)
    add("test.short_lease", ok, lease_seconds=30, max_attempts=2)

    def receiver(payload: dict[str, Any], *, idempotency_key: str) -> None:
        """A counterpart that applies each key once, then (sometimes) loses the answer."""
        recorder.record(task="channel", key=idempotency_key, payload=payload)
        with recorder.lock:
            recorder.applied.setdefault(idempotency_key, payload)
            if recorder.fail_times > 0:
                recorder.fail_times -= 1
                raise TimeoutError("read timed out after the receiver applied the message")

    registry.register_channel("testchan", receiver, max_attempts=5, backoff=2, backoff_cap=60)
    names.append(registry.channel_task_name("testchan"))
    yield add
    for name in names:
        registry.unregister(name)
