"""Enterprise accounts: the L2 legal representative registers by USCC, authorises agents, revokes them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.accounts.test_citizen_flows import PASSWORD, card_dates, register
from tongban.accounts.models import Enterprise, EnterpriseAgent
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")

USCC = "91110000600037341L"  # a valid GB 32100 code (check characters correct)


def verified(client, sim, people, phone, index, level="2"):
    user = register(client, sim, phone=phone)
    person = people.mainland[index]
    fields = {"id_type": "resident_id", "id_number": person["id_number"], "name": person["name"], "level": level}
    if level == "2":
        fields.update(card_dates(person))
    assert client.post("/me/identity/", fields).status_code == 302
    return user, person


def test_register_enterprise_authorise_agent_act_and_revoke(sms_sim, people):
    rep_client, agent_client = Client(), Client()
    rep, rep_person = verified(rep_client, sms_sim, people, "13300000001", 0)
    agent, _ = verified(agent_client, sms_sim, people, "13300000002", 1, level="1")

    response = rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "杭州示例科技有限公司",
                                                         "representative_name": "王某", "declared": "on"})
    assert response.status_code == 422 and "法定代表人姓名与您的实名认证信息不一致" in response.content.decode()
    response = rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "杭州示例科技有限公司",
                                                         "representative_name": rep_person["name"], "declared": "on"})
    assert response.status_code == 302
    enterprise = Enterprise.objects.get(uscc=USCC)
    assert enterprise.legal_representative_id == rep.pk

    response = rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": "13300000002", "scope": "证照办理",
                                                                 "valid_until": ""})
    assert response.status_code == 302
    authorisation = EnterpriseAgent.objects.get(enterprise=enterprise, agent=agent)
    page = rep_client.get(f"/enterprise/{enterprise.pk}/").content.decode()
    assert "133****0002" in page and "证照办理" in page
    assert AuditEntry.objects.filter(action="personal_data.read", subject_type="accounts.enterprise",
                                     details__purpose="enterprise_agents").exists()

    page = agent_client.get("/enterprise/").content.decode()
    assert "杭州示例科技有限公司" in page and "我代理的企业" in page
    assert agent_client.post(f"/enterprise/{enterprise.pk}/act/").status_code == 302
    assert "正在代理" in agent_client.get("/enterprise/").content.decode()
    # The agent cannot manage the enterprise's agents.
    assert agent_client.get(f"/enterprise/{enterprise.pk}/").status_code == 404

    assert rep_client.post(f"/enterprise/{enterprise.pk}/agents/{authorisation.pk}/revoke/").status_code == 302
    authorisation.refresh_from_db()
    assert authorisation.revoked_at is not None
    page = agent_client.get("/enterprise/").content.decode()
    assert "正在代理" not in page and "杭州示例科技有限公司" not in page
    assert agent_client.post(f"/enterprise/{enterprise.pk}/act/").status_code == 404
    events = set(AuditEntry.objects.values_list("details__event", flat=True))
    assert {"enterprise_registered", "agent_authorised", "agent_revoked", "enterprise_act_as"} <= events


def test_enterprise_needs_l2_and_a_valid_unique_code(sms_sim, people):
    client = Client()
    _, person = verified(client, sms_sim, people, "13300000003", 2, level="1")
    form = {"uscc": USCC, "name": "某公司", "representative_name": person["name"], "declared": "on"}
    response = client.post("/enterprise/register/", form)
    assert response.status_code == 422 and "实证（L2）" in response.content.decode()

    other = Client()
    _, person = verified(other, sms_sim, people, "13300000004", 3)
    form["representative_name"] = person["name"]
    for bad, message in (("91110000600037341X", "校验码不正确"), ("ABC", "格式不正确"), ("9" * 5000, "不能超过")):
        response = other.post("/enterprise/register/", {**form, "uscc": bad})
        assert response.status_code == 422 and message in response.content.decode(), bad
    response = other.post("/enterprise/register/", {**form, "declared": ""})
    assert response.status_code == 422 and "请确认声明" in response.content.decode()
    assert other.post("/enterprise/register/", form).status_code == 302
    response = other.post("/enterprise/register/", form)
    assert response.status_code == 422 and "已注册企业账号" in response.content.decode()


def test_agent_must_be_verified_and_expired_authorisations_stop(sms_sim, people):
    rep_client = Client()
    _, person = verified(rep_client, sms_sim, people, "13300000005", 4)
    rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "某公司", "representative_name": person["name"],
                                              "declared": "on"})
    enterprise = Enterprise.objects.get()
    unverified_client = Client()
    register(unverified_client, sms_sim, phone="13300000006")
    response = rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": "13300000006"})
    assert response.status_code == 422 and "尚未完成实名认证" in response.content.decode()
    response = rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": "13300000005"})
    assert response.status_code == 422 and "无需授权自己" in response.content.decode()
    response = rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": "13300000007",
                                                                 "valid_until": "2000-01-01"})
    assert response.status_code == 422 and "不能早于今天" in response.content.decode()

    agent_client = Client()
    agent, _ = verified(agent_client, sms_sim, people, "13300000008", 5, level="1")
    rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": "13300000008"})
    row = EnterpriseAgent.objects.get(agent=agent)
    assert agent_client.post(f"/enterprise/{enterprise.pk}/act/").status_code == 302
    EnterpriseAgent.objects.filter(pk=row.pk).update(valid_until=dt.date.today() - dt.timedelta(days=1))
    assert "正在代理" not in agent_client.get("/enterprise/").content.decode()


def test_representative_cannot_close_account_while_enterprise_is_open(sms_sim, people):
    client = Client()
    _, person = verified(client, sms_sim, people, "13300000009", 0)
    client.post("/enterprise/register/", {"uscc": USCC, "name": "某公司", "representative_name": person["name"],
                                          "declared": "on"})
    response = client.post("/me/close/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 422 and "法定代表人" in response.content.decode()
