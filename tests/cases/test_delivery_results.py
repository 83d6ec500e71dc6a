"""Postal delivery through the EMS simulator (order, waybill, signed tracking callbacks, lose / delay,
signed-for closes the case) and the electronic result (PDF with a Chinese font, SM2 signature, QR code,
public verification)."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.db import transaction

from tests.cases.conftest import EMS_TOKEN as TOKEN
from tests.cases.conftest import drain, make_citizen, make_item, png_bytes
from tongban.audit.models import AuditEntry
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.delivery import sign, verify_signature
from tongban.cases.models import Case, ElectronicResult, Parcel, TrackingEvent
from tongban.cases.results import render_pdf, result_lookup, verify_document
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def approved_factory(db):
    made = []

    def make(delivery: dict, code: str = "TD01"):
        item = make_item(code, workflow="one_review")
        made.append(code)
        citizen = make_citizen()
        officer = __import__("tests.accounts.factories", fromlist=["make_officer"]).make_officer(
            f"o{Case.objects.count()}", department="hukou", region_code="330100")
        case = case_start(user=citizen, item_code=item.code)
        case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                        delivery=delivery)
        attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
        case = case_submit(user=citizen, case_id=case.pk)
        case = case_act(user=officer, case_id=case.pk, action="accept")
        case = case_act(user=officer, case_id=case.pk, action="approve")
        assert case.state == "delivery"
        return case

    yield make
    for code in made:
        withdraw_item(code)


POST = {"method": "post", "recipient": "张三", "phone": "13800001111", "address": "浙江省杭州市西湖区文三路 100 号"}


def _wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_posted_result_signed_for_closes_the_case(ems, approved_factory):
    case = approved_factory(POST)
    drain()  # the outbox places the order
    parcel = Parcel.objects.get(case=case)
    assert parcel.waybill and parcel.waybill.startswith("EA") and parcel.status == "ordered"
    sim_parcel = ems.app.parcels[parcel.waybill]
    assert sim_parcel.address == POST["address"] and sim_parcel.phone == POST["phone"]
    for expected in ("collected", "in_transit", "out_for_delivery", "signed"):
        event = ems.advance(parcel.waybill)
        assert event["status"] == expected
        assert not ems.app.parcels[parcel.waybill].unsent, "the callback was not accepted"
    case.refresh_from_db()
    assert case.state == "closed"
    assert list(TrackingEvent.objects.filter(parcel=parcel).values_list("status", flat=True)) == [
        "collected", "in_transit", "out_for_delivery", "signed"]
    assert AuditEntry.objects.filter(action="case.delivery", subject_id=str(case.pk)).count() == 5
    # A repeated push of the same event is stored once.
    last = ems.app.parcels[parcel.waybill].events[-1]
    assert ems.app.push(f"{ems.app.parcels[parcel.waybill].callback_url}", last)
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 4


def test_lost_and_delayed_parcels(ems, approved_factory):
    lost_case = approved_factory(POST, code="TD02")
    delayed_case = approved_factory(POST, code="TD03")
    drain()
    lost = Parcel.objects.get(case=lost_case)
    delayed = Parcel.objects.get(case=delayed_case)
    ems.control(lost.waybill, "lose")
    ems.control(delayed.waybill, "delay")
    ems.advance(lost.waybill)  # collected
    assert ems.advance(lost.waybill)["status"] == "lost"
    assert ems.advance(lost.waybill) is None or ems.app.parcels[lost.waybill].finished
    ems.advance(delayed.waybill)
    assert ems.advance(delayed.waybill)["status"] == "delayed"
    lost.refresh_from_db()
    delayed.refresh_from_db()
    assert lost.status == "lost" and delayed.status == "delayed"
    assert Case.objects.get(pk=lost_case.pk).state == "delivery"  # not closed: someone must act
    for _ in range(3):
        ems.advance(delayed.waybill)
    assert Case.objects.get(pk=delayed_case.pk).state == "closed"


def test_callback_refuses_a_bad_signature(client, settings, db):
    settings.TONGBAN_EMS = {**settings.TONGBAN_EMS, "TOKEN": TOKEN}
    body = json.dumps({"waybill": "EA1", "event_id": "x", "status": "signed",
                       "occurred_at": "2026-12-06T10:00:00+00:00"}).encode()
    now = str(int(time.time()))
    bad = client.post("/cases/ems/callback/", body, content_type="application/json",
                      HTTP_X_EMS_TIMESTAMP=now, HTTP_X_EMS_SIGNATURE=sign("wrong-token", now, body))
    assert bad.status_code == 401
    old = str(int(time.time()) - 3600)
    stale = client.post("/cases/ems/callback/", body, content_type="application/json",
                        HTTP_X_EMS_TIMESTAMP=old, HTTP_X_EMS_SIGNATURE=sign(TOKEN, old, body))
    assert stale.status_code == 401
    good = client.post("/cases/ems/callback/", body, content_type="application/json",
                       HTTP_X_EMS_TIMESTAMP=now, HTTP_X_EMS_SIGNATURE=sign(TOKEN, now, body))
    assert good.status_code == 200 and good.json() == {"recorded": False}  # unknown waybill
    assert verify_signature(token=TOKEN, timestamp=now, signature=sign(TOKEN, now, body), body=body)
    assert not verify_signature(token=TOKEN, timestamp=now, signature=sign(TOKEN, now, body), body=body + b" ")


def test_order_fails_over_then_succeeds(ems, approved_factory):
    ems.app.fail_next = 1
    case = approved_factory(POST, code="TD04")
    drain()  # first attempt: 503, retried later
    parcel = Parcel.objects.get(case=case)
    from tongban.jobs.models import Job

    job = Job.objects.get(task="outbox.ems_order")
    assert parcel.waybill is None and job.status == "retrying" and job.attempts == 1
    Job.objects.filter(pk=job.pk).update(run_after=job.created_at)
    drain()
    parcel.refresh_from_db()
    assert parcel.waybill


def test_electronic_result_is_signed_and_verifiable(approved_factory, client):
    case = approved_factory({"method": "electronic"}, code="TD05")
    drain()  # issues the result, which closes the delivery
    case.refresh_from_db()
    assert case.state == "closed"
    result = ElectronicResult.objects.get(case=case)
    data = bytes(result.pdf)
    assert data.startswith(b"%PDF-") and result.font_embedded
    assert b"/FontFile2" in data or b"/FontFile" in data  # the Chinese font is embedded (subset)
    assert verify_document(data, bytes(result.signature), result.key_version)
    tampered = data.replace(b"/Title", b"/Titl3", 1)
    assert not verify_document(tampered, bytes(result.signature), result.key_version)
    # Cross-check the signature with an independent SM2 implementation (gmalg).
    import gmalg

    from tongban.crypto import keys
    from tongban.crypto.models import KeyPurpose
    from tongban.crypto.sm2 import signature_der_to_raw
    from tongban.crypto.sm3 import sm3

    public = keys.verifying_key(KeyPurpose.DOCUMENT_SIGNING, result.key_version).to_raw()
    raw = signature_der_to_raw(bytes(result.signature))
    assert gmalg.SM2(pk=public, uid=b"1234567812345678").verify(sm3(data), raw[:32], raw[32:])
    # The public check by number and code, with and without the file.
    assert result_lookup(number=case.number, check_code=result.check_code) is not None
    assert result_lookup(number=case.number, check_code="AAAAAAAA") is None
    page = client.get("/verify/result/", {"number": case.display_number, "code": result.check_code})
    assert page.status_code == 200 and "核验通过" in page.content.decode()
    wrong = client.get("/verify/result/", {"number": case.number, "code": "ZZZZZZZZ"})
    assert wrong.status_code == 422 and "未找到" in wrong.content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    ok = client.post("/verify/result/", {"number": case.number, "code": result.check_code,
                                         "document": SimpleUploadedFile("r.pdf", data, "application/pdf")})
    assert 'data-valid="true"' in ok.content.decode()
    bad = client.post("/verify/result/", {"number": case.number, "code": result.check_code,
                                          "document": SimpleUploadedFile("r.pdf", tampered, "application/pdf")})
    assert 'data-valid="false"' in bad.content.decode()


def test_pdf_falls_back_clearly_without_a_font(settings, approved_factory, monkeypatch):
    case = approved_factory({"method": "pickup", "station": "窗口"}, code="TD06")
    monkeypatch.setattr("tongban.cases.results.FONT_CANDIDATES", ())
    settings.TONGBAN_CASES_PDF_FONT = "/nonexistent.ttf"
    data, embedded = render_pdf(case, check_code="ABCDEFGH", issued_on="2026-12-06", holder="张三")
    assert data.startswith(b"%PDF-") and not embedded
    with transaction.atomic():
        pass
