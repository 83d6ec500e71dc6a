"""job_enqueue / outbox_send in the caller's transaction; idempotency; operator retry and cancel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from tongban.core.errors import TongbanError
from tongban.jobs import registry
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.services import job_cancel, job_enqueue, job_purge_finished, job_retry, outbox_send

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_enqueue_rolls_back_with_the_callers_transaction(tasks, clock):
    with pytest.raises(Boom), transaction.atomic():
        job_enqueue(task="test.ok", payload={"case_id": 1})
        outbox_send(channel="testchan", payload={"case_id": 1}, idempotency_key="case:1:accepted")
        assert Job.objects.count() == 2  # visible inside the transaction...
        raise Boom  # ...the change failed after the enqueue
    assert Job.objects.count() == 0  # ...and nothing is left


def test_enqueue_commits_with_the_callers_transaction(tasks, clock):
    with transaction.atomic():
        job = job_enqueue(task="test.ok", payload={"case_id": 7})
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.payload == {"case_id": 7}
    assert job.run_after == clock()
    assert job.created_at == clock()
    assert job.attempts == 0
    assert job.max_attempts == registry.DEFAULT_MAX_ATTEMPTS
    assert job.queue == "default"


def test_enqueue_takes_options_from_the_registered_task(tasks, clock):
    assert job_enqueue(task="test.broken", payload={"case_id": 1}).max_attempts == 3
    assert job_enqueue(task="test.broken", payload={"case_id": 1}, max_attempts=9).max_attempts == 9
    later = clock() + dt.timedelta(hours=1)
    assert job_enqueue(task="test.ok", payload={"case_id": 1}, run_after=later).run_after == later


def test_same_idempotency_key_returns_the_existing_job(tasks, clock):
    first = job_enqueue(task="test.ok", payload={"case_id": 1}, idempotency_key="k1")
    again = job_enqueue(task="test.ok", payload={"case_id": 1}, idempotency_key="k1")
    assert again.pk == first.pk
    assert Job.objects.count() == 1
    # The key is per task: the same event may go to another task (or channel) under the same key.
    other = job_enqueue(task="test.flaky", payload={"case_id": 1}, idempotency_key="k1")
    assert other.pk != first.pk


def test_outbox_send_twice_queues_one_message(tasks, clock):
    with transaction.atomic():
        a = outbox_send(channel="testchan", payload={"case_id": 3}, idempotency_key="case:3:accepted")
    with transaction.atomic():
        b = outbox_send(channel="testchan", payload={"case_id": 3}, idempotency_key="case:3:accepted")
    assert a.pk == b.pk
    assert a.task == "outbox.testchan" and a.channel == "testchan" and a.is_outbox
    assert Job.objects.outbox().count() == 1


def test_outbox_needs_a_key_and_a_registered_channel(tasks):
    with pytest.raises(ValueError, match="idempotency key"):
        outbox_send(channel="testchan", payload={}, idempotency_key="")
    with pytest.raises(ValueError, match="not registered"):
        outbox_send(channel="nowhere", payload={}, idempotency_key="k")


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"case": object()}, "plain JSON"),
        ({"id_number": "110105199001011234"}, "ID number"),
        ({"note": "call 13800138000"}, "phone"),
        ({"people": [{"who": "H12345678"}]}, "permit"),
        ({"110105199001011234": 1}, "ID number"),
        ({"x": float("nan")}, "plain JSON"),
    ],
)
def test_payload_must_be_ids_not_objects_or_personal_data(tasks, payload, message):
    with pytest.raises(ValueError, match=message):
        job_enqueue(task="test.ok", payload=payload)
    assert Job.objects.count() == 0


def test_payload_must_fit_the_handler(tasks):
    with pytest.raises(ValueError, match="does not fit"):
        job_enqueue(task="test.ok", payload={"wrong": 1})


def test_unregistered_task_is_accepted_at_enqueue(clock):
    # A newer web node may enqueue what an older worker does not know yet; the worker decides.
    job = job_enqueue(task="nobody.knows", payload={"a": 1})
    assert job.status == JobStatus.PENDING


def test_naive_run_after_is_refused(tasks):
    with pytest.raises(ValueError, match="timezone-aware"):
        job_enqueue(task="test.ok", payload={"case_id": 1}, run_after=dt.datetime(2026, 1, 1))


def test_retry_sends_a_dead_job_back_with_fresh_attempts(tasks, clock):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DEAD, attempts=5, finished_at=clock(), last_error="x")
    clock.advance(3600)
    retried = job_retry(job_id=job.pk)
    assert retried.status == JobStatus.PENDING
    assert retried.attempts == 0
    assert retried.run_after == clock()
    assert retried.finished_at is None


def test_retry_and_cancel_refuse_wrong_states(tasks, clock):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    with pytest.raises(TongbanError) as err:
        job_retry(job_id=job.pk)  # still pending
    assert err.value.code == "conflict"
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    with pytest.raises(TongbanError) as err:
        job_cancel(job_id=job.pk)
    assert err.value.code == "conflict"
    with pytest.raises(TongbanError) as err:
        job_retry(job_id=job.pk + 1000)
    assert err.value.code == "not_found"


def test_cancel_then_retry(tasks, clock):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    cancelled = job_cancel(job_id=job.pk)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at == clock()
    assert job_retry(job_id=job.pk).status == JobStatus.PENDING


def test_purge_keeps_dead_and_recent_jobs(tasks, clock):
    old_ok = job_enqueue(task="test.ok", payload={"case_id": 1})
    old_dead = job_enqueue(task="test.ok", payload={"case_id": 2})
    recent = job_enqueue(task="test.ok", payload={"case_id": 3})
    long_ago = clock() - dt.timedelta(days=40)
    Job.objects.filter(pk=old_ok.pk).update(status=JobStatus.SUCCEEDED, finished_at=long_ago)
    Job.objects.filter(pk=old_dead.pk).update(status=JobStatus.DEAD, finished_at=long_ago)
    Job.objects.filter(pk=recent.pk).update(status=JobStatus.SUCCEEDED, finished_at=clock())
    assert job_purge_finished(older_than=dt.timedelta(days=30)) == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {old_dead.pk, recent.pk}


def test_reserved_and_duplicate_task_names(tasks):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="reserved"):
        registry.job_task("outbox.sneaky")(lambda: None)

    def another(*, case_id: int) -> None: ...

    with pytest.raises(ImproperlyConfigured, match="already registered"):
        registry.job_task("test.ok")(another)


def test_operator_retry_and_cancel_are_audited(tasks, clock):
    from tongban.audit.models import AuditEntry

    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DEAD, attempts=5, finished_at=clock())
    job_retry(job_id=job.pk, actor="admin:42")
    job_cancel(job_id=job.pk, actor="cli")
    retry, cancel = AuditEntry.objects.filter(subject_type="jobs.job", subject_id=str(job.pk)).order_by("id")
    assert (retry.action, retry.actor_type, retry.actor_id) == ("job.retry", "user", "42")
    assert cancel.action == "job.cancel" and cancel.actor_id.startswith("cli:")
    assert cancel.details["previous_status"] == JobStatus.PENDING
