"""The state machine, idempotency, notifications applied once, expiry, a document paid at most once, refunds
with four eyes — against the gateway simulator."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from tests.payments.conftest import KEY, make_decision, make_notice
from tongban.audit.models import AuditEntry
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.payments import services
from tongban.payments.gateway import sign
from tongban.payments.models import (
    DocumentStatus,
    GatewayNotification,
    Payment,
    PaymentStatus,
    Receipt,
    Refund,
    RefundStatus,
)

pytestmark = pytest.mark.django_db


def _notify(payment: Payment, status: str = "success", *, notify_id: str | None = None, amount: int | None = None,
            paid_at: dt.datetime | None = None) -> str:
    return services.notification_apply(notify_id=notify_id or f"N-{payment.order_id}-{status}", order_id=payment.order_id,
                                       status=status, amount_fen=payment.total_fen if amount is None else amount,
                                       paid_at=paid_at or clock.now())


def test_created_started_success_and_the_document_is_paid(pay_sim):
    doc = make_notice()
    outcome = services.payment_create(document_id=doc.pk, idempotency_key="k1")
    payment = outcome.payment
    assert outcome.created and payment.status == PaymentStatus.STARTED
    assert payment.total_fen == 4000 and payment.pay_url.startswith(pay_sim.url + "/cashier/")
    pay_sim.pay(payment.order_id)  # its notification goes nowhere (no server): the return page asks
    payment = services.payment_refresh(payment_id=payment.pk)
    assert payment.status == PaymentStatus.SUCCESS and payment.paid_at is not None
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.PAID
    states = [e.details["to"] for e in AuditEntry.objects.filter(action="payment.state", subject_id=str(payment.pk))
              .order_by("id")]
    assert states == ["created", "started", "success"]


def test_a_final_state_never_changes(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="k2").payment
    assert _notify(payment) == "applied"
    assert _notify(payment, "failed") == "ignored_final"  # out of order: an older failure after the success
    assert _notify(payment, "closed") == "ignored_final"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCESS


def test_the_same_notification_twice_is_applied_once(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="k3").payment
    assert _notify(payment, notify_id="N1") == "applied"
    assert _notify(payment, notify_id="N1") == "duplicate"
    assert _notify(payment, notify_id="N1-resent") == "already_applied"
    assert GatewayNotification.objects.filter(payment=payment).count() == 2
    assert AuditEntry.objects.filter(action="payment.state", subject_id=str(payment.pk), details__to="success").count() == 1


def test_a_notification_before_the_browser_returns(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="k4").payment
    pay_sim.pay(payment.order_id)
    assert _notify(payment) == "applied"
    again = services.payment_refresh(payment_id=payment.pk)  # the return page afterwards changes nothing
    assert again.status == PaymentStatus.SUCCESS


def test_a_notification_with_another_amount_is_not_applied(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="k5").payment
    assert _notify(payment, amount=payment.total_fen - 1) == "amount_mismatch"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.STARTED


def test_same_key_same_body_returns_the_original(pay_sim):
    doc = make_notice()
    first = services.payment_create(document_id=doc.pk, idempotency_key="same")
    second = services.payment_create(document_id=doc.pk, idempotency_key="same")
    assert first.created and not second.created
    assert first.payment.pk == second.payment.pk
    assert Payment.objects.filter(document=doc).count() == 1


def test_same_key_another_body_is_a_409(pay_sim):
    doc = make_notice()
    services.payment_create(document_id=doc.pk, idempotency_key="same-key")
    with pytest.raises(TongbanError) as caught:
        services.payment_create(document_id=doc.pk, idempotency_key="same-key", channel="qr")
    assert caught.value.code == "idempotency_conflict" and caught.value.http_status() == 409
    other = make_notice()
    with pytest.raises(TongbanError) as caught:
        services.payment_create(document_id=other.pk, idempotency_key="same-key")
    assert caught.value.http_status() == 409


def test_paid_at_most_once_however_many_attempts(pay_sim):
    doc = make_notice()
    a = services.payment_create(document_id=doc.pk, idempotency_key="a").payment
    b = services.payment_create(document_id=doc.pk, idempotency_key="b").payment
    pay_sim.pay(a.order_id)
    pay_sim.pay(b.order_id)  # two tabs, both paid at the bank
    assert services.payment_refresh(payment_id=a.pk).status == PaymentStatus.SUCCESS
    b = services.payment_refresh(payment_id=b.pk)
    assert b.status == PaymentStatus.FAILED and b.failure == "document_already_paid"
    refund = Refund.objects.get(payment=b)
    assert refund.status == RefundStatus.APPROVED and refund.amount_fen == b.total_fen
    assert Payment.objects.filter(document=doc, status=PaymentStatus.SUCCESS).count() == 1
    with pytest.raises(TongbanError) as caught:
        services.payment_create(document_id=doc.pk, idempotency_key="c")
    assert caught.value.code == "payment_already_paid"
    # The automatic refund leaves through the outbox and reaches the gateway.
    from tests.accounts.conftest import deliver

    deliver()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert pay_sim.app.orders[b.order_id].refunded_fen == b.total_fen


def test_the_database_refuses_a_second_success(pay_sim):
    from django.db import IntegrityError, transaction

    doc = make_notice()
    a = services.payment_create(document_id=doc.pk, idempotency_key="x1").payment
    b = services.payment_create(document_id=doc.pk, idempotency_key="x2").payment
    Payment.objects.filter(pk=a.pk).update(status=PaymentStatus.SUCCESS)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=b.pk).update(status=PaymentStatus.SUCCESS)


def test_declined_then_cancelled_then_expired(pay_sim):
    doc = make_notice()
    declined = services.payment_create(document_id=doc.pk, idempotency_key="d1").payment
    pay_sim.pay(declined.order_id, succeed=False)
    assert services.payment_refresh(payment_id=declined.pk).status == PaymentStatus.FAILED
    cancelled = services.payment_create(document_id=doc.pk, idempotency_key="d2").payment
    pay_sim.app.cancel(cancelled.order_id)
    assert services.payment_refresh(payment_id=cancelled.pk).status == PaymentStatus.CANCELLED
    late = services.payment_create(document_id=doc.pk, idempotency_key="d3").payment
    assert services.payments_expire_due(now=late.expires_at + dt.timedelta(seconds=1)) == 1
    late.refresh_from_db()
    assert late.status == PaymentStatus.EXPIRED
    assert pay_sim.app.orders[late.order_id].status == "closed"  # closed at the gateway: it cannot be paid now
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.UNPAID


def test_expiry_keeps_a_payment_made_in_the_last_second(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="e1").payment
    pay_sim.pay(payment.order_id)
    services.payments_expire_due(now=payment.expires_at + dt.timedelta(seconds=1))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCESS


def test_a_success_for_an_expired_attempt_is_refunded(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="e2").payment
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.EXPIRED)
    assert _notify(payment) == "refunded"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert Refund.objects.filter(payment=payment, status=RefundStatus.APPROVED).exists()


def test_the_attempt_expiry_is_configurable(pay_sim, settings):
    conf = dict(settings.TONGBAN_PAYMENTS)
    conf["ATTEMPT_TTL_SECONDS"] = 120
    settings.TONGBAN_PAYMENTS = conf
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="ttl").payment
    assert abs((payment.expires_at - payment.created_at).total_seconds() - 120) < 2


def test_a_fine_paid_late_carries_its_late_fee(pay_sim):
    doc = make_decision(fine_fen=20000, days_ago=20)  # 5 days late: 15 %
    payment = services.payment_create(document_id=doc.pk, idempotency_key="f1").payment
    assert (payment.principal_fen, payment.surcharge_fen, payment.total_fen) == (20000, 3000, 23000)
    assert pay_sim.app.orders[payment.order_id].amount_fen == 23000


def test_the_amount_shown_must_be_the_amount_paid(pay_sim):
    doc = make_decision(fine_fen=20000, days_ago=20)
    with pytest.raises(TongbanError) as caught:
        services.payment_create(document_id=doc.pk, idempotency_key="f2", expected_total_fen=20000)
    assert caught.value.http_status() == 422 and not Payment.objects.filter(document=doc).exists()


def test_receipt_issued_through_the_job(pay_sim):
    from tests.accounts.conftest import deliver

    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="r1").payment
    _notify(payment)
    deliver()
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.total_fen == 4000 and len(receipt.number) == 10 and len(receipt.check_code) == 6
    assert bytes(receipt.pdf).startswith(b"%PDF")


def test_refund_needs_a_second_officer(pay_sim, officer, officer2):
    from tests.accounts.conftest import deliver

    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="rf").payment
    pay_sim.pay(payment.order_id)
    services.payment_refresh(payment_id=payment.pk)
    with pytest.raises(TongbanError):
        services.refund_request(payment_id=payment.pk, amount_fen=payment.total_fen + 1, reason="多缴", actor=officer)
    refund = services.refund_request(payment_id=payment.pk, amount_fen=1000, reason="多缴", actor=officer)
    with pytest.raises(TongbanError) as caught:
        services.refund_decide(refund_id=refund.pk, approve=True, actor=officer)
    assert caught.value.code == "refund_four_eyes"
    refund = services.refund_decide(refund_id=refund.pk, approve=True, actor=officer2)
    assert refund.status == RefundStatus.APPROVED
    with pytest.raises(TongbanError):
        services.refund_decide(refund_id=refund.pk, approve=False, actor=officer2)
    deliver()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_ref


def test_notification_signature_is_checked(pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="sig").payment
    body = json.dumps({"notify_id": "S1", "order_id": payment.order_id, "status": "success",
                       "amount_fen": payment.total_fen, "paid_at": clock.now().isoformat()}).encode()
    ts = str(int(time.time()))
    with pytest.raises(TongbanError) as caught:
        services.notification_receive(body=body, timestamp=ts, signature=sign("another-key", ts, body))
    assert caught.value.code == "signature_invalid"
    with pytest.raises(TongbanError):  # a replay from long ago
        old = str(int(time.time()) - 3600)
        services.notification_receive(body=body, timestamp=old, signature=sign(KEY, old, body))
    assert services.notification_receive(body=body, timestamp=ts, signature=sign(KEY, ts, body)) == "applied"


def test_notice_amounts_come_from_the_fee_table():
    with pytest.raises(TongbanError):
        make_notice(items=[{"code": "passport", "quantity": 1}])  # not a resident-ID item
    doc = make_notice(category="exit_entry", items=[{"code": "passport", "quantity": 1},
                                                    {"code": "endorsement_once", "quantity": 2}])
    assert doc.amount_fen == 12000 + 2 * 1500
    assert len(doc.number) == 20
