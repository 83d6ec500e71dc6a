"""Per-entity order across the backfill and the live flow, and behind a dead letter: the national side
receives each case's events in seq order."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.exchange.test_outbound import states, submitted, walk
from tongban.cases.services import case_act
from tongban.core import clock as core_clock
from tongban.exchange import delivery, services
from tongban.exchange.backfill import backfill
from tongban.exchange.models import BackfillRun, MessageStatus, OutMessage

pytestmark = pytest.mark.django_db


def test_a_live_event_during_a_backfill_arrives_after_its_case_history(national, hooked_item, citizen, officers):
    first = walk(submitted(citizen, hooked_item), officers)  # four events
    second = submitted(citizen, hooked_item)
    second = case_act(user=officers[0], case_id=second.pk, action="accept")  # two events
    OutMessage.objects.filter(type="case.event").delete()  # history the national side never got (hooked later)
    pages = []

    def progress(n: int) -> None:
        pages.append(n)
        if len(pages) == 1:  # the backfill has sent the first case only: a live change of the second one
            case_act(user=officers[1], case_id=second.pk, action="pass_review")
            delivery.deliver_pass(worker="live")

    result = backfill(since=core_clock.today_local() - dt.timedelta(days=1), rate=0, batch_size=5, concurrency=1,
                      progress=progress)
    assert pages[0] == 4 and result.rejected == 0
    assert states(national, second) == ["submitted", "review", "decision"]  # history first, then the live event
    assert states(national, first) == ["submitted", "review", "decision", "delivery"]
    assert national.exchange.order_violations == []
    assert result.duplicates >= 2  # the backfill's own copies of what the live flow carried ahead
    assert not OutMessage.objects.filter(type="case.event").exclude(status=MessageStatus.SENT).exists()
    run = BackfillRun.objects.get()
    assert run.outcome == "done" and run.finished_at is not None
    case_act(user=officers[0], case_id=second.pk, action="approve")  # no backfill running: nothing carried
    before = national.exchange.deliveries
    delivery.deliver_pass(worker="live")
    assert national.exchange.deliveries == before + 1


def _poisoned_case(national, hooked_item, citizen, officers, clock):
    case = submitted(citizen, hooked_item)
    poisoned = OutMessage.objects.get(type="case.event")
    national.exchange.set_faults("reject", reject_keys=[poisoned.idempotency_key])
    case_act(user=officers[0], case_id=case.pk, action="accept")
    for _ in range(4):
        delivery.deliver_pass(worker="w1")
        clock.advance(3600)
    poisoned.refresh_from_db()
    assert poisoned.status == MessageStatus.DEAD
    return case, poisoned


def test_a_dead_letter_holds_its_case_until_replayed(national, hooked_item, citizen, officers, clock):
    case, poisoned = _poisoned_case(national, hooked_item, citizen, officers, clock)
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == []  # the later event waits behind the dead letter
    national.exchange.set_faults(None)  # the cause fixed on the national side
    services.message_replay(message_id=poisoned.pk, actor=None)
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == ["submitted", "review"]
    assert national.exchange.order_violations == []


def test_a_discarded_dead_letter_releases_its_case(national, hooked_item, citizen, officers, clock):
    from tongban.audit.models import AuditEntry

    case, poisoned = _poisoned_case(national, hooked_item, citizen, officers, clock)
    services.message_discard(message_id=poisoned.pk, actor=None)
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == ["review"]  # the operator gave the first one up: the rest flows
    poisoned.refresh_from_db()
    assert poisoned.status == MessageStatus.DISCARDED
    assert AuditEntry.objects.filter(action="exchange.discard").exists()


def test_an_interrupted_backfill_keeps_order_until_a_later_run_covers_it(national, hooked_item, citizen, officers):
    from tongban.exchange.client import TransportError

    case = submitted(citizen, hooked_item)
    OutMessage.objects.filter(type="case.event").delete()  # history the national side never got
    since = core_clock.today_local() - dt.timedelta(days=1)
    national.exchange.set_faults("fail")
    with pytest.raises(TransportError):
        backfill(since=since, rate=0, concurrency=1, retries=0)
    failed = BackfillRun.objects.get()
    assert failed.outcome == "failed" and failed.finished_at is None
    national.exchange.set_faults(None)
    case_act(user=officers[0], case_id=case.pk, action="accept")
    delivery.deliver_pass(worker="live")
    assert states(national, case) == ["submitted", "review"]  # the unfinished run's history carried ahead
    backfill(since=since, rate=0, concurrency=1)
    failed.refresh_from_db()
    assert failed.outcome == "superseded" and failed.finished_at is not None
    assert national.exchange.order_violations == []
