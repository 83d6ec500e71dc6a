"""Payments on PostgreSQL: (1) gateway notifications — 10,000 started payments whose signed notifications
each arrive three times, shuffled, from 16 concurrent sender processes; every payment must be applied exactly
once (asserted); notifications per second and latency percentiles are printed. (2) the daily reconciliation of
one day of 100,000 successful payments against a settlement file with planted differences, timed (goal ≤ 10 s).

Each notification goes through `tongban.payments.services.notification_receive`: the HMAC-SM3 signature check,
parsing, the unique notification row, the payment row lock, the state change, its audit entry, the receipt job
and the payer's message (outbox) — everything the endpoint does after Django's request handling.

    .venv/bin/python bench/payments.py                         # 10,000 payments x 3, 16 senders; 100,000 to reconcile
    .venv/bin/python bench/payments.py --payments 2000 --reconcile 20000

The database named by --db is dropped and re-created. Results are kept in docs/performance.md ("Payments").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import machine_line

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/tongban_pay_bench"
KEY = "bench-pay-key-0123456789abcdef0123"


def _django(db_url: str) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    os.environ["TONGBAN_DATABASE_URL"] = db_url
    os.environ["TONGBAN_PAY_KEY"] = KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    os.environ["TONGBAN_INPROCESS_WORKER"] = "false"
    import django

    django.setup()


def _recreate(db_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(db_url)
    with psycopg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                         password=parts.password or None, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parts.path.lstrip("/"))))


def _make(n: int, *, status: str, paid_at: dt.datetime | None, prefix: str) -> list[tuple[int, str, int]]:
    """n documents and one payment each (bulk inserts: the fixture, not what is measured)."""
    from tongban.core import clock
    from tongban.payments.models import PayableDocument, Payment

    now = clock.now()
    out: list[tuple[int, str, int]] = []
    for start in range(0, n, 5000):
        docs = [PayableDocument(kind="notice", number=f"{prefix}{i:012d}", category="resident_id",
                                payee_unit="广州市公安局", region_code="440106", items=[], amount_fen=2000 + i % 7 * 100,
                                status="paid" if status == "success" else "unpaid", paid_at=paid_at)
                for i in range(start, min(n, start + 5000))]
        PayableDocument.objects.bulk_create(docs, batch_size=5000)
        payments = [Payment(document_id=d.pk, status=status, principal_fen=d.amount_fen, total_fen=d.amount_fen,
                            order_id=f"{prefix}{i:012d}", gateway_ref=f"G{prefix}{i:012d}", idempotency_key=None,
                            expires_at=now + dt.timedelta(hours=1), started_at=now, paid_at=paid_at,
                            finished_at=paid_at)
                    for i, d in zip(range(start, start + len(docs)), docs, strict=True)]
        Payment.objects.bulk_create(payments, batch_size=5000)
        out += [(p.pk, p.order_id, p.total_fen) for p in payments]
    return out


def _sender(db_url: str, notes: list[bytes], queue: mp.Queue, ready: object, go: object) -> None:  # type: ignore[type-arg]
    from django.db import connection

    from tongban.payments.gateway import sign
    from tongban.payments.services import notification_receive

    connection.ensure_connection()  # connected before the clock starts
    ready.release()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    for body in notes:
        timestamp = str(int(time.time()))
        signature = sign(KEY, timestamp, body)
        start = time.perf_counter()
        outcome = notification_receive(body=body, timestamp=timestamp, signature=signature)
        latencies.append(time.perf_counter() - start)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    queue.put((latencies, outcomes))


def bench_notifications(db_url: str, payments: int, senders: int) -> None:
    from django.db import connection

    from tongban.audit.models import AuditEntry
    from tongban.core import clock
    from tongban.payments.models import GatewayNotification, PayableDocument, Payment

    made = _make(payments, status="started", paid_at=None, prefix="N")
    paid_at = clock.now().isoformat()
    bodies = [json.dumps({"notify_id": f"NT{order_id}", "order_id": order_id, "gateway_ref": f"G{order_id}",
                          "status": "success", "amount_fen": total, "paid_at": paid_at}).encode()
              for _, order_id, total in made] * 3
    random.Random(15).shuffle(bodies)
    connection.close()
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    ctx = mp.get_context("fork")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_sender, args=(db_url, bodies[i::senders], queue, ready, go))
             for i in range(senders)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - start
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    outcomes: dict[str, int] = {}
    for _, counted in results:
        for key, value in counted.items():
            outcomes[key] = outcomes.get(key, 0) + value
    succeeded = Payment.objects.filter(status="success").count()
    assert succeeded == payments, f"{succeeded} of {payments} payments succeeded"
    assert outcomes.get("applied") == payments, outcomes
    assert GatewayNotification.objects.count() == payments
    assert PayableDocument.objects.filter(status="paid").count() == payments
    assert AuditEntry.objects.filter(action="payment.state", details__to="success").count() == payments
    n = len(latencies)
    print(f"notifications: {n:,} ({payments:,} payments x 3, shuffled) from {senders} sender processes")
    print(f"  applied exactly once: {outcomes.get('applied', 0):,}; repeats answered without change: "
          f"{n - outcomes.get('applied', 0):,} {dict(sorted(outcomes.items()))}")
    print(f"  {n / elapsed:,.0f} notifications/s over {elapsed:.1f} s; latency p50 "
          f"{1000 * statistics.median(latencies):.1f} ms, p99 {1000 * latencies[int(0.99 * (n - 1))]:.1f} ms, "
          f"max {1000 * latencies[-1]:.1f} ms")


def bench_reconcile(count: int) -> None:
    from django.utils import timezone

    from tongban.payments import reconcile

    day = dt.date(2026, 12, 1)
    paid_at = timezone.make_aware(dt.datetime(2026, 12, 1, 10, 30))
    t0 = time.perf_counter()
    made = _make(count, status="success", paid_at=paid_at, prefix="R")
    print(f"\nreconciliation: {count:,} successful payments on {day} (inserted in {time.perf_counter() - t0:.1f} s)")
    lines = ["order_id,gateway_ref,type,amount_fen,time"]
    for i, (_, order_id, total) in enumerate(made):
        if i % 10_000 == 1:
            continue  # planted: missing from the file
        amount = total + 1 if i % 10_000 == 2 else total  # planted: another amount
        lines.append(f"{order_id},G{order_id},pay,{amount},{paid_at.isoformat()}")
    planted_extra = [f"X{i:012d}" for i in range(count // 10_000)]
    lines += [f"{o},G{o},pay,5000,{paid_at.isoformat()}" for o in planted_extra]
    data = ("\n".join(lines) + "\n").encode()
    start = time.perf_counter()
    run = reconcile.reconciliation_run(day=day, data=data)
    elapsed = time.perf_counter() - start
    expected = 3 * (count // 10_000)
    assert run.differences == expected, (run.differences, expected)
    print(f"  file {len(data) / 1e6:.1f} MB, {run.theirs:,} lines; ours {run.ours:,}; differences {run.differences} "
          f"(planted {expected}: missing, extra, amount)")
    print(f"  reconciled in {elapsed:.2f} s (goal ≤ 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--reconcile", type=int, default=100_000)
    args = parser.parse_args()
    _recreate(args.db)
    _django(args.db)
    from django.core.management import call_command
    from django.db import connection

    call_command("setup", "--no-catalog", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
    print(f"machine: {machine_line()}")
    print(f"database: {pg_version}\n")
    bench_notifications(args.db, args.payments, args.senders)
    bench_reconcile(args.reconcile)


if __name__ == "__main__":
    main()
