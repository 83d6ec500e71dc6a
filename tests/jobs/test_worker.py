"""The worker: success, back-off, dead jobs, unknown tasks, lost leases, outbox delivery."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from tongban.jobs import selectors, worker
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.services import job_enqueue, job_retry, outbox_send
from tongban.jobs.worker import Worker, backoff_delay

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(clock):
    w = Worker(worker_id="test-worker")
    return w


def test_handler_success(tasks, recorder, clock, run):
    job = job_enqueue(task="test.ok", payload={"case_id": 42})
    assert run.run_once() == 1
    job.refresh_from_db()
    assert recorder.calls == [{"task": "ok", "case_id": 42}]
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert job.finished_at == clock()
    assert job.locked_by == "" and job.lease_expires_at is None
    assert run.run_once() == 0  # nothing runs twice


def test_future_jobs_wait(tasks, recorder, clock, run):
    job_enqueue(task="test.ok", payload={"case_id": 1}, run_after=clock() + dt.timedelta(minutes=5))
    assert run.run_once() == 0
    clock.advance(300)
    assert run.run_once() == 1


def test_jobs_run_in_run_after_order(tasks, recorder, clock, run):
    job_enqueue(task="test.ok", payload={"case_id": 2}, run_after=clock() - dt.timedelta(seconds=1))
    job_enqueue(task="test.ok", payload={"case_id": 3})
    job_enqueue(task="test.ok", payload={"case_id": 1}, run_after=clock() - dt.timedelta(seconds=2))
    assert run.run_once() == 3
    assert [c["case_id"] for c in recorder.calls] == [1, 2, 3]


def test_batch_size_limits_one_pass(tasks, clock):
    for i in range(5):
        job_enqueue(task="test.ok", payload={"case_id": i})
    w = Worker(batch_size=2)
    assert [w.run_once(), w.run_once(), w.run_once(), w.run_once()] == [2, 2, 1, 0]


def test_queues_are_separate(tasks, recorder, clock):
    job_enqueue(task="test.ok", payload={"case_id": 1}, queue="slow")
    assert Worker(queues=["default"]).run_once() == 0
    assert Worker(queues=["slow"]).run_once() == 1


def test_failure_retries_with_exponential_backoff(tasks, recorder, clock, run, monkeypatch):
    monkeypatch.setattr(worker, "jitter", lambda: 1.0)  # the top of each jitter range
    recorder.fail_times = 2
    job = job_enqueue(task="test.flaky", payload={"case_id": 5})  # backoff 10 s, cap 25 s, 4 attempts

    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert job.attempts == 1
    assert job.run_after == clock() + dt.timedelta(seconds=10)
    assert job.locked_by == "" and job.finished_at is None
    # No personal data in what operators see, even when the exception carried some.
    assert "ConnectionError" in job.last_error
    assert "110105199001011234" not in job.last_error and "13800138000" not in job.last_error
    assert "110***********1234" in job.last_error

    clock.advance(9)
    assert run.run_once() == 0  # not yet
    clock.advance(1)
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.run_after == clock() + dt.timedelta(seconds=20)  # doubled

    clock.advance(20)
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 3
    assert job.last_error == ""
    assert len(recorder.calls) == 3


def test_backoff_is_capped_and_jittered(monkeypatch):
    monkeypatch.setattr(worker, "jitter", lambda: 0.0)
    assert backoff_delay(1, base=10, cap=3600) == 5
    assert backoff_delay(4, base=10, cap=3600) == 40
    assert backoff_delay(20, base=10, cap=3600) == 1800
    monkeypatch.setattr(worker, "jitter", lambda: 0.999999)
    assert 3599 < backoff_delay(20, base=10, cap=3600) <= 3600
    monkeypatch.undo()
    delays = {backoff_delay(3, base=10, cap=3600) for _ in range(50)}
    assert all(20 <= d <= 40 for d in delays) and len(delays) > 1


def test_dead_after_max_attempts_and_visible(tasks, recorder, clock, run):
    job = job_enqueue(task="test.broken", payload={"case_id": 9})  # 3 attempts, 1 s back-off
    for _ in range(3):
        assert run.run_once() == 1
        clock.advance(2)
    assert run.run_once() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert job.attempts == 3
    assert job.finished_at is not None
    assert "RuntimeError: always broken" in job.last_error
    assert len(recorder.calls) == 3

    assert [j.pk for j in selectors.jobs_dead()] == [job.pk]
    assert selectors.jobs_dead_count() == 1
    assert selectors.job_counts_by_status()["dead"] == 1
    assert selectors.job_counts_by_task()["test.broken"] == {"dead": 1}

    from tongban.audit.models import AuditEntry

    dead = AuditEntry.objects.get(action="job.dead", subject_id=str(job.pk))
    assert dead.outcome == "failure" and dead.actor_id == "jobs.worker" and dead.details["task"] == "test.broken"

    out = io.StringIO()
    call_command("jobs", "list", "--status", "dead", stdout=out)
    assert "test.broken" in out.getvalue() and "always broken" in out.getvalue()
    out = io.StringIO()
    call_command("jobs", "stats", stdout=out)
    assert "dead" in out.getvalue() and "test.broken" in out.getvalue()

    # The operator fixes the cause and retries: the job runs again with fresh attempts.
    call_command("jobs", "retry", str(job.pk), stdout=io.StringIO())
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.attempts == 0


def test_dead_event_is_logged_without_payload(tasks, clock, run, caplog):
    job = job_enqueue(task="test.rejected", payload={"case_id": 123456})
    run.run_once()
    (record,) = [r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "job.dead"]
    assert record.levelname == "ERROR"
    assert record.msg["job_id"] == job.pk and record.msg["task"] == "test.rejected"
    assert "123456" not in str(record.msg)


def test_permanent_error_goes_straight_to_dead(tasks, recorder, clock, run):
    job = job_enqueue(task="test.rejected", payload={"case_id": 1})
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert job.attempts == 1
    assert "PermanentJobError" in job.last_error


def test_unknown_task_is_dead_with_a_clear_error(clock, run):
    job = job_enqueue(task="nobody.knows", payload={"a": 1})
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert "unknown task" in job.last_error and "nobody.knows" in job.last_error


def test_payload_not_fitting_the_handler_is_dead(tasks, clock, run):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    Job.objects.filter(pk=job.pk).update(payload={"renamed": 1})  # e.g. the handler changed since
    run.run_once()
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert "TypeError" in job.last_error


def _claim_and_vanish(w: Worker) -> Job:
    """A worker claims a job and dies before reporting back."""
    job = w.claim()
    assert job is not None and job.status == JobStatus.RUNNING
    return job


def test_expired_lease_is_reclaimed(tasks, recorder, clock):
    job = job_enqueue(task="test.short_lease", payload={"case_id": 1})  # 30 s lease, 2 attempts
    crashed = Worker(worker_id="crashed")
    claimed = _claim_and_vanish(crashed)
    assert claimed.locked_by == "crashed"
    assert claimed.lease_expires_at == clock() + dt.timedelta(seconds=30)
    assert claimed.attempts == 1

    survivor = Worker(worker_id="survivor")
    clock.advance(29)
    assert survivor.run_once() == 0  # the lease still holds: nobody else runs it
    clock.advance(1)
    assert survivor.reclaim_expired() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.attempts == 1  # the lost attempt counted
    assert "lease expired" in job.last_error
    assert survivor.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2


def test_expired_lease_without_attempts_left_is_dead(tasks, clock):
    job = job_enqueue(task="test.short_lease", payload={"case_id": 1}, max_attempts=1)
    _claim_and_vanish(Worker(worker_id="crashed"))
    clock.advance(31)
    assert Worker().run_once() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert "lease expired" in job.last_error


def test_a_worker_that_lost_its_lease_does_not_overwrite_the_outcome(tasks, clock):
    job = job_enqueue(task="test.short_lease", payload={"case_id": 1})
    slow = Worker(worker_id="slow")
    claimed = _claim_and_vanish(slow)
    clock.advance(31)
    other = Worker(worker_id="other")
    assert other.run_once() == 1  # reclaimed and run to success
    # The slow worker finally finishes and fails: its report is discarded.
    outcome = slow._failed(claimed, tasks_spec("test.short_lease"), RuntimeError("late"))
    assert outcome.status == JobStatus.RUNNING
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.last_error == ""


def tasks_spec(name: str):
    from tongban.jobs import registry

    spec = registry.get_task(name)
    assert spec is not None
    return spec


def test_outbox_delivery_passes_the_key_and_is_applied_once(tasks, recorder, clock, run):
    # The receiver applies the message, then the answer is lost (a timeout): the worker retries.
    recorder.fail_times = 1
    job = outbox_send(channel="testchan", payload={"case_id": 8, "kind": "accepted"},
                      idempotency_key="case:8:accepted")
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    clock.advance(60)
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    keys = [c["key"] for c in recorder.calls]
    assert keys == ["case:8:accepted", "case:8:accepted"]  # the same key on every attempt
    assert recorder.applied == {"case:8:accepted": {"case_id": 8, "kind": "accepted"}}  # applied once
    # Sending the same event again does not deliver it again.
    outbox_send(channel="testchan", payload={"case_id": 8, "kind": "accepted"}, idempotency_key="case:8:accepted")
    assert run.run_once() == 0
    assert len(recorder.calls) == 2


def test_current_job_context_inside_a_handler(tasks, clock, run):
    from tongban.jobs.registry import current_job, job_task, unregister

    seen = []

    @job_task("test.context")
    def handler() -> None:
        seen.append(current_job())

    try:
        job = job_enqueue(task="test.context", idempotency_key="ctx-1")
        run.run_once()
    finally:
        unregister("test.context")
    (ctx,) = seen
    assert ctx is not None
    assert ctx.job_id == job.pk and ctx.attempt == 1 and ctx.idempotency_key == "ctx-1"
    assert current_job() is None


def test_retried_dead_job_runs_again(tasks, recorder, clock, run):
    job = job_enqueue(task="test.rejected", payload={"case_id": 1})
    run.run_once()
    job_retry(job_id=job.pk)
    assert run.run_once() == 1
    assert len(recorder.calls) == 2


def test_command_once_show_and_cancel(tasks, clock):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    queued = job_enqueue(task="test.ok", payload={"case_id": 2}, run_after=clock() + dt.timedelta(days=1))
    out = io.StringIO()
    call_command("jobs", "worker", "--once", stdout=out)
    assert "1" in out.getvalue()
    out = io.StringIO()
    call_command("jobs", "show", str(job.pk), stdout=out)
    assert "test.ok" in out.getvalue() and "succeeded" in out.getvalue()
    call_command("jobs", "cancel", str(queued.pk), stdout=io.StringIO())
    queued.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("jobs", "cancel", str(job.pk), stdout=io.StringIO(), stderr=io.StringIO())
