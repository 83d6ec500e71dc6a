"""Concurrent double clicks and notifications arriving three times at once from several senders: one payment,
each applied once. Each thread has its own database connection (proven on PostgreSQL; SQLite serialises
writers the same way)."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, connections

from tests.payments.conftest import make_notice
from tongban.audit.models import AuditEntry
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.payments import services
from tongban.payments.models import DocumentStatus, GatewayNotification, Payment, PaymentStatus

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif("connection.vendor == 'sqlite' and connection.is_in_memory_db()",
                                 reason="needs a file or server database for several connections")]


def _threads(target, count: int) -> list[object]:
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # surfaced by the assertions
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_double_clicks_make_one_payment(pay_sim):
    doc = make_notice()
    results = _threads(lambda i: services.payment_create(document_id=doc.pk, idempotency_key="click"), 6)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.payment.pk for r in results}) == 1  # type: ignore[union-attr]
    assert sum(1 for r in results if r.created) == 1  # type: ignore[union-attr]
    assert Payment.objects.filter(document=doc).count() == 1
    assert len(pay_sim.app.orders) == 1


def test_two_attempts_paid_at_once_one_success(pay_sim):
    doc = make_notice()
    attempts = [services.payment_create(document_id=doc.pk, idempotency_key=f"tab{i}").payment for i in range(4)]
    for payment in attempts:
        pay_sim.pay(payment.order_id)
    results = _threads(lambda i: services.payment_refresh(payment_id=attempts[i].pk).status, 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == ["failed", "failed", "failed", "success"]  # type: ignore[type-var]
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.PAID


def test_notifications_three_times_from_many_senders(pay_sim):
    payments = [services.payment_create(document_id=make_notice().pk, idempotency_key=f"n{i}").payment
                for i in range(10)]
    notes = [(p, f"N-{p.order_id}") for p in payments] * 3
    random.Random(7).shuffle(notes)
    now = clock.now()
    outcomes: list[str] = []
    lock = threading.Lock()

    def sender(i: int) -> int:
        for payment, notify_id in notes[i::6]:
            outcome = services.notification_apply(notify_id=notify_id, order_id=payment.order_id, status="success",
                                                  amount_fen=payment.total_fen, paid_at=now)
            with lock:
                outcomes.append(outcome)
        return 0

    results = _threads(sender, 6)
    assert results == [0] * 6, results
    assert outcomes.count("applied") == 10 and outcomes.count("duplicate") == 20
    assert Payment.objects.filter(status=PaymentStatus.SUCCESS).count() == 10
    assert GatewayNotification.objects.count() == 10
    assert AuditEntry.objects.filter(action="payment.state", details__to="success").count() == 10


def test_a_conflicting_key_is_refused_under_concurrency(pay_sim):
    doc = make_notice()

    def click(i: int):
        try:
            return services.payment_create(document_id=doc.pk, idempotency_key="shared",
                                           channel="qr" if i % 2 else "redirect")
        except TongbanError as exc:
            return exc.code

    results = _threads(click, 4)
    assert sum(1 for r in results if r == "idempotency_conflict") == 2
    assert Payment.objects.filter(document=doc).count() == 1
    assert connection.vendor in ("sqlite", "postgresql")
