"""The staff pages: an officer issues a notice and records a decision; a refund asked by one officer is
approved by another; who may see what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.accounts.factories import login_verified, make_officer
from tongban.core import clock
from tongban.payments import services
from tongban.payments.models import DocumentKind, PayableDocument, Refund, RefundStatus

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def test_officer_issues_a_notice_and_a_decision(officer):
    client = _client(officer)
    assert client.get("/backoffice/payments/notice/new/").status_code == 200
    failed = client.post("/backoffice/payments/notice/new/", {"item": "exit_entry/passport", "quantity": "0"})
    assert failed.status_code == 422 and "错误：" in failed.content.decode()
    done = client.post("/backoffice/payments/notice/new/", {
        "item": "temporary_entry/temp_entry_plate_licence", "quantity": "1", "payer_name": "陳大文",
        "payer_id_number": "H12345678", "payee_unit": "深圳市公安局交通警察支队"})
    assert done.status_code == 302
    notice = PayableDocument.objects.get(kind=DocumentKind.NOTICE)
    assert notice.amount_fen == 1000 and notice.region_code == "440100" and notice.issued_by == officer
    page = client.get(done["Location"]).content.decode()
    assert notice.number in page and "<svg" in page  # the QR code printed on the notice
    served = (clock.today_local() - dt.timedelta(days=2)).isoformat()
    done = client.post("/backoffice/payments/decision/new/", {
        "fine": "200", "served_on": served, "payer_name": "李四", "payee_unit": "广州市公安局交通警察支队"})
    assert done.status_code == 302
    decision = PayableDocument.objects.get(kind=DocumentKind.DECISION)
    assert decision.amount_fen == 20000 and len(decision.number) == 18
    bad = client.post("/backoffice/payments/decision/new/", {
        "fine": "2e3", "served_on": served, "payer_name": "李四", "payee_unit": "x"})
    assert bad.status_code == 422


def test_refund_asked_by_one_officer_approved_by_another(officer, officer2, pay_sim):
    from tests.payments.conftest import make_notice

    payment = services.payment_create(document_id=make_notice(region_code="440106").pk, idempotency_key="b1").payment
    pay_sim.pay(payment.order_id)
    services.payment_refresh(payment_id=payment.pk)
    first, second = _client(officer), _client(officer2)
    number = payment.document.number
    asked = first.post(f"/backoffice/payments/d/{number}/", {"amount": "40", "reason": "重复缴纳"})
    assert asked.status_code == 302
    refund = Refund.objects.get(payment=payment)
    first.post(f"/backoffice/payments/refunds/{refund.pk}/decide/", {"decision": "approve"})
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED  # not by the one who asked
    assert "本人申请" in first.get("/backoffice/payments/refunds/").content.decode()
    second.post(f"/backoffice/payments/refunds/{refund.pk}/decide/", {"decision": "approve"})
    refund.refresh_from_db()
    assert refund.status == RefundStatus.APPROVED and refund.decided_by == officer2


def test_who_sees_what(officer, finance):
    from tests.payments.conftest import make_notice

    doc = make_notice(region_code="440106")
    far = make_officer("far_officer", department="traffic", region_code="330100")
    assert _client(far).get(f"/backoffice/payments/d/{doc.number}/").status_code == 404
    assert _client(officer).get(f"/backoffice/payments/d/{doc.number}/").status_code == 200
    assert _client(finance).get("/backoffice/payments/reconciliation/").status_code == 200
    assert _client(officer).get("/backoffice/payments/reconciliation/").status_code == 404
    assert _client(finance).get("/backoffice/payments/notice/new/").status_code == 404
