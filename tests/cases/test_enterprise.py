"""An enterprise applies through an authorised agent: the case belongs to the enterprise, the agent and the
representative both see it, and a revoked agent loses access at once."""

from __future__ import annotations

import io

import pytest

from tests.cases.conftest import make_citizen, make_item, png_bytes
from tongban.accounts.enterprises import agent_revoke
from tongban.accounts.models import Enterprise, EnterpriseAgent
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.selectors import cases_of_applicant
from tongban.cases.services import case_save_draft, case_start, case_submit, case_withdraw
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    item = make_item("TE01", title="旅馆业特种行业许可证核发", department="public_order", enterprise_applicable=True)
    boss = make_citizen(id_number="330106197001011239", name="王老板")
    agent = make_citizen(id_number="330106199505051233", name="李经办")
    enterprise = Enterprise.objects.create(uscc="91330106MA2GXXXX1X", name="杭州西湖旅馆有限公司",
                                           legal_representative=boss)
    authorisation = EnterpriseAgent.objects.create(enterprise=enterprise, agent=agent, authorised_by=boss)
    yield item, boss, agent, enterprise, authorisation
    withdraw_item(item.code)


def test_agent_applies_for_the_enterprise_then_is_revoked(company, client):
    item, boss, agent, enterprise, authorisation = company
    case = case_start(user=agent, item_code=item.code, enterprise_id=enterprise.pk)
    assert case.enterprise == enterprise and case.applicant_kind == "enterprise"
    case_save_draft(user=agent, case_id=case.pk, answers={"name": "李经办", "reason": "damaged"},
                    delivery={"method": "pickup", "station": "窗口"})
    attachment_add(user=agent, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    case = case_submit(user=agent, case_id=case.pk)
    # Both the agent and the representative see it among the enterprise's cases, not among their own.
    assert list(cases_of_applicant(agent, enterprise_id=enterprise.pk)) == [case]
    assert list(cases_of_applicant(boss, enterprise_id=enterprise.pk)) == [case]
    assert list(cases_of_applicant(agent)) == []
    client.force_login(agent)
    session = client.session
    session["tongban_acting_enterprise"] = enterprise.pk
    session.save()
    assert client.get(f"/me/cases/{case.pk}/").status_code == 200
    # Revoked: at once, nothing is visible or doable any more.
    agent_revoke(user=boss, enterprise_id=enterprise.pk, agent_id=authorisation.pk)
    assert list(cases_of_applicant(agent, enterprise_id=enterprise.pk)) == []
    assert client.get(f"/me/cases/{case.pk}/").status_code == 404
    with pytest.raises(TongbanError) as exc:
        case_withdraw(user=agent, case_id=case.pk)
    assert exc.value.code == "not_found"
    with pytest.raises(TongbanError) as start:
        case_start(user=agent, item_code=item.code, enterprise_id=enterprise.pk)
    assert start.value.code == "case_not_authorised"
    # The representative still can.
    assert case_withdraw(user=boss, case_id=case.pk).state == "withdrawn"


def test_items_not_for_enterprises_refuse_them(company):
    _, boss, _, enterprise, _ = company
    make_item("TE02", enterprise_applicable=False)
    try:
        with pytest.raises(TongbanError) as exc:
            case_start(user=boss, item_code="TE02", enterprise_id=enterprise.pk)
        assert exc.value.code == "case_not_for_enterprise"
    finally:
        withdraw_item("TE02")
