"""The risk engine's shipped rules, their automatic responses and the lifting of each by a security admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.accounts.factories import login_verified, make_citizen, make_officer, make_staff
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.notifications.models import AccountMessage
from tongban.risk import engine, services
from tongban.risk.models import Alert, Block, BlockStatus, ExportTicket, Incident, Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def secadmin():
    return make_staff("sec1", StaffRole.SECURITY_ADMIN)


def _login(client: Client, phone: str, password: str = "wrong-password-1", ip: str = "203.0.113.9"):
    return client.post("/login/", {"username": phone, "password": password}, REMOTE_ADDR=ip)


def test_credential_stuffing_throttles_the_address_until_a_security_admin_lifts_it(client, secadmin):
    citizen = make_citizen("c-target", password="Citizen-2026-pw")
    for i in range(10):
        _login(client, f"nobody{i}")
    alert = Alert.objects.get(rule__code="credential_stuffing")
    assert alert.key == "203.0.113.9" and alert.evidence["accounts"] == 10
    block = Block.objects.get(kind="throttle", target="address:203.0.113.9", status=BlockStatus.ACTIVE)
    # The right password from that address is refused now; from another it is not.
    refused = _login(client, citizen.username, "Citizen-2026-pw")
    assert "锁定" in refused.content.decode() or refused.status_code == 429
    assert not User.objects.get(pk=citizen.pk).is_locked()
    # Lifting needs a reason and a security admin, and is audited.
    with pytest.raises(TongbanError):
        services.response_lift(block=block, actor=secadmin, reason=" ")
    with pytest.raises(TongbanError):
        services.response_lift(block=block, actor=make_officer("o9"), reason="误报")
    services.response_lift(block=block, actor=secadmin, reason="演练结束")
    assert Block.objects.get(pk=block.pk).status == BlockStatus.LIFTED
    assert AuditEntry.objects.filter(action=Action.RISK_RESPONSE_LIFT, details__reason="演练结束").exists()
    ok = _login(client, citizen.username, "Citizen-2026-pw")
    assert ok.status_code == 302
    # The alert reached the security admin's message centre.
    assert AccountMessage.objects.filter(user_id=secadmin.pk, source_key__startswith="risk-alert-").exists()


def test_password_spraying_asks_the_targeted_accounts_for_a_second_factor(client, secadmin):
    Rule.objects.filter(code="password_spraying").update(threshold=6, params={"min_addresses": 3})
    Rule.objects.filter(code="credential_stuffing").update(enabled=False)
    engine.rules_forget()
    victim = make_citizen("c-victim", password="Citizen-2026-pw")
    for i in range(5):
        _login(client, f"spray{i}", ip=f"198.51.100.{i + 1}")
    _login(client, victim.username, ip="198.51.100.77")
    alert = Alert.objects.get(rule__code="password_spraying")
    assert alert.evidence["accounts"] == 6 and alert.evidence["addresses"] == 6
    refused = _login(client, victim.username, "Citizen-2026-pw", ip="192.0.2.1")
    assert "短信验证码" in refused.content.decode()
    from tongban.accounts.events import username_digest
    block = Block.objects.get(kind="second_factor", target=f"account:{username_digest(victim.username)}")
    services.response_lift(block=block, actor=secadmin, reason="已与本人核实")
    assert _login(client, victim.username, "Citizen-2026-pw", ip="192.0.2.1").status_code == 302


def _verification(app: str, ref: str, inconsistent: bool):
    audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(app), subject=Subject("identity", ref),
                 details={"app": app, "passed": not inconsistent,
                          "verdicts": ["id_number=consistent", f"name={'inconsistent' if inconsistent else 'consistent'}"]})


def test_one_id_number_from_many_apps_raises_an_alert():
    for i in range(5):
        _verification(f"app{i}", "ref-abc", inconsistent=False)
    alert = Alert.objects.get(rule__code="id_many_apps")
    assert alert.key == "ref-abc" and len(alert.evidence["apps"]) == 5


def test_an_enumerating_app_is_paused_then_its_key_suspended(secadmin):
    from tests.partners.conftest import make_partner
    from tongban.partners import abuse
    from tongban.partners.models import PartnerApp

    Rule.objects.filter(code="inconsistent_ratio").update(params={"min_sample": 10, "suspend_after": 2})
    partner = make_partner()
    for i in range(10):
        _verification(partner.app_id, f"ref-{i}", inconsistent=i >= 4)
    pause = Block.objects.get(kind="throttle", target=f"app:{partner.app_id}")
    assert abuse.app_throttled_for(partner.app_id) > 0
    services.response_lift(block=pause, actor=secadmin, reason="对方已说明")
    assert abuse.app_throttled_for(partner.app_id) == 0
    for i in range(10):  # caught again the same day: the key is suspended
        _verification(partner.app_id, f"ref2-{i}", inconsistent=i >= 4)
    assert PartnerApp.objects.get(app_id=partner.app_id).status == "suspended"
    block = Block.objects.get(kind="suspend_app", target=f"app:{partner.app_id}")
    services.response_lift(block=block, actor=secadmin, reason="对方已整改")
    assert PartnerApp.objects.get(app_id=partner.app_id).status == "active"


def test_an_officer_reading_far_more_than_peers_is_locked(secadmin):
    Rule.objects.filter(code="officer_reads_zscore").update(params={"min_reads": 30, "min_peers": 3, "check_every": 10})
    Rule.objects.filter(code="off_hours_reads").update(enabled=False)
    engine.rules_forget()
    peers = [make_officer(f"p{i}") for i in range(4)]
    for n, peer in enumerate(peers):
        for _ in range(2 + n):
            audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(peer), subject=Subject("cases.case", 1))
    reader = make_officer("greedy")
    for _ in range(30):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(reader), subject=Subject("cases.case", 1))
    alert = Alert.objects.get(rule__code="officer_reads_zscore")
    assert alert.evidence["reads"] == 30 and alert.evidence["z"] >= 3
    reader.refresh_from_db()
    assert reader.is_locked()
    services.response_lift(block=Block.objects.get(kind="lock_account", target=f"user:{reader.pk}"),
                           actor=secadmin, reason="经核实为批量补录")
    reader.refresh_from_db()
    assert not reader.is_locked()


def test_reads_outside_working_hours(monkeypatch):
    monkeypatch.setattr(engine, "off_hours", lambda at, start, end: True)
    officer = make_officer("night")
    for _ in range(10):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(officer), subject=Subject("cases.case", 1))
    assert Alert.objects.get(rule__code="off_hours_reads").evidence["reads_off_hours"] == 10


def test_off_hours_follows_the_working_day_calendar():
    saturday_noon = dt.datetime(2026, 12, 5, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai, a Saturday
    monday_ten = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    monday_night = dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)  # 22:00
    assert engine.off_hours(saturday_noon, 8, 20)
    assert not engine.off_hours(monday_ten, 8, 20)
    assert engine.off_hours(monday_night, 8, 20)


def test_a_large_export_is_held_until_approved_and_then_watermarked(client, secadmin):
    Rule.objects.filter(code="export_large").update(threshold=-1)  # even an empty export
    engine.rules_forget()
    editor = make_staff("ed1", StaffRole.CATALOG_EDITOR, department="hukou", region_code="330000")
    login_verified(client, editor)
    held = client.get("/backoffice/catalog/export.json")
    assert held.status_code == 403
    ticket = ExportTicket.objects.get(requester=editor)
    assert ticket.status == "pending"
    services.response_lift(block=ticket.block, actor=secadmin, reason="年度核查需要")
    passed = client.get("/backoffice/catalog/export.json")
    assert passed.status_code == 200
    assert f"by=user:{editor.pk}(ed1)" in passed.json()["watermark"]
    assert ExportTicket.objects.get(pk=ticket.pk).status == "used"
    assert client.get("/backoffice/catalog/export.json").status_code == 403  # a ticket serves once


def test_staff_login_from_a_new_network():
    staff = make_officer("roamer")
    for ip in ("10.1.2.3", "10.1.2.99", "172.16.5.5"):
        audit_record(action=Action.AUTH_LOGIN_SUCCESS, actor=Actor.user(staff), subject=Subject("accounts.user", staff.pk),
                     client_address=ip, details={"kind": "staff"})
    alerts = Alert.objects.filter(rule__code="staff_new_network")
    assert [a.evidence["network"] for a in alerts] == ["172.16.5.0/24"]


def test_an_audit_chain_failure_opens_an_incident_that_runs_the_plan(secadmin):
    audit_record(action=Action.AUDIT_VERIFY, outcome="failure", actor=Actor.cli(), subject=Subject("audit.log", ""),
                 details={"broken_chains": 1})
    alert = Alert.objects.get(rule__code="audit_chain_failure")
    assert alert.severity == "critical"
    incident = Incident.objects.get(alert=alert)
    for note in ("隔离数据库写入", "从备份恢复并重新校验", "复盘完成"):
        incident = services.incident_advance(incident=incident, actor=secadmin, note=note)
    assert incident.status == "reviewed"
    assert [e.status for e in incident.timeline.all()] == ["open", "contained", "resolved", "reviewed"]
    with pytest.raises(TongbanError):
        services.incident_advance(incident=incident, actor=secadmin, note="再推进")


def test_the_console_is_for_security_admins_only(client, secadmin):
    _verification("appx", "ref-console", inconsistent=False)
    login_verified(client, secadmin)
    page = client.get("/backoffice/risk/")
    assert page.status_code == 200 and "安全风险预警" in page.content.decode()
    other = Client()
    login_verified(other, make_officer("o-console"))
    assert other.get("/backoffice/risk/").status_code == 404


def test_a_citizen_sees_who_verified_their_identity(client):
    from tests.partners.conftest import make_partner
    from tongban.accounts.models import CitizenProfile

    citizen = make_citizen("c-history")
    CitizenProfile.objects.create(user=citizen, phone="13800138000", id_type="resident_id", name="张三",
                                  id_number="11010519491231002X", person_key="11010519491231002X", level=2)
    from tongban.verification.services import identity_reference

    partner = make_partner(name="开户核验", org="某商业银行")
    audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(partner.app_id),
                 subject=Subject("identity", identity_reference("resident_id", "11010519491231002X")),
                 details={"app": partner.app_id, "purpose": "gov_service", "passed": True})
    client.force_login(citizen)
    page = client.get("/me/").content.decode()
    assert "某商业银行" in page and "开户核验" in page and "政务服务办理" in page
    assert "11010519491231002X" not in page


def test_a_citizen_reading_their_own_data_is_not_counted(monkeypatch):
    monkeypatch.setattr(engine, "off_hours", lambda at, start, end: True)
    citizen, officer = make_citizen("c-self"), make_officer("o-self")
    for _ in range(10):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(officer), subject=Subject("cases.case", 1))
    assert Alert.objects.filter(key=f"user:{officer.pk}").count() == 1  # the same reads by staff do count
    for _ in range(12):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(citizen), subject=Subject("accounts.user", citizen.pk))
    assert not Alert.objects.filter(key=f"user:{citizen.pk}").exists()
