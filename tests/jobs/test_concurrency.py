"""Several workers, each on its own database connection, against one table: every job runs once.

PostgreSQL claims with FOR UPDATE SKIP LOCKED; SQLite serialises claims on its write lock. Both
must give the same answer: 200 jobs, 200 runs, none twice.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from tongban.jobs.models import Job, JobStatus
from tongban.jobs.services import job_enqueue
from tongban.jobs.worker import Worker, start_inprocess_worker, stop_inprocess_worker

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = 200
THREADS = 4


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _in_memory_sqlite() -> bool:
    connection = connections["default"]
    return connection.vendor == "sqlite" and bool(connection.is_in_memory_db())  # type: ignore[attr-defined]


@pytest.mark.skipif("_in_memory_sqlite()", reason="the in-memory SQLite test database (shared cache) raises "
                    "'table is locked' instead of waiting; test_processes.py covers SQLite")
def test_several_workers_run_each_job_exactly_once(tasks, recorder):
    with transaction.atomic():
        for i in range(JOBS):
            job_enqueue(task="test.ok", payload={"case_id": i})

    stop = threading.Event()
    workers = [Worker(worker_id=f"w{n}", poll_interval=0.01, batch_size=5) for n in range(THREADS)]
    per_worker: dict[str, int] = {}
    original_execute = Worker.execute

    def counting_execute(self, job):
        per_worker[self.worker_id] = per_worker.get(self.worker_id, 0) + 1
        return original_execute(self, job)

    Worker.execute = counting_execute  # type: ignore[method-assign]
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
    try:
        for thread in threads:
            thread.start()
        finished = _wait_for(lambda: Job.objects.filter(status=JobStatus.SUCCEEDED).count() == JOBS)
    finally:
        stop.set()
        for w in workers:
            w.wake()
        for thread in threads:
            thread.join(30)
        Worker.execute = original_execute  # type: ignore[method-assign]
    assert finished, Job.objects.values("status").order_by("status")
    assert not any(t.is_alive() for t in threads)
    assert len(recorder.runs) == JOBS
    assert set(recorder.runs.values()) == {1}, "some job ran more than once"
    assert sorted(c["case_id"] for c in recorder.calls) == list(range(JOBS))
    assert sum(per_worker.values()) == JOBS
    assert Job.objects.exclude(status=JobStatus.SUCCEEDED).count() == 0
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}
    if connections["default"].vendor == "postgresql":
        assert len(per_worker) > 1, "on PostgreSQL the workers share the work"


def test_inprocess_worker_runs_jobs_after_commit(tasks, recorder):
    worker = start_inprocess_worker(poll_interval=5.0)
    try:
        assert start_inprocess_worker() is worker  # once per process
        with transaction.atomic():
            job = job_enqueue(task="test.ok", payload={"case_id": 77})
        # Woken by the commit, not by the 5 s poll.
        assert _wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED, timeout=4.0)
        assert recorder.calls == [{"task": "ok", "case_id": 77}]
    finally:
        stop_inprocess_worker()

