"""Enterprise accounts: the L2 legal representative registers by USCC, invites agents — who accept in their own
accounts — and revokes them. No answer to an invitation tells whether a number has an account (issue 11,
item 16)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.conftest import deliver, past_cooldown
from tests.accounts.test_citizen_flows import PASSWORD, card_dates, register
from tongban.accounts.models import Enterprise, EnterpriseAgent, EnterpriseInvitation
from tongban.audit.models import AuditEntry
from tongban.crypto.fields import blind_lookup

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


def _invite(rep_client, enterprise, phone, **extra):
    return rep_client.post(f"/enterprise/{enterprise.pk}/", {"agent_phone": phone, **extra})


def _invitation_for(phone):
    return EnterpriseInvitation.objects.get(**blind_lookup(EnterpriseInvitation, "phone", phone))


def test_register_enterprise_invite_agent_accept_act_and_revoke(sms_sim, people):
    rep_client, agent_client = Client(), Client()
    rep, rep_person = verified(rep_client, sms_sim, people, "13300000001", 0)
    past_cooldown()
    agent, _ = verified(agent_client, sms_sim, people, "13300000002", 1, level="1")

    response = rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "杭州示例科技有限公司",
                                                         "representative_name": "王某", "declared": "on"})
    assert response.status_code == 422 and "法定代表人姓名与您的实名认证信息不一致" in response.content.decode()
    response = rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "杭州示例科技有限公司",
                                                         "representative_name": rep_person["name"], "declared": "on"})
    assert response.status_code == 302
    enterprise = Enterprise.objects.get(uscc=USCC)
    assert enterprise.legal_representative_id == rep.pk

    response = _invite(rep_client, enterprise, "13300000002", scope="证照办理", valid_until="")
    assert response.status_code == 302
    assert not EnterpriseAgent.objects.exists()  # nobody is an agent until they accept
    page = rep_client.get(f"/enterprise/{enterprise.pk}/").content.decode()
    assert "已向 133****0002 发送经办人邀请" in page and "133****0002" in page and "证照办理" in page
    deliver()
    [sms] = sms_sim.messages("13300000002")[:1]
    assert "邀请您作为其经办人" in sms.text and "杭州示例" not in sms.text  # no text of the inviter's choosing

    # The invited person sees it in their own account and accepts.
    assert "1 个经办人邀请待确认" in agent_client.get("/me/").content.decode()
    page = agent_client.get("/enterprise/invitations/").content.decode()
    assert "杭州示例科技有限公司" in page and "证照办理" in page
    invitation = _invitation_for("13300000002")
    assert agent_client.post(f"/enterprise/invitations/{invitation.pk}/accept/").status_code == 302
    authorisation = EnterpriseAgent.objects.get(enterprise=enterprise, agent=agent)
    assert authorisation.scope == "证照办理" and authorisation.authorised_by_id == rep.pk
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.authorisation_id == authorisation.pk
    page = rep_client.get(f"/enterprise/{enterprise.pk}/").content.decode()
    assert 'data-agent="' in page and "133****0002" in page
    assert AuditEntry.objects.filter(action="personal_data.read", subject_type="accounts.enterprise",
                                     details__purpose="enterprise_agents").exists()
    accepted = AuditEntry.objects.get(details__event="agent_authorised")
    assert accepted.actor_id == str(agent.pk) and accepted.details["via"] == "invitation"

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
    assert {"enterprise_registered", "agent_invited", "agent_authorised", "agent_revoked",
            "enterprise_act_as"} <= events
    invited = AuditEntry.objects.get(details__event="agent_invited")
    assert invited.details["phone"] == "133****0002" and "13300000002" not in str(invited.details)


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


def _enterprise(sms_sim, people, phone="13300000005", index=4):
    rep_client = Client()
    _, person = verified(rep_client, sms_sim, people, phone, index)
    rep_client.post("/enterprise/register/", {"uscc": USCC, "name": "某公司", "representative_name": person["name"],
                                              "declared": "on"})
    past_cooldown()
    return rep_client, Enterprise.objects.get()


def test_accepting_needs_l1_and_the_phone_and_expired_authorisations_stop(sms_sim, people):
    rep_client, enterprise = _enterprise(sms_sim, people)
    response = _invite(rep_client, enterprise, "13300000005")
    assert response.status_code == 422 and "无需邀请自己" in response.content.decode()
    response = _invite(rep_client, enterprise, "13300000007", valid_until="2000-01-01")
    assert response.status_code == 422 and "不能早于今天" in response.content.decode()

    # An account not verified yet sees the invitation but must verify first.
    invitee = Client()
    user = register(invitee, sms_sim, phone="13300000006")
    assert _invite(rep_client, enterprise, "13300000006").status_code == 302
    invitation = _invitation_for("13300000006")
    page = invitee.get("/enterprise/invitations/").content.decode()
    assert "某公司" in page and "完成实名认证" in page
    response = invitee.post(f"/enterprise/invitations/{invitation.pk}/accept/", follow=True)
    assert "请先完成实名认证" in response.content.decode()
    assert not EnterpriseAgent.objects.exists()
    # Someone else (another phone) cannot accept it: not found, as for an invitation that does not exist.
    stranger = Client()
    past_cooldown()
    verified(stranger, sms_sim, people, "13300000009", 2, level="1")
    assert stranger.post(f"/enterprise/invitations/{invitation.pk}/accept/").status_code == 404
    assert stranger.post(f"/enterprise/invitations/{invitation.pk}/decline/").status_code == 404
    assert "某公司" not in stranger.get("/enterprise/invitations/").content.decode()
    # Verified, the holder of the phone accepts; the authorisation stops when its end date has passed.
    person = people.mainland[5]
    assert invitee.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                          "name": person["name"], "level": "1"}).status_code == 302
    assert invitee.post(f"/enterprise/invitations/{invitation.pk}/accept/").status_code == 302
    row = EnterpriseAgent.objects.get(agent=user)
    assert invitee.post(f"/enterprise/{enterprise.pk}/act/").status_code == 302
    EnterpriseAgent.objects.filter(pk=row.pk).update(valid_until=dt.date.today() - dt.timedelta(days=1))
    assert "正在代理" not in invitee.get("/enterprise/").content.decode()
    # Accepted once: the invitation is gone from the list and cannot be accepted again.
    assert invitee.post(f"/enterprise/invitations/{invitation.pk}/accept/").status_code == 404


def test_declining_cancelling_and_lapsing(sms_sim, people):
    rep_client, enterprise = _enterprise(sms_sim, people)
    invitee = Client()
    verified(invitee, sms_sim, people, "13300000008", 5, level="1")
    for phone in ("13300000008", "13300000010", "13300000011"):
        assert _invite(rep_client, enterprise, phone).status_code == 302
    declined, cancelled, lapsed = (_invitation_for(p) for p in ("13300000008", "13300000010", "13300000011"))
    assert invitee.post(f"/enterprise/invitations/{declined.pk}/decline/").status_code == 302
    assert rep_client.post(f"/enterprise/{enterprise.pk}/invitations/{cancelled.pk}/cancel/").status_code == 302
    EnterpriseInvitation.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    page = rep_client.get(f"/enterprise/{enterprise.pk}/").content.decode()
    assert 'data-invitation="' not in page
    assert invitee.post(f"/enterprise/invitations/{declined.pk}/accept/").status_code == 404
    assert rep_client.post(f"/enterprise/{enterprise.pk}/invitations/{cancelled.pk}/cancel/").status_code == 404
    events = list(AuditEntry.objects.filter(subject_type="accounts.enterprise")
                  .values_list("details__event", flat=True))
    assert events.count("agent_invited") == 3
    assert "agent_invitation_declined" in events and "agent_invitation_cancelled" in events
    assert not EnterpriseAgent.objects.exists()


def test_inviting_again_while_pending_sends_no_second_message(sms_sim, people):
    rep_client, enterprise = _enterprise(sms_sim, people)
    for _ in range(2):
        response = _invite(rep_client, enterprise, "13300000012")
        assert response.status_code == 302
    assert EnterpriseInvitation.objects.count() == 1
    deliver()
    assert len(sms_sim.messages("13300000012")) == 1


def test_invitations_are_throttled(sms_sim, people, settings):
    settings.TONGBAN_SECURITY = dataclasses.replace(settings.TONGBAN_SECURITY, agent_invitations_per_hour=3)
    rep_client, enterprise = _enterprise(sms_sim, people)
    for i in range(3):
        assert _invite(rep_client, enterprise, f"1330000002{i}").status_code == 302
    response = _invite(rep_client, enterprise, "13300000029")
    assert response.status_code == 422 and "发送邀请过于频繁" in response.content.decode()
    assert EnterpriseInvitation.objects.count() == 3


def test_no_answer_tells_whether_a_number_has_an_account(sms_sim, people, monkeypatch):
    """The look-up this replaced told a verified account and its owner's surname (40 numbers in 0.6 s). An
    invitation gets the same answer, and takes the same work, for a verified account's number, an unverified
    account's and a number without an account."""
    from tests.accounts.test_otp_same_work import Work

    rep_client, enterprise = _enterprise(sms_sim, people)
    verified(Client(), sms_sim, people, "13300000031", 1, level="1")
    past_cooldown()
    register(Client(), sms_sim, phone="13300000032")
    work = Work(monkeypatch)
    work.measure(lambda: _invite(rep_client, enterprise, "13300000039"))  # warm-up
    seen = {}
    for phone in ("13300000031", "13300000032", "13300000033"):
        statements, calls = work.measure(lambda phone=phone: _invite(rep_client, enterprise, phone))
        page = rep_client.get(f"/enterprise/{enterprise.pk}/").content.decode()
        masked = f"{phone[:3]}****{phone[-4:]}"
        message = page.split('class="message')[1].split("</li>")[0]
        seen[phone] = (statements, calls, message.replace(masked, "#"))
    answers = list(seen.values())
    assert answers[0] == answers[1] == answers[2]
    assert people.mainland[1]["name"][0] not in answers[0][2]
    deliver()
    for phone in ("13300000031", "13300000032", "13300000033"):
        assert any("邀请您作为其经办人" in m.text for m in sms_sim.messages(phone))


def test_representative_cannot_close_account_while_enterprise_is_open(sms_sim, people):
    client = Client()
    _, person = verified(client, sms_sim, people, "13300000009", 0)
    client.post("/enterprise/register/", {"uscc": USCC, "name": "某公司", "representative_name": person["name"],
                                          "declared": "on"})
    response = client.post("/me/close/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 422 and "法定代表人" in response.content.decode()
