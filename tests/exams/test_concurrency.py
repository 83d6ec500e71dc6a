"""No overbooking, ever: 64 threads, each with its own connection, take the leftover seats of one session at
once (run on PostgreSQL; SQLite serialises writers the same way)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections  # noqa: F401  (connection: read by the skipif)

from tests.exams.conftest import make_applicant, make_session
from tongban.core.errors import TongbanError
from tongban.exams import services
from tongban.exams.models import Booking, BookingStatus, ExamSession

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif("connection.vendor == 'sqlite' and connection.is_in_memory_db()",
                                 reason="needs a file or server database for several connections")]
THREADS = 64


def test_64_concurrent_bookings_never_pass_the_capacity(at, officer):
    session = make_session(officer, capacity=10)
    at.day(dt.date(2027, 3, 11), hour=1)
    services.session_allocate(session_id=session.pk)  # nobody applied: 10 leftover seats
    applicants = [make_applicant(issued_on=dt.date(2027, 1, 4)) for _ in range(THREADS)]
    results: list[object] = [None] * THREADS
    barrier = threading.Barrier(THREADS)

    def run(i: int) -> None:
        user, permit = applicants[i]
        try:
            barrier.wait()
            results[i] = services.booking_apply(user=user, permit_id=permit.pk, session_id=session.pk)
        except Exception as exc:  # surfaced by the assertions
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    seated = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if isinstance(r, TongbanError)]
    assert len(seated) == 10 and len(refused) == THREADS - 10, results
    assert {e.code for e in refused} == {"exam_session_full"}
    session.refresh_from_db()
    assert session.seats_taken == 10 == session.capacity
    assert Booking.objects.filter(session=session, status=BookingStatus.ALLOCATED).count() == 10
    assert ExamSession.objects.get(pk=session.pk).seats_taken <= session.capacity
