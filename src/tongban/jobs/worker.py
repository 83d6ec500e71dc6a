"""The worker: claims due jobs one at a time under a lease, runs them, records the outcome.

Claiming is safe with any number of workers: PostgreSQL skips rows another worker holds
(`FOR UPDATE SKIP LOCKED`); SQLite takes the write lock at BEGIN (`transaction_mode=IMMEDIATE`),
and the claim is a compare-and-set on the status either way. The handler runs outside the claim
transaction, and every outcome is written only if this worker still holds the lease, so a job
reclaimed from a worker presumed dead is not finished twice. A job with a useful life (`expires_at`)
is never started after it: each pass marks such jobs `expired`. Time comes from
`tongban.core.clock.now` so tests can move it.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import secrets
import socket
import threading
import time
import traceback
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections, connections, transaction
from django.db.models import F, QuerySet

from tongban.core import clock
from tongban.core.clock import to_local
from tongban.core.logging import get_logger
from tongban.core.masking import scrub
from tongban.jobs import registry
from tongban.jobs.models import RUNNABLE_STATUSES, Job, JobStatus

log = get_logger("tongban.jobs")

MAX_ERROR_CHARS = 2000
OUTCOME_WRITE_ATTEMPTS = 5
_rng = secrets.SystemRandom()


def jitter() -> float:
    """A number in [0, 1) spreading retries of many failed jobs apart (patched by tests)."""
    return _rng.random()


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped, jittered.

    "Equal jitter": half the exponential delay is fixed and half random, so a retry never comes
    sooner than half the nominal delay and many jobs failing together do not retry together.
    """
    nominal = min(cap, base * (2 ** max(0, attempt - 1)))
    return nominal / 2 + jitter() * nominal / 2


def format_error(exc: BaseException) -> str:
    """Exception type, message and where it happened — masked and cut short, never the payload."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    if where:
        text += f"\n  at {where}"
    text = scrub(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True)
class Outcome:
    job_id: int
    task: str
    status: JobStatus


_local_workers: weakref.WeakSet[Worker] = weakref.WeakSet()
_local_workers_lock = threading.Lock()


def wake_local_workers() -> None:
    """Tell this process's idle workers to look now (called after a commit that enqueued a job)."""
    with _local_workers_lock:
        workers = list(_local_workers)
    for worker in workers:
        worker.wake()


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}:{secrets.token_hex(3)}"


class Worker:
    """Runs jobs from the given queues (all queues if none given). One Worker per thread."""

    def __init__(
        self,
        *,
        queues: Iterable[str] | None = None,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        worker_id: str | None = None,
        using: str = "default",
        recurring: bool = False,
    ) -> None:
        self.queues = tuple(queues) if queues else ()
        # Long-running workers (the command, the in-process thread) also enqueue each period's job of
        # the recurring tasks; a Worker driven pass by pass (tests, `--once`) runs only what is queued.
        self.recurring = recurring
        self._recurring_done: dict[str, int] = {}
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.worker_id = (worker_id or _default_worker_id())[:200]
        self.using = using
        self._wake = threading.Event()
        with _local_workers_lock:
            _local_workers.add(self)

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Reclaim lost jobs, expire those past their useful life, then claim and run due jobs until none
        is due or `batch_size` ran."""
        self.reclaim_expired()
        self.expire_overdue()
        done = 0
        while done < self.batch_size:
            job = self.claim()
            if job is None:
                break
            self.execute(job)
            done += 1
        return done

    def _runnable(self, now: dt.datetime) -> QuerySet[Job]:
        qs = Job.objects.using(self.using).runnable(now).live(now)
        if self.queues:
            qs = qs.filter(queue__in=self.queues)
        return qs

    def claim(self) -> Job | None:
        """Take the next due job under a lease, or None. The claim commits before the job runs."""
        now = clock.now()
        # A read without a transaction first: an idle worker must not take SQLite's write lock.
        if not self._runnable(now).exists():
            return None
        skip_locked = connections[self.using].features.has_select_for_update_skip_locked
        for _ in range(5):
            with transaction.atomic(using=self.using):
                qs = self._runnable(now).order_by("run_after", "id")
                if skip_locked:
                    qs = qs.select_for_update(skip_locked=True)
                row = qs.values_list("id", "task").first()
                if row is None:
                    return None
                job_id, task = row
                spec = registry.get_task(task)
                lease = spec.lease_seconds if spec else registry.DEFAULT_LEASE_SECONDS
                # Compare-and-set: only a row still waiting becomes ours.
                claimed = Job.objects.using(self.using).filter(pk=job_id, status__in=RUNNABLE_STATUSES).update(
                    status=JobStatus.RUNNING,
                    attempts=F("attempts") + 1,
                    locked_by=self.worker_id,
                    lease_expires_at=now + dt.timedelta(seconds=lease),
                    updated_at=now,
                )
                if claimed:
                    return Job.objects.using(self.using).get(pk=job_id)
        return None

    def execute(self, job: Job) -> Outcome:
        """Run a claimed job's handler outside any transaction and record the outcome."""
        spec = registry.get_task(job.task)
        if spec is None:
            return self._dead(job, f"未注册的任务（unknown task）：{job.task!r} 在本进程中没有处理函数。")
        context = registry.JobContext(job_id=job.id, task=job.task, attempt=job.attempts,
                                      max_attempts=job.max_attempts, idempotency_key=job.idempotency_key,
                                      expires_at=job.expires_at)
        try:
            spec.check_payload(job.payload)
        except TypeError as exc:
            return self._dead(job, format_error(exc))
        token = registry._set_current(context)
        started = time.monotonic()
        try:
            spec.invoke(job.payload, context)
        except registry.PermanentJobError as exc:
            return self._dead(job, format_error(exc))
        except Exception as exc:
            return self._failed(job, spec, exc)
        finally:
            registry._reset_current(token)
        return self._succeeded(job, duration_ms=int((time.monotonic() - started) * 1000))

    # -- outcomes, each written only while this worker holds the lease ---------------------------

    def _mine(self, job: Job) -> QuerySet[Job]:
        return Job.objects.using(self.using).filter(
            pk=job.id, status=JobStatus.RUNNING, locked_by=self.worker_id, attempts=job.attempts
        )

    def _record(self, job: Job, **fields: Any) -> int:
        """Write an outcome; a passing database error is retried rather than left to the lease."""
        for attempt in range(OUTCOME_WRITE_ATTEMPTS):
            try:
                return self._mine(job).update(**fields)
            except (OperationalError, InterfaceError):
                if attempt == OUTCOME_WRITE_ATTEMPTS - 1:
                    raise  # the lease runs out and the job is run again: handlers are idempotent
                log.warning("job.outcome_write_retry", job_id=job.id, task=job.task, attempt=job.attempts)
                connection = connections[self.using]
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()
                time.sleep(0.1 * 2**attempt)
        return 0

    def _lease_lost(self, job: Job, status: JobStatus) -> Outcome:
        # Someone reclaimed the job (our lease ran out); whoever holds it now decides its fate.
        log.warning("job.lease_lost", job_id=job.id, task=job.task, attempt=job.attempts, outcome=status.value)
        return Outcome(job.id, job.task, JobStatus.RUNNING)

    def _succeeded(self, job: Job, *, duration_ms: int) -> Outcome:
        now = clock.now()
        if not self._record(job, status=JobStatus.SUCCEEDED, finished_at=now, updated_at=now,
                                      locked_by="", lease_expires_at=None, last_error=""):
            return self._lease_lost(job, JobStatus.SUCCEEDED)
        log.info("job.succeeded", job_id=job.id, task=job.task, attempt=job.attempts, duration_ms=duration_ms)
        return Outcome(job.id, job.task, JobStatus.SUCCEEDED)

    def _failed(self, job: Job, spec: registry.TaskSpec, exc: Exception) -> Outcome:
        if job.attempts >= job.max_attempts:
            return self._dead(job, format_error(exc))
        now = clock.now()
        delay = backoff_delay(job.attempts, base=spec.backoff, cap=spec.backoff_cap)
        error = format_error(exc)
        if job.expires_at is not None and now + dt.timedelta(seconds=delay) >= job.expires_at:
            return self._expired(job, error)  # the next attempt would come after its useful life
        if not self._record(job, status=JobStatus.RETRYING, run_after=now + dt.timedelta(seconds=delay),
                                      updated_at=now, locked_by="", lease_expires_at=None, last_error=error):
            return self._lease_lost(job, JobStatus.RETRYING)
        log.warning("job.retrying", job_id=job.id, task=job.task, attempt=job.attempts,
                    max_attempts=job.max_attempts, retry_in_seconds=round(delay, 1),
                    error_type=type(exc).__name__)
        return Outcome(job.id, job.task, JobStatus.RETRYING)

    def _dead(self, job: Job, error: str) -> Outcome:
        now = clock.now()
        with transaction.atomic(using=self.using):
            if not self._record(job, status=JobStatus.DEAD, finished_at=now, updated_at=now,
                                locked_by="", lease_expires_at=None, last_error=error):
                return self._lease_lost(job, JobStatus.DEAD)
            _audit_dead(job.id, job.task, job.attempts, error)
        log.error("job.dead", job_id=job.id, task=job.task, attempt=job.attempts,
                  max_attempts=job.max_attempts, error=error.splitlines()[0] if error else "")
        return Outcome(job.id, job.task, JobStatus.DEAD)

    def _expired(self, job: Job, error: str) -> Outcome:
        now = clock.now()
        with transaction.atomic(using=self.using):
            if not self._record(job, status=JobStatus.EXPIRED, finished_at=now, updated_at=now, locked_by="",
                                lease_expires_at=None, last_error=_expiry_error(job.expires_at, error)):
                return self._lease_lost(job, JobStatus.EXPIRED)
            _note_expired(job.id, job.task, job.attempts, job.payload, job.expires_at, using=self.using)
        return Outcome(job.id, job.task, JobStatus.EXPIRED)

    # -- useful life --------------------------------------------------------------------------------

    def expire_overdue(self, limit: int = 100) -> int:
        """Waiting jobs whose useful life has passed become `expired` (terminal) without running.

        A login code that could not go out in its five minutes (no worker, a gateway down, a crash that
        held it) is not sent late: the person asks for a new one. Returns how many jobs expired.
        """
        now = clock.now()
        overdue = Job.objects.using(self.using).overdue(now)
        if not overdue.exists():
            return 0
        skip_locked = connections[self.using].features.has_select_for_update_skip_locked
        expired = 0
        with transaction.atomic(using=self.using):
            qs = overdue.order_by("expires_at", "id")
            if skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            rows = list(qs.values_list("id", "task", "attempts", "payload", "expires_at", "last_error")[:limit])
            for job_id, task, attempts, payload, expires_at, last_error in rows:
                # Compare-and-set, as every change of a job: only a row still waiting and still overdue.
                if Job.objects.using(self.using).filter(pk=job_id, status__in=RUNNABLE_STATUSES,
                                                        expires_at__lte=now).update(
                        status=JobStatus.EXPIRED, finished_at=now, updated_at=now,
                        last_error=_expiry_error(expires_at, last_error)):
                    expired += 1
                    _note_expired(job_id, task, attempts, payload, expires_at, using=self.using)
        return expired

    # -- crash recovery ---------------------------------------------------------------------------

    def reclaim_expired(self, limit: int = 100) -> int:
        """Jobs whose worker vanished mid-run go back to the queue (or die if out of attempts).

        The attempt that was running counts: it may have had effects, which is why handlers are
        idempotent. Returns how many jobs were reclaimed.
        """
        now = clock.now()
        expired = Job.objects.using(self.using).lease_expired(now)
        if not expired.exists():
            return 0
        skip_locked = connections[self.using].features.has_select_for_update_skip_locked
        reclaimed = 0
        with transaction.atomic(using=self.using):
            qs = expired.order_by("id")
            if skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            rows = list(qs.values_list("id", "task", "attempts", "max_attempts", "locked_by", "expires_at",
                                       "payload")[:limit])
            for job_id, task, attempts, max_attempts, locked_by, expires_at, payload in rows:
                error = scrub(f"租约到期（lease expired）：执行者 {locked_by} 未在期限内报告结果，进程可能已退出。")
                out_of_life = expires_at is not None and expires_at <= now
                out_of_attempts = attempts >= max_attempts
                fields: dict[str, object] = {"updated_at": now, "locked_by": "", "lease_expires_at": None,
                                             "last_error": error}
                if out_of_life:
                    # Its useful life passed while the lost worker held it: it is not run again.
                    fields.update(status=JobStatus.EXPIRED, finished_at=now,
                                  last_error=_expiry_error(expires_at, error))
                elif out_of_attempts:
                    fields.update(status=JobStatus.DEAD, finished_at=now)
                else:
                    fields.update(status=JobStatus.PENDING, run_after=now)
                if Job.objects.using(self.using).filter(pk=job_id, status=JobStatus.RUNNING,
                                                        lease_expires_at__lte=now).update(**fields):
                    reclaimed += 1
                    if out_of_life:
                        _note_expired(job_id, task, attempts, payload, expires_at, using=self.using)
                    elif out_of_attempts:
                        _audit_dead(job_id, task, attempts, "lease expired")
                        log.error("job.dead", job_id=job_id, task=task, attempt=attempts,
                                  max_attempts=max_attempts, error="lease expired")
                    else:
                        log.warning("job.lease_expired", job_id=job_id, task=task, attempt=attempts)
        return reclaimed

    # -- recurring tasks ----------------------------------------------------------------------------

    def enqueue_recurring(self) -> int:
        """This period's job of each recurring task, inserted once per period whoever gets there first."""
        from tongban.jobs.services import recurring_enqueue_due

        return len(recurring_enqueue_due(skip=self._recurring_done))

    # -- looping ----------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self, stop_event: threading.Event) -> None:
        """Poll until `stop_event` is set; a job in progress is finished first (graceful stop)."""
        log.info("job.worker_started", worker=self.worker_id, queues=list(self.queues) or "all")
        try:
            while not stop_event.is_set():
                close_old_connections()
                try:
                    if self.recurring:
                        self.enqueue_recurring()
                    done = self.run_once()
                except Exception:
                    # The database went away, a deploy is migrating...: say so and try again later.
                    log.exception("job.worker_iteration_failed", worker=self.worker_id)
                    done = 0
                    connections[self.using].close()
                finally:
                    close_old_connections()
                if done < self.batch_size and not stop_event.is_set():
                    self._wake.wait(self.poll_interval)
                    self._wake.clear()
        finally:
            connections.close_all()  # this thread's connections only
            log.info("job.worker_stopped", worker=self.worker_id)


# -- the in-process worker of the embedded default ---------------------------------------------------


@dataclass
class _InProcess:
    pid: int
    thread: threading.Thread
    stop: threading.Event
    worker: Worker


_inprocess: _InProcess | None = None
_inprocess_lock = threading.Lock()
_atexit_registered = False


def start_inprocess_worker(*, poll_interval: float = 1.0, queues: Iterable[str] | None = None,
                           recurring: bool = True) -> Worker:
    """Start (once per process) a daemon thread running a Worker (which also enqueues the recurring
    tasks' jobs unless told not to); return that Worker.

    Safe to call from every server process and more than once: a second call in the same process
    returns the running worker; after a fork the child starts its own.
    """
    global _inprocess, _atexit_registered
    with _inprocess_lock:
        current = _inprocess
        if current is not None and current.pid == os.getpid() and current.thread.is_alive():
            return current.worker
        stop = threading.Event()
        worker = Worker(queues=queues, poll_interval=poll_interval, recurring=recurring)
        thread = threading.Thread(target=worker.run_forever, args=(stop,), name="tongban-jobs-worker", daemon=True)
        _inprocess = _InProcess(pid=os.getpid(), thread=thread, stop=stop, worker=worker)
        thread.start()
        if not _atexit_registered:
            atexit.register(stop_inprocess_worker)
            _atexit_registered = True
        return worker


def stop_inprocess_worker(timeout: float = 10.0) -> None:
    """Ask the in-process worker to stop after its current job and wait up to `timeout` seconds."""
    global _inprocess
    with _inprocess_lock:
        current = _inprocess
        _inprocess = None
    if current is None or current.pid != os.getpid():
        return
    current.stop.set()
    current.worker.wake()
    current.thread.join(timeout)


def _expiry_error(expires_at: dt.datetime | None, previous: str) -> str:
    """What `last_error` says of an expired job: when its life ended, and what had gone wrong before."""
    when = to_local(expires_at).strftime("%Y-%m-%d %H:%M:%S") if expires_at else "?"
    text = f"已过有效期（expired）：有效期至 {when}，未执行（未发送）。"
    if previous:
        text += f"\n此前：{previous}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _note_expired(job_id: int, task: str, attempts: int, payload: Any, expires_at: dt.datetime | None, *,
                  using: str) -> None:
    """In the transaction that marked the job expired: the task's own clean-up, the audit entry, a log line."""
    spec = registry.get_task(task)
    if spec is not None and spec.on_expire is not None:
        try:
            with transaction.atomic(using=using):  # a failing clean-up must not keep the message sendable
                spec.on_expire(payload if isinstance(payload, dict) else {})
        except Exception as exc:
            log.error("job.on_expire_failed", job_id=job_id, task=task, error=format_error(exc).splitlines()[0])
    from tongban.audit.actions import Action
    from tongban.audit.actions import Outcome as AuditOutcome
    from tongban.audit.services import Actor, Subject, audit_record

    audit_record(action=Action.JOB_EXPIRED, outcome=AuditOutcome.FAILURE, actor=Actor.system("jobs.worker"),
                 subject=Subject("jobs.job", job_id),
                 details={"task": task, "attempts": attempts,
                          "expires_at": expires_at.isoformat() if expires_at else None})
    log.warning("job.expired", job_id=job_id, task=task, attempt=attempts,
                expires_at=expires_at.isoformat() if expires_at else None)


def _audit_dead(job_id: int, task: str, attempts: int, error: str) -> None:
    """A terminal failure is an event operators and auditors must be able to find (in the caller's transaction)."""
    from tongban.audit.actions import Action
    from tongban.audit.actions import Outcome as AuditOutcome
    from tongban.audit.services import Actor, Subject, audit_record

    audit_record(action=Action.JOB_DEAD, outcome=AuditOutcome.FAILURE, actor=Actor.system("jobs.worker"),
                 subject=Subject("jobs.job", job_id),
                 details={"task": task, "attempts": attempts, "error": (error.splitlines() or [""])[0][:200]})
