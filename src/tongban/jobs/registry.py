"""Which function runs a job: task handlers by name, outbox channel handlers by channel.

    @job_task("cases.send_receipt", max_attempts=5)
    def send_receipt(*, case_id: int) -> None: ...          # called as send_receipt(**payload)

    @outbox_channel("sms", lease_seconds=30, on_expire=forget_sms)
    def deliver_sms(payload: dict, *, idempotency_key: str) -> None: ...
    def forget_sms(payload: dict) -> None: ...              # its useful life passed: it will not be sent

    @job_task("sso.sessions_sweep", every=300)
    def sweep() -> None: ...                                # a recurring task: once per 300 s period

Register at import time of the app's `tasks.py` (import it from AppConfig.ready) so that every
process — web and worker alike — knows the same names.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured

from tongban.jobs.models import OUTBOX_PREFIX

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = 10.0  # seconds before the first retry; doubles each attempt
DEFAULT_BACKOFF_CAP = 3600.0  # never wait longer than this between attempts
DEFAULT_LEASE_SECONDS = 300  # a job running longer than this is presumed lost and run again


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (the receiver rejected the message as invalid).

    The job goes straight to `dead`, visible to operators, without using its remaining attempts.
    """


@dataclass(frozen=True)
class JobContext:
    """What a running handler may want to know about its own job (see `current_job`)."""

    job_id: int
    task: str
    attempt: int
    max_attempts: int
    idempotency_key: str | None
    expires_at: dt.datetime | None = None  # the end of its useful life, if it has one


class ChannelHandler(Protocol):
    def __call__(self, payload: dict[str, Any], *, idempotency_key: str) -> Any: ...


@dataclass(frozen=True)
class TaskSpec:
    name: str
    func: Callable[..., Any]
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    queue: str = "default"
    channel: str | None = None
    every: float | None = None  # a recurring task: one job per period of this many seconds (worker.py)
    # Called with the payload, in the transaction that marks a job of this task expired (its useful life
    # passed before it ran): the owner of the data forgets what will never be sent.
    on_expire: Callable[[dict[str, Any]], Any] | None = None

    def check_payload(self, payload: dict[str, Any]) -> None:
        """Raise TypeError if the payload does not fit the handler's signature (a permanent failure)."""
        if self.channel is None:
            inspect.signature(self.func).bind(**payload)

    def invoke(self, payload: dict[str, Any], context: JobContext) -> Any:
        if self.channel is not None:
            if not context.idempotency_key:
                raise PermanentJobError("outbox message without an idempotency key")
            return self.func(payload, idempotency_key=context.idempotency_key)
        return self.func(**payload)


_tasks: dict[str, TaskSpec] = {}
_lock = threading.Lock()
_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar("tongban_current_job", default=None)


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # A module imported twice (tests, autoreload) re-registers an equal function: not a clash.
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None),
        getattr(b, "__qualname__", None),
    )


def _validate(name: str, max_attempts: int, backoff: float, backoff_cap: float, lease_seconds: int) -> None:
    if not name or len(name) > 100 or name != name.strip():
        raise ImproperlyConfigured(f"job task name {name!r} must be 1-100 characters without outer spaces")
    if max_attempts < 1:
        raise ImproperlyConfigured(f"job task {name}: max_attempts must be at least 1")
    if backoff < 0 or backoff_cap < backoff:
        raise ImproperlyConfigured(f"job task {name}: need 0 <= backoff <= backoff_cap")
    if lease_seconds < 1:
        raise ImproperlyConfigured(f"job task {name}: lease_seconds must be at least 1")


def register(spec: TaskSpec) -> TaskSpec:
    _validate(spec.name, spec.max_attempts, spec.backoff, spec.backoff_cap, spec.lease_seconds)
    if spec.every is not None:
        if spec.every < 1:
            raise ImproperlyConfigured(f"job task {spec.name}: every must be at least 1 second")
        try:
            inspect.signature(spec.func).bind()
        except TypeError as exc:
            raise ImproperlyConfigured(f"recurring job task {spec.name} must take no arguments") from exc
    with _lock:
        existing = _tasks.get(spec.name)
        if existing is not None and not _same_function(existing.func, spec.func):
            raise ImproperlyConfigured(f"job task {spec.name!r} is already registered by {existing.func!r}")
        _tasks[spec.name] = spec
    return spec


def job_task(
    name: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    backoff_cap: float = DEFAULT_BACKOFF_CAP,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    queue: str = "default",
    every: float | None = None,
    on_expire: Callable[[dict[str, Any]], Any] | None = None,
) -> Callable[[F], F]:
    """Register the decorated function as the handler of task `name`; it is called as `func(**payload)`.

    With `every` (seconds) the task is recurring: long-running workers enqueue one job of it per
    period (`services.recurring_enqueue_due`), and it takes no arguments. `on_expire(payload)` runs when
    a job of it is marked expired (enqueued with `expires_at`, which passed before it ran)."""
    if name.startswith(OUTBOX_PREFIX):
        raise ImproperlyConfigured(f"task names starting with {OUTBOX_PREFIX!r} are reserved for outbox channels")

    def decorator(func: F) -> F:
        register(TaskSpec(name=name, func=func, max_attempts=max_attempts, backoff=backoff,
                          backoff_cap=backoff_cap, lease_seconds=lease_seconds, queue=queue, every=every,
                          on_expire=on_expire))
        return func

    return decorator


def channel_task_name(channel: str) -> str:
    return f"{OUTBOX_PREFIX}{channel}"


def register_channel(
    channel: str,
    handler: ChannelHandler,
    *,
    max_attempts: int = 8,
    backoff: float = DEFAULT_BACKOFF,
    backoff_cap: float = DEFAULT_BACKOFF_CAP,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    queue: str = "default",
    on_expire: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Make `handler(payload, idempotency_key=...)` the deliverer of outbox messages on `channel`.

    The handler must pass the key to the receiver (a header, a request field) so that a message
    delivered twice — after a crash or a timeout whose request did arrive — is applied once.
    A channel whose messages have a useful life (`outbox_send(expires_at=...)`) needs a lease shorter
    than the shortest of them, so that a message held by a worker that crashed is sent again in time
    (enqueueing a message that lives no longer than the lease is refused); `on_expire(payload)` runs in
    the transaction that marks a message expired.
    """
    if not channel or "." in channel or len(channel) > 100 - len(OUTBOX_PREFIX):
        raise ImproperlyConfigured(f"outbox channel name {channel!r} must be short and without dots")
    register(TaskSpec(name=channel_task_name(channel), func=handler, max_attempts=max_attempts, backoff=backoff,
                      backoff_cap=backoff_cap, lease_seconds=lease_seconds, queue=queue, channel=channel,
                      on_expire=on_expire))


def outbox_channel(channel: str, **options: Any) -> Callable[[F], F]:
    """Decorator form of `register_channel`."""

    def decorator(func: F) -> F:
        register_channel(channel, func, **options)
        return func

    return decorator


def get_task(name: str) -> TaskSpec | None:
    return _tasks.get(name)


def get_channel(channel: str) -> TaskSpec | None:
    return _tasks.get(channel_task_name(channel))


def task_names() -> list[str]:
    return sorted(_tasks)


def recurring_tasks() -> list[TaskSpec]:
    return sorted((spec for spec in _tasks.values() if spec.every is not None), key=lambda spec: spec.name)


def unregister(name: str) -> None:
    """For tests that register throw-away tasks."""
    with _lock:
        _tasks.pop(name, None)


def current_job() -> JobContext | None:
    """The job the calling handler runs for (None outside a job): attempt number, key, id."""
    return _current.get()


def _set_current(context: JobContext | None) -> contextvars.Token[JobContext | None]:
    return _current.set(context)


def _reset_current(token: contextvars.Token[JobContext | None]) -> None:
    _current.reset(token)
