"""Several delivery workers side by side (threads, each with its own database connection): every message
delivered exactly once, each case's events in order (SKIP LOCKED lane claims on PostgreSQL, the write lock on
SQLite)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.exchange.test_outbound import submitted, walk
from tongban.exchange import delivery
from tongban.exchange.models import MessageStatus, OutMessage

pytestmark = pytest.mark.django_db(transaction=True)


def test_four_workers_deliver_each_message_once_and_in_order(national, hooked_item, citizen, officers):
    cases = [walk(submitted(citizen, hooked_item), officers) for _ in range(6)]
    expected = OutMessage.objects.count()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(5):
                delivery.deliver_pass(worker=name)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert OutMessage.objects.filter(status=MessageStatus.SENT).count() == expected
    assert national.exchange.deliveries == expected and national.exchange.duplicates == 0
    assert national.exchange.order_violations == []
    for case in cases:
        got = [r.body["to_state"] for r in national.exchange.entity_records(f"case:{case.number}")]
        assert got == ["submitted", "review", "decision", "delivery"]
