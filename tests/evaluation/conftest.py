"""Fixtures for evaluations: a case carried by the real engine to its end (办结 or 不予受理), its applicant,
the officer who handled it, and two supervisors of the same department and region."""

from __future__ import annotations

import io

import pytest

from tests.accounts.conftest import sms_sim  # noqa: F401  (the SMS simulator fixture, shared)
from tests.accounts.factories import make_officer, make_staff
from tests.cases.conftest import make_citizen, make_item, png_bytes
from tongban.accounts.roles import StaffRole
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit

ANSWERS = {"name": "张三", "reason": "damaged"}
PICKUP = {"method": "pickup", "station": "西湖区公安分局出入境接待大厅"}


def closed_case(user, item, officer, *, refuse: bool = False, enterprise_id: int | None = None) -> Case:
    case = case_start(user=user, item_code=item.code, enterprise_id=enterprise_id)
    case_save_draft(user=user, case_id=case.pk, answers=ANSWERS, prefilled=["name"], delivery=PICKUP)
    attachment_add(user=user, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    case_submit(user=user, case_id=case.pk)
    if refuse:
        return case_act(user=officer, case_id=case.pk, action="not_accept", reason="不属于本机关管辖（示例）。")
    case_act(user=officer, case_id=case.pk, action="accept")
    case_act(user=officer, case_id=case.pk, action="pass_review")
    case_act(user=officer, case_id=case.pk, action="approve")
    return case_act(user=officer, case_id=case.pk, action="deliver")


def make_supervisor(username: str, region_code: str = "330100", department: str = "hukou"):
    return make_staff(username, StaffRole.SUPERVISOR, department=department, region_code=region_code)


@pytest.fixture
def item(db):
    spec = make_item("EV001")
    yield spec
    withdraw_item(spec.code)


@pytest.fixture
def citizen(db):
    return make_citizen(name="李四", phone="13800009901")


@pytest.fixture
def officer(db):
    return make_officer("handler", department="hukou", region_code="330100")


@pytest.fixture
def supervisor(db):
    return make_supervisor("sup_a")


@pytest.fixture
def supervisor2(db):
    return make_supervisor("sup_b", region_code="330106")


@pytest.fixture
def case(item, citizen, officer):
    return closed_case(citizen, item, officer)
