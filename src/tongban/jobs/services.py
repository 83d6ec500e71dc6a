"""Writes to the job table: enqueue (inside the caller's transaction), outbox, operator actions.

`job_enqueue` only inserts a row, so called inside the transaction that makes the change, the job
commits or rolls back with it (STYLE habit 3, invariant 4). Nothing is sent from here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.core.masking import scrub
from tongban.jobs import registry
from tongban.jobs.models import (
    CANCELLABLE_STATUSES,
    RETRYABLE_STATUSES,
    Job,
    JobStatus,
)

log = get_logger("tongban.jobs")

MAX_PAYLOAD_BYTES = 64 * 1024


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _check_payload(task: str, payload: dict[str, Any]) -> None:
    if not isinstance(payload, dict):
        raise ValueError(f"job {task}: payload must be a dict of ids and small values, not {type(payload).__name__}")
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job {task}: payload must be plain JSON (pass ids, not objects): {exc}") from exc
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"job {task}: payload is larger than {MAX_PAYLOAD_BYTES} bytes; pass ids instead")
    # Invariant 1: the job table is not encrypted, so it must not hold an ID or phone number. Strings
    # (and keys) are what could carry one; integers are row ids, which are 18-19 digits long.
    if any(scrub(value) != value for value in _strings(payload)):
        raise ValueError(
            f"job {task}: payload looks like it carries an ID number, permit or phone number; "
            "pass the record's id and let the handler load (and decrypt) it"
        )


def _wake_local_workers() -> None:
    from tongban.jobs.worker import wake_local_workers

    wake_local_workers()


@transaction.atomic
def job_enqueue(
    *,
    task: str,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    run_after: dt.datetime | None = None,
    max_attempts: int | None = None,
    queue: str | None = None,
    expires_at: dt.datetime | None = None,
) -> Job:
    """Insert a job in the caller's transaction; with a key already used for this task, return that job.

    Call it inside the `transaction.atomic()` block that makes the change the job is about.
    `max_attempts` and `queue` default to what the task was registered with. `expires_at` ends the
    job's useful life (a login code's expiry): a job not started by then is marked `expired` and never
    runs. It must leave more than the task's lease, or a job held by a worker that crashed could not
    run again in time: such a job is refused (ValueError), as a task whose lease is too long.
    """
    payload = {} if payload is None else payload
    if not task or len(task) > 100:
        raise ValueError("job task name must be 1-100 characters")
    _check_payload(task, payload)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 200):
        raise ValueError(f"job {task}: idempotency_key must be 1-200 characters")
    if run_after is not None and timezone.is_naive(run_after):
        raise ValueError(f"job {task}: run_after must be timezone-aware")
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValueError(f"job {task}: expires_at must be timezone-aware")
    spec = registry.get_task(task)
    if spec is not None:
        try:
            spec.check_payload(payload)
        except TypeError as exc:
            raise ValueError(f"job {task}: payload does not fit the handler: {exc}") from exc
    else:
        # Allowed (a newer web node may know a task an older worker does not), but worth a line.
        log.warning("job.enqueue_unregistered_task", task=task)
    attempts_allowed = max_attempts if max_attempts is not None else (
        spec.max_attempts if spec else registry.DEFAULT_MAX_ATTEMPTS)
    if attempts_allowed < 1:
        raise ValueError(f"job {task}: max_attempts must be at least 1")
    now = clock.now()
    if expires_at is not None:
        lease = spec.lease_seconds if spec else registry.DEFAULT_LEASE_SECONDS
        life = (expires_at - max(now, run_after or now)).total_seconds()
        if life <= lease:
            raise ValueError(
                f"job {task}: it would live {life:.0f} s from when it may run, no longer than its lease "
                f"({lease} s): held by a worker that crashed, it could not run again in time. Register the "
                "task (channel) with a lease_seconds shorter than the shortest useful life of its jobs")

    if idempotency_key is not None:
        existing = Job.objects.filter(task=task, idempotency_key=idempotency_key).first()
        if existing is not None:
            _note_duplicate(existing, payload)
            return existing

    try:
        with transaction.atomic():  # a savepoint: a clash must not spoil the caller's transaction
            job = Job.objects.create(
                task=task,
                queue=queue or (spec.queue if spec else "default"),
                payload=payload,
                status=JobStatus.PENDING,
                max_attempts=attempts_allowed,
                run_after=run_after or now,
                idempotency_key=idempotency_key,
                expires_at=expires_at,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Another transaction inserted the same key and committed while we waited on it.
        existing = Job.objects.get(task=task, idempotency_key=idempotency_key)
        _note_duplicate(existing, payload)
        return existing
    transaction.on_commit(_wake_local_workers)
    return job


def _note_duplicate(existing: Job, payload: dict[str, Any]) -> None:
    if existing.payload != payload:
        # Same key, different content: a caller's bug. Keep the first; say so without the contents.
        log.warning("job.idempotency_key_reused_with_other_payload", job_id=existing.id, task=existing.task)


def outbox_send(
    *,
    channel: str,
    payload: dict[str, Any],
    idempotency_key: str,
    run_after: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> Job:
    """Queue a message to an external counterpart, in the caller's transaction (invariant 4).

    The channel's handler gets `payload` and `idempotency_key` on every attempt; the key must
    identify the event (e.g. `case:123:accepted`), so sending it twice queues one message.
    `expires_at` is the end of the message's useful life (a login code's expiry): a message not sent by
    then is marked `expired` instead — the person asks again — rather than arriving useless.
    """
    if not idempotency_key:
        raise ValueError(f"outbox {channel}: an idempotency key is required")
    if registry.get_channel(channel) is None:
        raise ValueError(f"outbox channel {channel!r} is not registered (register_channel in the app's ready())")
    return job_enqueue(task=registry.channel_task_name(channel), payload=payload,
                       idempotency_key=idempotency_key, run_after=run_after, expires_at=expires_at)


def recurring_slot(every: float, now: dt.datetime) -> tuple[int, dt.datetime]:
    """The period `now` falls in (counted from the Unix epoch) and when it began."""
    slot = int(now.timestamp() // every)
    return slot, dt.datetime.fromtimestamp(slot * every, tz=dt.UTC)


def recurring_enqueue_due(*, now: dt.datetime | None = None, skip: dict[str, int] | None = None) -> list[Job]:
    """Make sure the current period's job of every recurring task exists (one per task and period).

    The idempotency key names the period, so any number of workers calling this — each pass, on any
    machine — insert one job between them; a period missed while no worker ran is not made up (the
    next one runs). `skip` maps task names to the period this caller already enqueued (it is
    updated), so a worker touches the table once per period rather than once per pass.
    """
    now = now or clock.now()
    jobs: list[Job] = []
    for spec in registry.recurring_tasks():
        if spec.every is None:
            continue
        slot, started = recurring_slot(spec.every, now)
        if skip is not None and skip.get(spec.name) == slot:
            continue
        jobs.append(job_enqueue(task=spec.name, payload={}, idempotency_key=f"every:{int(spec.every)}s:{slot}",
                                run_after=started))
        if skip is not None:
            skip[spec.name] = slot
    return jobs


def _operator_change(job_id: int, allowed: tuple[JobStatus, ...], action: str) -> Job:
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise TongbanError("not_found")
    if job.status not in allowed:
        raise TongbanError(
            "conflict",
            message_zh=f"任务当前状态为“{job.get_status_display()}”，不能{action}。",
            message_en=f"The job is {job.status}; it cannot be {'retried' if action == '重试' else 'cancelled'}.",
        )
    return job


def _audit_operator_change(kind: str, job: Job, *, previous: str, actor: str | None) -> None:
    """An operator's retry or cancel joins the audit log in the same transaction as the change.

    `actor` is "cli" (the server's command line) or "admin:<user id>" (the admin site)."""
    from tongban.audit.actions import Action, ActorType
    from tongban.audit.services import Actor, Subject, audit_record

    if actor and actor.startswith("admin:"):
        who = Actor(ActorType.USER, actor.split(":", 1)[1])
    elif actor == "cli" or not actor:
        who = Actor.cli()
    else:
        who = Actor.system(actor)
    audit_record(action=Action.JOB_RETRY if kind == "retry" else Action.JOB_CANCEL, actor=who,
                 subject=Subject("jobs.job", job.id),
                 details={"task": job.task, "previous_status": previous, "status": job.status})


@transaction.atomic
def job_retry(*, job_id: int, actor: str | None = None) -> Job:
    """Operator action: send a dead (or cancelled) job back to the queue with its attempts reset."""
    job = _operator_change(job_id, RETRYABLE_STATUSES, "重试")
    now = clock.now()
    if job.expires_at is not None and job.expires_at <= now:
        raise TongbanError(
            "conflict",
            message_zh="任务已过有效期，重试也不会执行（例如验证码已失效，请当事人重新获取）。",
            message_en="The job's useful life has passed; a retry would not run it.",
        )
    previous = job.status
    job.status = JobStatus.PENDING
    job.attempts = 0
    job.run_after = now
    job.finished_at = None
    job.locked_by = ""
    job.lease_expires_at = None
    job.updated_at = now
    job.save(update_fields=["status", "attempts", "run_after", "finished_at", "locked_by", "lease_expires_at",
                            "updated_at"])
    _audit_operator_change("retry", job, previous=previous, actor=actor)
    log.info("job.retry_requested", job_id=job.id, task=job.task, previous_status=previous, actor=actor)
    transaction.on_commit(_wake_local_workers)
    return job


@transaction.atomic
def job_cancel(*, job_id: int, actor: str | None = None) -> Job:
    """Operator action: a waiting or dead job will not run (again). A running job cannot be cancelled."""
    job = _operator_change(job_id, CANCELLABLE_STATUSES, "取消")
    now = clock.now()
    previous = job.status
    job.status = JobStatus.CANCELLED
    job.finished_at = now
    job.updated_at = now
    job.save(update_fields=["status", "finished_at", "updated_at"])
    _audit_operator_change("cancel", job, previous=previous, actor=actor)
    log.info("job.cancelled", job_id=job.id, task=job.task, previous_status=previous, actor=actor)
    return job


@transaction.atomic
def job_purge_finished(*, older_than: dt.timedelta) -> int:
    """Delete succeeded, cancelled and expired jobs finished before `older_than` ago; dead jobs stay for operators.

    An idempotency key is remembered only while its job is kept, so keep finished jobs longer than
    any caller might repeat an event.
    """
    cutoff = clock.now() - older_than
    deleted, _ = Job.objects.filter(
        status__in=[JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.EXPIRED], finished_at__lt=cutoff
    ).delete()
    if deleted:
        log.info("job.purged", count=deleted, older_than_seconds=int(older_than.total_seconds()))
    return deleted
