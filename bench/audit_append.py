"""Audit appends per second from concurrent writer processes on PostgreSQL: per-writer chains (what
tongban.audit does) against a naive single chain whose head row is locked with SELECT … FOR UPDATE.

Each append is what a request does: one transaction holding one audit INSERT, committed (with the
default synchronous_commit). The database named by --db is dropped and re-created first (the audit
tables are append-only, so a fresh database is the only way to start empty).

    .venv/bin/python bench/audit_append.py                       # 1 and 4 writers, 10 s each
    .venv/bin/python bench/audit_append.py --writers 4 --seconds 20

Results are kept in docs/performance.md ("Audit log").
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import machine_line

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/tongban_auditbench"


def _django(db_url: str) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    os.environ["TONGBAN_DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _naive_model():
    from django.db import models

    from tongban.audit.models import AuditEntry

    class NaiveEntry(models.Model):  # the same columns and indexes, in a table of its own
        id = models.BigAutoField(primary_key=True)
        occurred_at = models.DateTimeField()
        actor_type = models.CharField(max_length=16)
        actor_id = models.CharField(max_length=128)
        action = models.CharField(max_length=64)
        subject_type = models.CharField(max_length=64)
        subject_id = models.CharField(max_length=128)
        outcome = models.CharField(max_length=16)
        client_ip = models.CharField(max_length=45)
        request_id = models.CharField(max_length=64)
        details = models.JSONField()
        chain_id = models.CharField(max_length=32)
        seq = models.BigIntegerField()
        prev_hash = models.CharField(max_length=64)
        hash = models.CharField(max_length=64)

        class Meta:
            app_label = "audit"
            db_table = "bench_naive_entry"
            managed = False

        def __str__(self) -> str:
            return f"{self.chain_id}:{self.seq}"

    assert AuditEntry._meta.db_table == "audit_auditentry"
    return NaiveEntry


def _naive_append(NaiveEntry, fields: dict) -> None:
    """The design we did not choose: one chain, its head in one row, locked for every append."""
    from django.db import connection, transaction

    from tongban.audit.canonical import chain_hash, entry_document

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT seq, hash FROM bench_naive_head WHERE id = 1 FOR UPDATE")
            seq, prev = cursor.fetchone()
        seq += 1
        doc = entry_document(chain_id="naive", seq=seq, **fields)
        digest = chain_hash(prev, doc)
        NaiveEntry.objects.create(chain_id="naive", seq=seq, prev_hash=prev, hash=digest, **fields)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE bench_naive_head SET seq = %s, hash = %s WHERE id = 1", [seq, digest])


def _worker(db_url: str, design: str, seconds: float, barrier, results, index: int) -> None:
    _django(db_url)
    from django.db import connections, transaction
    from django.utils import timezone

    from tongban.audit.actions import Action
    from tongban.audit.services import Actor, Subject, audit_record

    NaiveEntry = _naive_model()
    actor = Actor.partner_app(f"bench-{index}")

    def chain_append(i: int) -> None:
        with transaction.atomic():
            audit_record(action=Action.VERIFICATION_REQUEST, actor=actor, subject=Subject("verification", str(i)),
                         client_address="10.0.0.1", request_id=f"bench-{index}-{i}", details={"fields": 3})

    def naive_append(i: int) -> None:
        _naive_append(NaiveEntry, {
            "occurred_at": timezone.now(), "actor_type": "partner_app", "actor_id": actor.id,
            "action": "verification.request", "subject_type": "verification", "subject_id": str(i),
            "outcome": "success", "client_ip": "10.0.0.1", "request_id": f"bench-{index}-{i}",
            "details": {"fields": 3}})

    append = chain_append if design == "chain" else naive_append
    for i in range(20):  # warm up: connection, chain row, key
        append(-i)
    latencies: list[float] = []
    barrier.wait()
    start = time.perf_counter()
    deadline = start + seconds
    i = 0
    while True:
        t0 = time.perf_counter()
        if t0 >= deadline:
            break
        append(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    elapsed = time.perf_counter() - start
    results.put((index, len(latencies), elapsed, latencies))
    if design == "chain":
        from tongban.audit.chain import close_own_chains

        close_own_chains()
    connections.close_all()


def _run(db_url: str, design: str, writers: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, design, seconds, barrier, results, n)) for n in range(writers)]
    for p in procs:
        p.start()
    collected = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    total = sum(c[1] for c in collected)
    elapsed = max(c[2] for c in collected)
    lat = sorted(x for c in collected for x in c[3])
    return {
        "design": design, "writers": writers, "appends": total, "per_second": total / elapsed,
        "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
    }


def _recreate(db_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                         password=parts.password or None, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=1, help="alternate the designs this many times; median shown")
    args = parser.parse_args()

    _recreate(args.db)
    _django(args.db)
    from django.core.management import call_command
    from django.db import connection

    call_command("setup", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_naive_head (id int PRIMARY KEY, seq bigint NOT NULL, "
                       "hash char(64) NOT NULL)")
        cursor.execute("INSERT INTO bench_naive_head VALUES (1, 0, %s) ON CONFLICT DO NOTHING", ["0" * 64])
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_naive_entry (LIKE audit_auditentry INCLUDING ALL)")
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
    connection.close()

    print(f"machine: {machine_line()}")
    print(f"database: {pg_version}, synchronous_commit={sync}, local socket over TCP 127.0.0.1")
    print("each append = BEGIN; INSERT audit row (+ chain work); COMMIT — one per request transaction\n")
    print(f"{'design':<22}{'writers':>8}{'appends':>10}{'per s':>10}{'p50 ms':>9}{'p99 ms':>9}{'load avg':>10}")
    for writers in args.writers:
        runs: dict[str, list[dict]] = {"chain": [], "naive": []}
        for _ in range(args.rounds):  # alternate, so background load hits both designs alike
            for design in ("chain", "naive"):
                r = _run(args.db, design, writers, args.seconds)
                r["load"] = os.getloadavg()[0]
                runs[design].append(r)
        for design, results in runs.items():
            r = sorted(results, key=lambda x: x["per_second"])[len(results) // 2]
            name = "per-writer chains" if design == "chain" else "naive global lock"
            print(f"{name:<22}{writers:>8}{r['appends']:>10}{r['per_second']:>10.0f}{r['p50_ms']:>9.2f}"
                  f"{r['p99_ms']:>9.2f}{r['load']:>10.1f}", flush=True)

    from tongban.audit.models import AuditCheckpoint
    from tongban.audit.services import audit_checkpoint
    from tongban.audit.verify import verify_log

    audit_checkpoint()
    t0 = time.perf_counter()
    report = verify_log()
    took = time.perf_counter() - t0
    print(f"\nverify: {report.entries} entries in {report.chains} chains, {report.checkpoints} checkpoints "
          f"({AuditCheckpoint.objects.count()} rows) in {took:.1f} s = {report.entries / took:.0f} entries/s; "
          f"ok={report.ok}, unsealed={report.unsealed}")
    if not report.ok:
        for p in report.problems[:10]:
            print("  ", p)
        sys.exit(1)


if __name__ == "__main__":
    main()
