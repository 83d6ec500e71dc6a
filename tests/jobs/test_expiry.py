"""A job's useful life (issue 12, finding 4): past it a job is not run but marked expired, visibly.

A login code that could not go out in its five minutes must not arrive late: the worker marks such a
job `expired` (terminal, audited, shown to operators) whether it was waiting, retrying, or held by a
worker that died; and a job may not live shorter than its task's lease, or a crash could not be
recovered in time.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError
from tongban.jobs import registry, selectors
from tongban.jobs.models import TERMINAL_STATUSES, Job, JobStatus
from tongban.jobs.services import job_enqueue, job_purge_finished, job_retry, outbox_send
from tongban.jobs.worker import Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(clock):
    return Worker(worker_id="test-worker")


@pytest.fixture
def forgotten(tasks, recorder):
    """A channel whose messages have a useful life, a lease shorter than it, and a clean-up on expiry."""
    seen: list[dict] = []

    def deliver(payload, *, idempotency_key):
        recorder.record(task="code", key=idempotency_key)
        with recorder.lock:
            if recorder.fail_times > 0:
                recorder.fail_times -= 1
                raise ConnectionError("gateway down")

    registry.register_channel("codes", deliver, lease_seconds=30, backoff=120, backoff_cap=600,
                              on_expire=seen.append)
    yield seen
    registry.unregister(registry.channel_task_name("codes"))


def _code(clock, life: float = 300, key: str = "code:1"):
    return outbox_send(channel="codes", payload={"otp": 1}, idempotency_key=key,
                       expires_at=clock() + dt.timedelta(seconds=life))


def test_a_job_within_its_life_runs_as_any_other(forgotten, recorder, clock, run):
    job = _code(clock)
    assert job.expires_at == clock() + dt.timedelta(seconds=300)
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and forgotten == []


def test_a_waiting_job_past_its_life_is_expired_not_run(forgotten, recorder, clock, run, caplog):
    job = _code(clock)
    clock.advance(300)  # no worker ran for the code's whole life
    assert run.run_once() == 0
    job.refresh_from_db()
    assert recorder.calls == []  # never sent
    assert job.status == JobStatus.EXPIRED and JobStatus.EXPIRED in TERMINAL_STATUSES
    assert job.finished_at == clock() and job.attempts == 0
    assert "已过有效期" in job.last_error
    assert forgotten == [{"otp": 1}]  # the owner of the message forgot it in the same transaction
    entry = AuditEntry.objects.get(action="job.expired", subject_id=str(job.pk))
    assert entry.outcome == "failure" and entry.details["task"] == "outbox.codes"
    (record,) = [r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "job.expired"]
    assert record.levelname == "WARNING" and record.msg["job_id"] == job.pk
    clock.advance(3600)
    assert run.run_once() == 0 and Job.objects.get(pk=job.pk).status == JobStatus.EXPIRED  # terminal


def test_a_claim_never_starts_a_job_past_its_life(forgotten, recorder, clock, run):
    """Even between the pass that expires jobs and the claim, a job whose life ended is not taken."""
    job = _code(clock)
    clock.advance(301)
    assert run.claim() is None
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING  # left for expire_overdue
    assert run.expire_overdue() == 1 and Job.objects.get(pk=job.pk).status == JobStatus.EXPIRED


def test_a_job_held_by_a_dead_worker_runs_again_within_its_life(forgotten, recorder, clock, run):
    job = _code(clock)
    crashed = Worker(worker_id="crashed")
    assert crashed.claim() is not None  # …and the process died holding it
    clock.advance(31)  # the 30-s lease is over; the code has 269 s left
    assert run.run_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2 and len(recorder.calls) == 1


def test_a_job_held_by_a_dead_worker_past_its_life_is_expired(forgotten, recorder, clock, run):
    job = _code(clock, life=40)
    assert Worker(worker_id="crashed").claim() is not None
    clock.advance(45)  # no other worker came by before its life ended
    assert run.run_once() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED and recorder.calls == []
    assert "已过有效期" in job.last_error and "租约到期" in job.last_error and job.locked_by == ""
    assert AuditEntry.objects.filter(action="job.expired", subject_id=str(job.pk)).count() == 1
    assert forgotten == [{"otp": 1}]


def test_a_retry_that_would_come_after_the_life_expires_the_job_at_once(forgotten, recorder, clock, run):
    job = _code(clock, life=45)
    recorder.fail_times = 1
    assert run.run_once() == 1  # failed; the next attempt (60-120 s later) would be too late
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED and job.finished_at == clock()
    assert "gateway down" in job.last_error and "已过有效期" in job.last_error
    assert forgotten == [{"otp": 1}]


def test_a_retry_within_the_life_still_happens(forgotten, recorder, clock, run):
    job = _code(clock, life=300)
    recorder.fail_times = 1
    run.run_once()
    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING and job.run_after < job.expires_at
    clock.advance(120)
    assert run.run_once() == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_a_life_no_longer_than_the_lease_is_refused(forgotten, clock):
    """Held by a worker that crashed, such a message could not be sent again before it expires."""
    with pytest.raises(ValueError, match="lease"):
        _code(clock, life=30)
    with pytest.raises(ValueError, match="lease"):
        _code(clock, life=-1)
    with pytest.raises(ValueError, match="lease"):  # counted from when it may run
        outbox_send(channel="codes", payload={"otp": 1}, idempotency_key="k",
                    run_after=clock() + dt.timedelta(seconds=100), expires_at=clock() + dt.timedelta(seconds=120))
    with pytest.raises(ValueError, match="timezone-aware"):
        outbox_send(channel="codes", payload={"otp": 1}, idempotency_key="k",
                    expires_at=dt.datetime(2030, 1, 1))  # noqa: DTZ001
    assert Job.objects.count() == 0
    assert _code(clock, life=31).expires_at is not None


def test_operators_see_expired_jobs_and_cannot_retry_them(forgotten, clock, run, admin_client):
    job = _code(clock)
    clock.advance(400)
    run.run_once()
    assert selectors.job_counts_by_status()["expired"] == 1
    out = io.StringIO()
    call_command("jobs", "list", "--status", "expired", stdout=out)
    assert "已过期" in out.getvalue() and str(job.pk) in out.getvalue()
    out = io.StringIO()
    call_command("jobs", "show", str(job.pk), stdout=out)
    assert "有效期至" in out.getvalue() and "已过有效期" in out.getvalue()
    page = admin_client.get(reverse("admin:jobs_job_changelist") + "?status__exact=expired")
    assert page.status_code == 200 and "已过有效期" in page.content.decode()
    with pytest.raises(TongbanError) as exc:
        job_retry(job_id=job.pk, actor="cli")
    assert exc.value.code == "conflict"


def test_an_operator_retry_of_a_dead_job_past_its_life_is_refused(forgotten, recorder, clock):
    job = _code(clock)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DEAD)
    clock.advance(301)
    with pytest.raises(TongbanError) as exc:
        job_retry(job_id=job.pk, actor="cli")
    assert exc.value.code == "conflict" and "有效期" in exc.value.message("zh")
    assert Job.objects.get(pk=job.pk).status == JobStatus.DEAD


def test_expired_jobs_are_purged_with_the_finished(forgotten, clock, run):
    _code(clock)
    clock.advance(400)
    run.run_once()
    clock.advance(31 * 86400)
    assert job_purge_finished(older_than=dt.timedelta(days=30)) == 1
    assert not Job.objects.exists()


def test_jobs_without_a_life_are_untouched(tasks, recorder, clock, run):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    assert job.expires_at is None
    clock.advance(10 * 86400)
    assert run.run_once() == 1 and Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED
