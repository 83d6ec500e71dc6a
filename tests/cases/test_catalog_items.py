"""The shipped catalog's items, applied for online end to end: a 户政, an 出入境, a 交管 and a 治安 item, two
applied for by an enterprise, through the real catalog, the reference registry (免提交: identity, household
address), the officers' actions, postal delivery through the EMS simulator and electronic results. Also the
publish check the engine registers with the catalog."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, ems, make_citizen, png_bytes  # noqa: F401
from tongban.accounts.models import Enterprise
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import ItemSpec, published_item
from tongban.cases.form_schema import fields_of
from tongban.cases.models import AttachmentSource, Case, ElectronicResult, Parcel
from tongban.cases.prefill import materials_fetch, prefill_for
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ITEMS = [  # (code, department, applied for by an enterprise)
    ("330106-GAHZ010", "hukou", False),  # 户籍证明 (one review, posted)
    ("330106-GAHZ011", "hukou", False),  # 居住登记 (即办)
    ("330100-GACR004", "exit_entry", False),  # 往来港澳通行证签注
    ("330100-GACR006", "exit_entry", False),  # 出入境记录查询 (即办)
    ("330100-GAJG006", "traffic", False),  # 机动车检验标志核发 (即办)
    ("330106-GAZA001", "public_order", False),  # 无犯罪记录证明 (posted)
    ("330106-GAZA004", "public_order", True),  # 旅馆业特种行业许可证核发 (two reviews, an enterprise)
    ("330106-GAZA006", "public_order", True),  # 印章刻制备案 (即办, an enterprise)
]
HAPPY_PATH = {"two_review": ["accept", "pass_review", "approve"], "one_review": ["accept", "approve"],
              "criminal_record": ["accept", "approve"],
              "immediate": ["approve"]}


def _answer(spec: dict) -> object:
    kind = spec.get("type", "text")
    if kind == "choice":
        return spec["choices"][0][0]
    return {"number": 2, "date": dt.date.today().isoformat(), "phone": "13900002222", "checkbox": True,
            "address": "浙江省杭州市西湖区文三路 100 号"}.get(kind, "测试内容")


@pytest.fixture
def person():
    """One registered person of a small generated reference registry (normal status, a current card)."""
    from tongban.registry.generator import generate
    from tongban.registry.samples import sample

    generate(people=120, seed=11, parallel=False)
    return sample(1, seed=5)["people"][0]


@pytest.fixture
def catalog(db):
    from tongban.catalog.loading import catalog_load

    catalog_load()


def test_eight_shipped_items_end_to_end(catalog, person, ems):  # noqa: F811
    citizen = make_citizen(id_number=person["id_number"], name=person["name"], phone="13900002222")
    enterprise = Enterprise.objects.create(uscc="91330106MA2GXXXX1X", name="杭州西湖旅馆有限公司",
                                           legal_representative=citizen)
    officers = {d: make_officer(f"officer_{d}", department=d, region_code="330100")
                for d in {d for _, d, _ in ITEMS}}
    closed = []
    for code, department, by_enterprise in ITEMS:
        item = published_item(code)
        assert isinstance(item, ItemSpec), code
        assert item.department == department
        case = case_start(user=citizen, item_code=code, enterprise_id=enterprise.pk if by_enterprise else None)
        prefill = prefill_for(user=citizen, item=item)
        if any(f.get("prefill") == "household.address" for f in fields_of(item.application_form)):
            assert prefill.values, "the household address comes from the population registry"
            assert person["address"] in prefill.values.values()
        answers = dict(prefill.values)
        for spec in fields_of(item.application_form):
            if spec["name"] not in answers:
                answers[spec["name"]] = _answer(spec)
        delivery = ({"method": "post", "recipient": person["name"], "phone": "13900002222",
                     "address": "浙江省杭州市西湖区文三路 100 号"} if item.postal_delivery else {"method": "electronic"})
        case_save_draft(user=citizen, case_id=case.pk, answers=answers, prefilled=list(prefill.values),
                        delivery=delivery)
        for material in item.materials:
            if not material.obtained_by_platform and material.required:
                attachment_add(user=citizen, case_id=case.pk, material_code=material.code,
                               file=io.BytesIO(png_bytes()))
        assert materials_fetch(user=citizen, case=case) == []
        fetched = case.attachments.filter(source=AttachmentSource.PLATFORM).count()
        assert fetched == sum(1 for m in item.materials if m.obtained_by_platform)
        case = case_submit(user=citizen, case_id=case.pk)
        for action in HAPPY_PATH[item.workflow]:
            case = case_act(user=officers[department], case_id=case.pk, action=action)
        assert case.state == "delivery", code
        drain()  # the courier order, or the electronic result
        if item.postal_delivery:
            parcel = Parcel.objects.get(case=case)
            while not ems.app.parcels[parcel.waybill].finished:
                ems.advance(parcel.waybill)
        else:
            assert ElectronicResult.objects.filter(case=case).exists()
        case.refresh_from_db()
        assert case.state == "closed", (code, case.state)
        closed.append(code)
    assert len(closed) == 8
    assert Case.objects.filter(enterprise=enterprise, state="closed").count() == 2
    assert Parcel.objects.filter(status="signed").count() == 3  # 户籍证明, 无犯罪记录证明, 旅馆业许可


def test_the_publish_check_stops_a_bad_form(catalog):
    from tests.catalog.factories import editor, make_draft, reviewer
    from tongban.catalog.services import CatalogValidationError, version_publish, version_submit

    ed, rv = editor(), reviewer()
    draft = make_draft(ed, workflow="one_review", application_form={"fields": [
        {"name": "purpose", "type": "text", "label": "用途", "prefill": "registry.everything"}]})
    version_submit(actor=ed, version=draft)
    with pytest.raises(CatalogValidationError) as caught:
        version_publish(actor=rv, version=draft)
    assert any("预填来源" in p for p in caught.value.field_errors["application_form"])
