"""Several workers, each on its own database connection, against one table: every job runs once.

PostgreSQL claims with FOR UPDATE SKIP LOCKED; SQLite serialises claims on its write lock. Both
must give the same answer: 200 jobs, 200 runs, none twice.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

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
                    "'table is locked' instead of waiting; test_several_processes_on_one_sqlite_file covers SQLite")
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


@pytest.mark.django_db(transaction=False)
def test_several_processes_on_one_sqlite_file(tmp_path: Path):
    """Three processes with two worker threads each share one SQLite file: each job runs once."""
    database = tmp_path / "jobs.sqlite3"
    records = tmp_path / "runs.txt"
    env = {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{database}", "MP_RECORD_FILE": str(records),
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "TONGBAN_LOG_LEVEL": "WARNING"}
    root = Path(__file__).resolve().parents[2]

    def helper(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "tests.jobs.mp_worker", *args], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    for step in (("migrate",), ("enqueue", str(JOBS))):
        proc = helper(*step)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    workers = [helper("work", "2") for _ in range(3)]
    for proc in workers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"job.worker_iteration_failed" not in err, err.decode()[-2000:]

    lines = records.read_text().split()
    runs = Counter(int(job_id) for job_id in lines[0::3])
    assert len(runs) == JOBS
    assert set(runs.values()) == {1}, "some job ran more than once"
    assert len(set(lines[2::3])) > 1, "more than one process took part"
    with sqlite3.connect(database) as db:
        states = dict(db.execute("SELECT status, count(*) FROM jobs_job GROUP BY status").fetchall())
    assert states == {"succeeded": JOBS}
