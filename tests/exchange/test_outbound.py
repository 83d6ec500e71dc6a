"""Outbound: a hooked item's case reaches the national simulator in order, exactly once, signed and sealed;
failures (a worker killed after sending, an hour-long outage, a poisoned message) lose and duplicate nothing."""

from __future__ import annotations

import io

import pytest

from tests.cases.conftest import png_bytes
from tongban.cases.attachments import attachment_add
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit
from tongban.exchange import delivery
from tongban.exchange.models import MessageLog, MessageStatus, OutMessage

pytestmark = pytest.mark.django_db

ANSWERS = {"name": "张三", "reason": "damaged"}
PICKUP = {"method": "pickup", "station": "西湖区公安分局出入境接待大厅"}


def submitted(user, item):
    case = case_start(user=user, item_code=item.code)
    case_save_draft(user=user, case_id=case.pk, answers=ANSWERS, prefilled=["name"], delivery=PICKUP)
    attachment_add(user=user, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    return case_submit(user=user, case_id=case.pk)


def walk(case, officers):
    a, b = officers
    case = case_act(user=a, case_id=case.pk, action="accept")
    case = case_act(user=b, case_id=case.pk, action="pass_review")
    return case_act(user=a, case_id=case.pk, action="approve")


def states(national, case):
    return [r.body["to_state"] for r in national.exchange.entity_records(f"case:{case.number}")]


def test_each_change_arrives_in_order_exactly_once_signed_and_sealed(national, hooked_item, citizen, officers):
    case = walk(submitted(citizen, hooked_item), officers)
    assert OutMessage.objects.filter(type="case.event").count() == 4  # written with the changes
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == ["submitted", "review", "decision", "delivery"]
    rec = national.exchange.entity_records(f"case:{case.number}")[0]
    assert rec.personal == {"applicant_name": "张三", "applicant_id_type": "resident_id",
                            "applicant_id_number": "330106199001011234"}  # opened with the envelope key
    assert OutMessage.objects.filter(status=MessageStatus.SENT).count() == 5  # + the item's publication
    assert national.exchange.order_violations == []
    delivery.deliver_pass(worker="w1")  # nothing left: nothing sent again
    assert national.exchange.deliveries == 5
    assert MessageLog.objects.filter(direction="out", outcome="accepted").exists()


def test_a_worker_killed_between_sending_and_marking_loses_and_duplicates_nothing(
        national, hooked_item, citizen, officers, clock, monkeypatch):
    case = walk(submitted(citizen, hooked_item), officers)

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed  # the process dies after the national side answered, before we recorded it

    real_mark_sent = delivery.mark_sent
    monkeypatch.setattr(delivery, "mark_sent", killed)
    with pytest.raises(Killed):
        delivery.deliver_pass(worker="dying")
    monkeypatch.setattr(delivery, "mark_sent", real_mark_sent)
    assert len(national.exchange.records) >= 1 and OutMessage.objects.filter(status=MessageStatus.SENT).count() == 0
    delivery.deliver_pass(worker="w2")  # the lane is still leased to the dead worker
    assert OutMessage.objects.filter(status=MessageStatus.SENT).count() == 0
    clock.advance(61)  # its lease ends
    delivery.deliver_pass(worker="w2")
    assert OutMessage.objects.exclude(status=MessageStatus.SENT).count() == 0
    assert national.exchange.duplicates >= 1  # redelivered, recognised by key, applied once
    assert states(national, case) == ["submitted", "review", "decision", "delivery"]


def test_an_hour_long_outage_delays_everything_then_all_arrives_in_order(
        national, hooked_item, citizen, officers, clock):
    national.exchange.set_faults("fail")
    case = submitted(citizen, hooked_item)
    a, b = officers
    for step in range(60):  # an hour of simulated time, a pass every minute, changes going on meanwhile
        if step == 10:
            case_act(user=a, case_id=case.pk, action="accept")
        if step == 30:
            case_act(user=b, case_id=case.pk, action="pass_review")
        delivery.deliver_pass(worker="w1")
        clock.advance(60)
    assert national.exchange.records == {}
    assert OutMessage.objects.filter(status=MessageStatus.DEAD).count() == 0  # an outage uses no retry budget
    national.exchange.set_faults(None)
    clock.advance(301)  # the longest a lane waits
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == ["submitted", "review", "decision"]
    assert national.exchange.order_violations == []


def test_a_poisoned_message_is_dead_lettered_and_the_rest_flow(national, hooked_item, citizen, officers, clock):
    first = submitted(citizen, hooked_item)
    poisoned = OutMessage.objects.get(type="case.event")
    national.exchange.set_faults("reject", reject_keys=[poisoned.idempotency_key])
    case_act(user=officers[0], case_id=first.pk, action="accept")  # same case: held behind the poison
    other = submitted(citizen, hooked_item)
    for _ in range(4):
        delivery.deliver_pass(worker="w1")
        clock.advance(3600)
    poisoned.refresh_from_db()
    assert poisoned.status == MessageStatus.DEAD and poisoned.attempts == 3 and "poisoned" in poisoned.last_error
    assert states(national, other) == ["submitted"]  # other entities were never held up
    assert states(national, first) == []  # held behind the dead letter until an operator acts (test_ordering)
    assert national.exchange.order_violations == []


def test_the_job_system_delivers_what_a_commit_queued(national, hooked_item, citizen):
    from tongban.jobs.models import Job
    from tongban.jobs.worker import Worker

    case = submitted(citizen, hooked_item)
    assert Job.objects.filter(task="exchange.deliver", status="pending").exists()  # queued with the change
    worker = Worker(worker_id="tests")
    while worker.run_once():
        pass
    assert states(national, case) == ["submitted"]
    assert not OutMessage.objects.exclude(status=MessageStatus.SENT).exists()


def test_a_stalled_or_slow_counterpart_holds_no_worker(national, hooked_item, citizen, clock, settings):
    settings.TONGBAN_EXCHANGE = {**settings.TONGBAN_EXCHANGE, "TIMEOUT": 0.2}  # the one real wait: 0.2 s
    case = submitted(citizen, hooked_item)
    national.exchange.set_faults("stall", stall_seconds=5)
    try:
        results = delivery.deliver_pass(worker="w1")
    finally:
        national.exchange.release.set()  # let the simulator's thread go
    assert results and "timed out" in results[0].failed
    assert OutMessage.objects.filter(status=MessageStatus.PENDING).count() == 2  # nothing lost, no budget used
    national.exchange.set_faults("slow", slow_seconds=0.05)  # slow but within the timeout: delivered
    clock.advance(301)
    delivery.deliver_pass(worker="w1")
    assert states(national, case) == ["submitted"]


def test_messages_waiting_for_a_retry_do_not_stall_their_lane(national, hooked_item, citizen, clock, settings):
    settings.TONGBAN_EXCHANGE = {**settings.TONGBAN_EXCHANGE, "LANES": 1, "BATCH_SIZE": 2}  # pages of 4
    early = [submitted(citizen, hooked_item) for _ in range(5)]
    national.exchange.set_faults("reject", reject_all=True)
    delivery.deliver_pass(worker="w1")  # all five refused: each waits for its retry
    assert OutMessage.objects.filter(type="case.event", status=MessageStatus.RETRYING).count() == 5
    national.exchange.set_faults(None)
    late = submitted(citizen, hooked_item)
    delivery.deliver_pass(worker="w1")  # the first page holds only waiting messages: the pass reads on
    assert states(national, late) == ["submitted"]
    assert all(states(national, case) == [] for case in early)
