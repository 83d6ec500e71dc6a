"""The payer's pages through Django's test client: finding a document by number and name (a Hong Kong
resident with an English name), the QR code's token, paying, the return page, the receipt and its public
check, the gateway's notification endpoint."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.cases.conftest import make_citizen
from tests.payments.conftest import KEY, make_decision, make_notice
from tongban.audit.models import AuditEntry
from tongban.core import clock
from tongban.payments import services
from tongban.payments.gateway import sign
from tongban.payments.models import DocumentStatus, Payment, PaymentStatus, Receipt

pytestmark = pytest.mark.django_db


def _pay(client, number: str) -> Payment:
    page = client.get(f"/pay/{number}/")
    assert page.status_code == 200
    html = page.content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    amount = re.search(r'name="amount_fen" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    answer = client.post(f"/pay/{number}/", {"idempotency_key": key, "amount_fen": amount, "channel": "redirect"})
    assert answer.status_code == 302, answer.content.decode()[:500]
    payment = Payment.objects.get(idempotency_key=key)
    assert answer["Location"] == payment.pay_url
    return payment


def test_hong_kong_resident_pays_a_fine_by_number_and_name(client, pay_sim):
    resident = make_citizen(id_type="hk_macao_permit", id_number="H12345678", name="CHAN Tai Man")
    doc = make_decision(fine_fen=20000, days_ago=16, payer_name="CHAN Tai Man", payer_id_number="H12345678",
                        payer_user_id=resident.pk)
    # Anonymous, on a phone: the number and the name as written, in another case and with full-width letters.
    wrong = client.post("/pay/", {"number": doc.number, "payer_name": "CHAN Siu Ming"})
    assert wrong.status_code == 422 and "错误：" in wrong.content.decode()
    found = client.post("/pay/", {"number": doc.number, "payer_name": "ｃｈａｎ  tai man"})
    assert found.status_code == 302 and found["Location"] == f"/pay/{doc.number}/"
    page = client.get(f"/pay/{doc.number}/").content.decode()
    assert "加处罚款" in page and "¥206.00" in page  # day 16: 3 % of 200 元
    payment = _pay(client, doc.number)
    assert payment.total_fen == 20600 and payment.surcharge_fen == 600
    pay_sim.pay(payment.order_id)
    back = client.get(f"/pay/return/{payment.order_id}/")
    assert back.status_code == 200 and 'data-status="success"' in back.content.decode()
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.PAID
    pdf = client.get(f"/pay/receipt/{payment.order_id}.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    data = b"".join(pdf.streaming_content)
    receipt = Receipt.objects.get(payment=payment)
    checked = client.post("/verify/receipt/", {"number": receipt.number, "code": receipt.check_code,
                                               "document": _file(data)})
    assert checked.status_code == 200 and 'data-valid="true"' in checked.content.decode()
    tampered = client.post("/verify/receipt/", {"number": receipt.number, "code": receipt.check_code,
                                                "document": _file(data + b"\n% altered\n")})
    assert 'data-valid="false"' in tampered.content.decode()
    assert client.post("/verify/receipt/", {"number": receipt.number, "code": "000000"}).status_code == 422
    # Nobody else sees the document: another browser without the name is sent to the look-up page.
    from django.test import Client

    assert Client().get(f"/pay/{doc.number}/")["Location"].startswith("/pay/?number=")
    assert Client().get(f"/pay/receipt/{payment.order_id}.pdf").status_code == 404


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("receipt.pdf", data, content_type="application/pdf")


def test_the_qr_token_stands_for_the_name(client, pay_sim):
    doc = make_notice()
    assert client.get(f"/pay/{doc.number}/?t=not-the-token").status_code == 302
    assert client.get(f"/pay/{doc.number}/")["Location"].startswith("/pay/?number=")
    opened = client.get(f"/pay/{doc.number}/?t={services.qr_token(doc.number)}")
    assert opened["Location"] == f"/pay/{doc.number}/"
    assert client.get(f"/pay/{doc.number}/").status_code == 200
    assert AuditEntry.objects.filter(action="payment.document.open", subject_id=str(doc.pk)).exists()


def test_the_payer_signed_in_sees_their_own_notice(client, pay_sim):
    citizen = make_citizen(name="王五")
    doc = make_notice(payer_name="王五", payer_user_id=citizen.pk)
    client.force_login(citizen)
    assert client.get(f"/pay/{doc.number}/").status_code == 200


def test_double_click_posts_one_payment(client, pay_sim):
    doc = make_notice()
    client.get(f"/pay/{doc.number}/?t={services.qr_token(doc.number)}")
    html = client.get(f"/pay/{doc.number}/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    form = {"idempotency_key": key, "amount_fen": "4000", "channel": "redirect"}
    first, second = client.post(f"/pay/{doc.number}/", form), client.post(f"/pay/{doc.number}/", form)
    assert first["Location"] == second["Location"]
    assert Payment.objects.filter(document=doc).count() == 1
    other = client.post(f"/pay/{doc.number}/", {**form, "channel": "qr"})
    assert other.status_code == 409 and "幂等键" in other.content.decode()


def test_pay_by_scanning_the_cashier_qr(client, pay_sim):
    doc = make_notice()
    client.get(f"/pay/{doc.number}/?t={services.qr_token(doc.number)}")
    html = client.get(f"/pay/{doc.number}/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    answer = client.post(f"/pay/{doc.number}/", {"idempotency_key": key, "amount_fen": "4000", "channel": "qr"})
    payment = Payment.objects.get(idempotency_key=key)
    assert answer["Location"] == f"/pay/qr/{payment.order_id}/" and payment.channel == "qr"
    page = client.get(answer["Location"]).content.decode()
    assert payment.pay_url in page and "<svg" in page


def test_notify_endpoint(client, pay_sim):
    payment = services.payment_create(document_id=make_notice().pk, idempotency_key="n1").payment
    body = json.dumps({"notify_id": "W1", "order_id": payment.order_id, "status": "success",
                       "amount_fen": payment.total_fen, "paid_at": clock.now().isoformat()}).encode()
    ts = str(int(time.time()))
    bad = client.post("/pay/gateway/notify/", body, content_type="application/json",
                      headers={"X-Pay-Timestamp": ts, "X-Pay-Signature": "0" * 64})
    assert bad.status_code == 401
    assert AuditEntry.objects.filter(action="payment.notification.rejected").exists()
    headers = {"X-Pay-Timestamp": ts, "X-Pay-Signature": sign(KEY, ts, body)}
    ok = client.post("/pay/gateway/notify/", body, content_type="application/json", headers=headers)
    assert ok.status_code == 200 and ok.json()["outcome"] == "applied"
    again = client.post("/pay/gateway/notify/", body, content_type="application/json", headers=headers)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    junk = b"not json"
    assert client.post("/pay/gateway/notify/", junk, content_type="application/json",
                       headers={"X-Pay-Timestamp": ts, "X-Pay-Signature": sign(KEY, ts, junk)}).status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCESS


def test_the_case_page_shows_its_fee_notice_with_the_qr_code(client, pay_sim):
    """The cases app calls notice_issue(case_id=…); its detail page shows the notice (a template-tag hook)."""
    import io

    from tests.cases.conftest import make_item, png_bytes
    from tongban.cases.attachments import attachment_add
    from tongban.cases.services import case_save_draft, case_start, case_submit

    citizen = make_citizen(name="张三")
    item = make_item("PAY01")
    case = case_start(user=citizen, item_code=item.code)
    case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                    delivery={"method": "pickup", "station": "窗口"})
    attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    case = case_submit(user=citizen, case_id=case.pk)
    doc = services.notice_issue(category="resident_id", items=[{"code": "id_replace"}], payer_name="张三",
                                region_code=case.region_code, payee_unit="广州市公安局", payer_user_id=citizen.pk,
                                case_id=case.pk, component="cases")
    client.force_login(citizen)
    page = client.get(f"/me/cases/{case.pk}/").content.decode()
    assert f"缴款码 {doc.number}" in page and "<svg" in page and f"/pay/{doc.number}/?t=" in page
    assert client.get(f"/pay/{doc.number}/").status_code == 200  # the payer's own notice
