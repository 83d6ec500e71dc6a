"""Real processes on an SQLite file: the embedded default's shape, and the worker command's stop.

These use their own database file (not the test database) and child processes, so they need no
database fixture.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

JOBS = 200
ROOT = Path(__file__).resolve().parents[2]


def _env(database: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TONGBAN_DATABASE_URL": f"sqlite:///{database}", "TONGBAN_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "config.settings.test", "TONGBAN_LOG_LEVEL": "WARNING", **extra}


def _helper(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.jobs.mp_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check(proc: subprocess.Popen[bytes]) -> bytes:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-3000:]
    return err

def test_several_processes_on_one_sqlite_file(tmp_path: Path):
    """Three processes with two worker threads each share one SQLite file: each job runs once."""
    database = tmp_path / "jobs.sqlite3"
    records = tmp_path / "runs.txt"
    env = _env(database, MP_RECORD_FILE=str(records))
    _check(_helper(env, "migrate"))
    _check(_helper(env, "enqueue", str(JOBS)))
    workers = [_helper(env, "work", "2") for _ in range(3)]
    for proc in workers:
        err = _check(proc)
        assert b"job.worker_iteration_failed" not in err, err.decode()[-3000:]

    lines = records.read_text().split()
    runs = Counter(int(job_id) for job_id in lines[0::3])
    assert len(runs) == JOBS
    assert set(runs.values()) == {1}, "some job ran more than once"
    assert len(set(lines[2::3])) > 1, "more than one process took part"
    with sqlite3.connect(database) as db:
        states = dict(db.execute("SELECT status, count(*) FROM jobs_job GROUP BY status").fetchall())
    assert states == {"succeeded": JOBS}


def test_worker_command_stops_gracefully_on_sigterm(tmp_path: Path):
    database = tmp_path / "jobs.sqlite3"
    env = _env(database, PYTHONUNBUFFERED="1")
    _check(_helper(env, "migrate"))
    proc = subprocess.Popen([sys.executable, "-m", "tongban", "jobs", "worker", "--concurrency", "2",
                             "--poll-interval", "0.05"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert "已启动" in first, first
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert "已停止" in out.decode()
