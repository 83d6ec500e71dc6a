"""Driving-test booking on PostgreSQL: (1) one session hammered by 64 concurrent booking requests — in the
booking window (64 applications, then the allocation by ranking) and after it (64 takers for the leftover
seats), several runs; (2) the allocation run over 100,000 applicants for 500 sessions. Seats ≤ capacity is
asserted after every run, both on the counter and by counting the seated bookings.

Each request goes through `tongban.exams.services.booking_apply` (the applicant's row lock, the eligibility
rules over their history, the seat counter's conditional UPDATE, the booking row, its audit entry and, for a
seat, the outbox message) on its own connection, one thread each.

    .venv/bin/python bench/exams.py                                   # 64 threads x 5 runs; 100,000 / 500
    .venv/bin/python bench/exams.py --runs 2 --applicants 20000 --sessions 100

The database named by --db is dropped and re-created. Results are kept in docs/performance.md ("Exams").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import machine_line

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/tongban_exams_bench"


def _django(db_url: str) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    os.environ["TONGBAN_DATABASE_URL"] = db_url
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
        name = sql.Identifier(parts.path.lstrip("/"))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _id_number(n: int) -> str:
    from stdnum.cn import ric

    body = f"4401061990{(n // 1000) % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def _applicants(n: int, *, issued_on: dt.date, offset: int) -> list[tuple[object, object]]:
    """n citizens with an issued learner's permit each (bulk inserts: the fixture, not what is measured)."""
    from tongban.accounts.models import User, UserKind
    from tongban.core import clock
    from tongban.exams.models import LearnerPermit
    from tongban.exams.rules import permit_valid_to

    out: list[tuple[object, object]] = []
    now = clock.now()
    for start in range(0, n, 5000):
        users = [User(username=f"bench{offset + i}", kind=UserKind.CITIZEN, password="!")
                 for i in range(start, min(n, start + 5000))]
        User.objects.bulk_create(users, batch_size=5000)
        permits = [LearnerPermit(user_id=u.pk, id_number=_id_number(offset + i), name=f"考生{offset + i}",
                                 licence_class="C1", region_code="440106",
                                 accepted_at=now - dt.timedelta(days=100, seconds=i * 7 % 86400),
                                 issued_on=issued_on, valid_to=permit_valid_to(issued_on),
                                 last_event_at=now - dt.timedelta(days=30, seconds=(i * 7919) % 2_000_000))
                   for i, u in zip(range(start, start + len(users)), users, strict=True)]
        LearnerPermit.objects.bulk_create(permits, batch_size=5000)
        out += list(zip(users, permits, strict=True))
    return out


def _site() -> object:
    from tongban.exams.models import ExamSite

    return ExamSite.objects.create(code=f"B{time.monotonic_ns()}", name="基准测试考场", address="广州市天河区",
                                   region_code="440106", subjects=["subject2"])


def _session(site: object, *, capacity: int, status: str, closes_in: dt.timedelta) -> object:
    from tongban.core import clock
    from tongban.exams.models import ExamSession

    now = clock.now()
    return ExamSession.objects.create(site=site, subject="subject2", licence_classes=["C1"], capacity=capacity,
                                      starts_at=now + dt.timedelta(days=3), booking_closes_at=now + closes_in,
                                      status=status, published_at=now)


def _hammer(session_id: int, people: list[tuple[object, object]]) -> tuple[float, dict[str, int]]:
    from django.db import connection, connections

    from tongban.core.errors import TongbanError
    from tongban.exams.services import booking_apply

    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    ready = threading.Barrier(len(people) + 1)
    go = threading.Event()

    def run(user: object, permit: object) -> None:
        connection.ensure_connection()
        ready.wait()
        go.wait()
        try:
            booking = booking_apply(user=user, permit_id=permit.pk, session_id=session_id)  # type: ignore[attr-defined]
            key = str(booking.status)
        except TongbanError as exc:
            key = exc.code
        finally:
            connections.close_all()
        with lock:
            outcomes[key] = outcomes.get(key, 0) + 1

    threads = [threading.Thread(target=run, args=pair) for pair in people]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, outcomes


def _check(session_id: int) -> tuple[int, int]:
    from tongban.exams.models import Booking, ExamSession

    session = ExamSession.objects.get(pk=session_id)
    seated = Booking.objects.filter(session_id=session_id,
                                    status__in=("allocated", "passed", "failed", "no_show")).count()
    assert session.seats_taken <= session.capacity, "overbooked (counter)"
    assert seated <= session.capacity, "overbooked (bookings)"
    assert seated == session.seats_taken, "counter and bookings disagree"
    return seated, session.capacity


def bench_concurrent(runs: int, threads: int, capacity: int) -> None:
    from tongban.exams.services import session_allocate

    site = _site()
    today = dt.date.today()
    for run in range(1, runs + 1):
        people = _applicants(threads, issued_on=today - dt.timedelta(days=60), offset=run * 1000)
        # (a) in the window: every request is recorded, none takes a seat; then the allocation seats N.
        window = _session(site, capacity=capacity, status="published", closes_in=dt.timedelta(hours=1))
        elapsed, outcomes = _hammer(window.pk, people)  # type: ignore[attr-defined]
        from tongban.exams.models import ExamSession

        ExamSession.objects.filter(pk=window.pk).update(  # type: ignore[attr-defined]
            booking_closes_at=window.starts_at - dt.timedelta(days=3))  # type: ignore[attr-defined]
        seated_now = session_allocate(session_id=window.pk)  # type: ignore[attr-defined]
        seated, cap = _check(window.pk)  # type: ignore[attr-defined]
        print(f"run {run} window   : {threads} requests in {elapsed * 1000:.0f} ms = {threads / elapsed:.0f}/s "
              f"{outcomes}; allocated {seated_now}, seats {seated}/{cap}")
        # (b) after the allocation: the same people take leftover seats first-come (they hold open bookings
        # for the window session, so each gets a fresh record for a fresh subject-free session).
        more = _applicants(threads, issued_on=today - dt.timedelta(days=60), offset=run * 1000 + 500)
        leftover = _session(site, capacity=capacity, status="allocated", closes_in=dt.timedelta(minutes=-1))
        elapsed, outcomes = _hammer(leftover.pk, more)  # type: ignore[attr-defined]
        seated, cap = _check(leftover.pk)  # type: ignore[attr-defined]
        assert seated == min(cap, threads), outcomes
        print(f"run {run} leftover : {threads} requests in {elapsed * 1000:.0f} ms = {threads / elapsed:.0f}/s "
              f"{outcomes}; seats {seated}/{cap}")


def bench_allocation(applicants: int, sessions: int, capacity: int) -> None:
    from django.db import connection

    from tongban.core import clock
    from tongban.exams.models import Booking, ExamSession
    from tongban.exams.services import sessions_allocate_due

    site = _site()
    rows = [_session(site, capacity=capacity, status="published", closes_in=dt.timedelta(hours=1))
            for _ in range(sessions)]
    people = _applicants(applicants, issued_on=dt.date.today() - dt.timedelta(days=60), offset=1_000_000)
    now = clock.now()
    bookings = [Booking(permit_id=permit.pk, session_id=rows[i % sessions].pk, subject="subject2",  # type: ignore[attr-defined]
                        status="applied", applied_at=now - dt.timedelta(seconds=i % 3600))
                for i, (_, permit) in enumerate(people)]
    Booking.objects.bulk_create(bookings, batch_size=5000)
    ExamSession.objects.filter(pk__in=[s.pk for s in rows]).update(  # type: ignore[attr-defined]
        booking_closes_at=now - dt.timedelta(minutes=1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    start = time.perf_counter()
    done = sessions_allocate_due(limit=sessions)
    elapsed = time.perf_counter() - start
    total_seated = 0
    for session in rows:
        seated, cap = _check(session.pk)  # type: ignore[attr-defined]
        total_seated += seated
    assert done == sessions
    print(f"allocation: {applicants:,} applicants, {sessions} sessions x {capacity} seats: {elapsed:.2f} s "
          f"({applicants / elapsed:,.0f} applicants/s); seated {total_seated:,}, none over capacity")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--applicants", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--session-capacity", type=int, default=150)
    args = parser.parse_args()
    _recreate(args.db)
    _django(args.db)
    from django.core.management import call_command

    call_command("setup", "--no-catalog", verbosity=0)
    print(machine_line())
    print(f"load average before: {os.getloadavg()}")
    bench_concurrent(args.runs, args.threads, args.capacity)
    bench_allocation(args.applicants, args.sessions, args.session_capacity)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
