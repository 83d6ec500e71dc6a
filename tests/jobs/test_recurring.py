"""Recurring tasks (`@job_task(..., every=seconds)`): one job per task and period, whichever workers ask
and however often; a period missed while no worker ran is not made up; `--once` and workers driven pass
by pass run only what is queued."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tongban.jobs import registry
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.services import recurring_enqueue_due
from tongban.jobs.worker import Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def only_tick(recorder, monkeypatch):
    """A recurring test task every 60 s, and no other recurring task (the apps' own are not under test)."""

    def tick() -> None:
        recorder.record(task="tick")

    registry.job_task("test.tick", every=60)(tick)
    spec = registry.get_task("test.tick")
    monkeypatch.setattr(registry, "recurring_tasks", lambda: [spec])
    yield spec
    registry.unregister("test.tick")


def test_registration_checks_the_period_and_the_signature():
    with pytest.raises(ImproperlyConfigured):
        registry.job_task("test.too_often", every=0.5)(lambda: None)
    with pytest.raises(ImproperlyConfigured):
        registry.job_task("test.takes_args", every=60)(lambda *, case_id: None)
    assert registry.get_task("test.too_often") is None and registry.get_task("test.takes_args") is None


def test_one_job_per_period_whoever_asks(only_tick, clock, recorder):
    first = recurring_enqueue_due()
    assert [j.task for j in first] == ["test.tick"]
    clock.advance(30)  # same period (START is on a minute boundary)
    assert recurring_enqueue_due()[0].pk == first[0].pk
    assert Job.objects.filter(task="test.tick").count() == 1
    assert Worker().run_once() == 1 and recorder.calls == [{"task": "tick"}]
    clock.advance(30)  # the next period
    assert recurring_enqueue_due()[0].pk != first[0].pk
    clock.advance(3600)  # an hour without workers: one job for now, not sixty
    recurring_enqueue_due()
    assert Job.objects.filter(task="test.tick").count() == 3
    assert Job.objects.filter(task="test.tick", status=JobStatus.PENDING).count() == 2


def test_a_worker_asks_once_per_period(only_tick, clock, django_assert_num_queries):
    worker = Worker(recurring=True)
    assert worker.enqueue_recurring() == 1
    with django_assert_num_queries(0):
        assert worker.enqueue_recurring() == 0
    clock.advance(60)
    assert worker.enqueue_recurring() == 1


def test_passes_and_once_run_only_what_is_queued(only_tick):
    from django.core.management import call_command

    assert Worker().run_once() == 0
    call_command("jobs", "worker", "--once", stdout=__import__("io").StringIO())
    assert not Job.objects.filter(task="test.tick").exists()
