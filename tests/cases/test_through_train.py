"""粤港澳直通车 through the catalog and the case engine: a Hong Kong resident applies for 批文延期 (exit-entry)
and 驾驶人变更登记 (traffic) with two-way post — the case waits for the originals' inbound parcel before review,
the fee notice is paid through payments, the result goes back by post through the EMS simulator."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, ems, make_citizen, png_bytes  # noqa: F401
from tests.payments.conftest import pay_sim  # noqa: F401
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import published_item
from tongban.cases.form_schema import fields_of
from tongban.cases.models import Parcel, ParcelDirection
from tongban.cases.prefill import materials_fetch, prefill_for
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit
from tongban.core.errors import TongbanError
from tongban.payments import services as payments
from tongban.payments.selectors import notices_for_case

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ITEMS = [("440000-GACR011", "exit_entry", 1000), ("440000-GAJG018", "traffic", 1000)]


@pytest.fixture
def catalog(db):
    from tongban.catalog.loading import catalog_load

    catalog_load()


def _answers(item, prefilled):
    answers = dict(prefilled)
    for spec in fields_of(item.application_form):
        if spec["name"] not in answers:
            kind = spec.get("type", "text")
            answers[spec["name"]] = (spec["choices"][0][0] if kind == "choice" else
                                     {"date": (dt.date.today() + dt.timedelta(days=200)).isoformat(),
                                      "phone": "+85291234567"}.get(kind, "ZA1234"))
    return answers


def _until_signed(sim, waybill):
    while not sim.app.parcels[waybill].finished:
        sim.advance(waybill)


def test_hong_kong_resident_two_way_post_pays_and_receives(catalog, ems, pay_sim):  # noqa: F811
    citizen = make_citizen(id_type="hk_macao_permit", id_number="H12345678", name="陳大文", phone="+85291234567")
    for code, department, fee in ITEMS:
        item = published_item(code)
        assert item.workflow == "two_way_post" and item.hk_macao_applicable and item.department == department
        officer = make_officer(f"gd_{department}", department=department, region_code="440000")
        case = case_start(user=citizen, item_code=code)
        prefill = prefill_for(user=citizen, item=item)
        case_save_draft(user=citizen, case_id=case.pk, answers=_answers(item, prefill.values),
                        prefilled=list(prefill.values),
                        delivery={"method": "post", "recipient": "陳大文", "phone": "+85291234567",
                                  "address": "香港九龍彌敦道 100 號 10 樓"})
        for material in item.materials:
            if not material.obtained_by_platform and material.required:
                attachment_add(user=citizen, case_id=case.pk, material_code=material.code,
                               file=io.BytesIO(png_bytes()))
        assert materials_fetch(user=citizen, case=case) == []
        case = case_submit(user=citizen, case_id=case.pk)
        case = case_act(user=officer, case_id=case.pk, action="accept")
        assert case.state == "awaiting_originals"
        # Review cannot start before the originals arrive.
        with pytest.raises(TongbanError):
            case_act(user=officer, case_id=case.pk, action="approve")
        # The fee notice, payable by the Hong Kong resident online.
        [notice] = notices_for_case(case.pk)
        assert notice.amount_fen == fee and notice.payer_user_id == citizen.pk
        payment = payments.payment_create(document_id=notice.pk, idempotency_key=f"hk-{code}").payment
        pay_sim.pay(payment.order_id)
        assert payments.payment_refresh(payment_id=payment.pk).status == "success"
        # The inbound leg: the applicant posts the originals; the office signs for them.
        drain()
        inbound = Parcel.objects.get(case=case, direction=ParcelDirection.INBOUND)
        assert inbound.waybill
        _until_signed(ems, inbound.waybill)
        case.refresh_from_db()
        assert case.state == "review", case.state
        case = case_act(user=officer, case_id=case.pk, action="approve")
        drain()
        outbound = Parcel.objects.get(case=case, direction=ParcelDirection.OUTBOUND)
        assert ems.app.parcels[outbound.waybill].phone == "+85291234567"
        _until_signed(ems, outbound.waybill)
        case.refresh_from_db()
        assert case.state == "closed", (code, case.state)
