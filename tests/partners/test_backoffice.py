"""Back-office statistics and alerts (system and security admins with the second factor), and the admin screens."""

from __future__ import annotations

import pytest

from tests.accounts.factories import login_verified, make_officer, make_staff
from tests.partners.conftest import make_partner
from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.core import clock
from tongban.partners import metering
from tongban.partners.models import AbuseAlert, AlertKind, PartnerApp

pytestmark = pytest.mark.django_db(databases="__all__")

STATS = "/backoffice/partners/stats/"
ALERTS = "/backoffice/partners/alerts/"


@pytest.fixture
def usage(db):
    province = make_partner(name="浙里办", org="浙江省公安厅", kind="province", region="330000")
    ministry = make_partner(name="部级平台", org="某部委", kind="ministry", region="")
    system = make_partner(name="交管业务系统", org="交管系统", kind="system", region="")
    today = clock.today_local()
    metering.record(app_key=province.app_id, organisation_id=province.app.organisation_id, level="l2",
                    outcome="passed", count=7, day=today)
    metering.record(app_key=province.app_id, organisation_id=province.app.organisation_id, level="l1",
                    outcome="inconsistent", count=2, day=today)
    metering.record(app_key=ministry.app_id, organisation_id=ministry.app.organisation_id, level="l1",
                    outcome="passed", count=3, day=today)
    metering.record(app_key=system.app_id, organisation_id=system.app.organisation_id, level="l2",
                    outcome="source_unavailable", count=1, day=today)
    metering.flush()
    return province, ministry, system


def test_stats_page_for_a_system_admin_with_the_second_factor(admin_client, usage):
    response = admin_client.get(STATS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "13 次" in html.replace("<strong>", "").replace("</strong>", "")
    assert "1 个省区市" in html.replace("<strong>", "").replace("</strong>", "")
    assert "1 个部委" in html.replace("<strong>", "").replace("</strong>", "")
    assert "3 个业务系统" in html.replace("<strong>", "").replace("</strong>", "")
    assert "<svg" in html and "<rect" in html and "<script" not in html
    assert "浙里办" in html and "浙江省公安厅" in html and 'id="partner-total">13<' in html


def test_stats_page_is_404_for_an_officer(client, usage):
    officer = make_officer("officer1")
    login_verified(client, officer)
    assert client.get(STATS).status_code == 404
    assert client.get(ALERTS).status_code == 404


def test_stats_page_needs_the_second_factor(client, usage):
    admin = make_staff("sysadmin2", StaffRole.SYSTEM_ADMIN)
    client.force_login(admin, backend="tongban.accounts.backends.TongbanBackend")  # password only
    response = client.get(STATS)
    assert response.status_code == 302 and "/backoffice/login/" in response["Location"]


def test_security_admin_sees_and_acknowledges_alerts(client):
    alert = AbuseAlert.objects.create(kind=AlertKind.INCONSISTENT_RATIO, app_key="pa_x", window_seconds=600,
                                      count=60, ratio=0.9)
    security = make_staff("secadmin", StaffRole.SECURITY_ADMIN)
    login_verified(client, security)
    assert client.get(STATS).status_code == 200
    page = client.get(ALERTS)
    assert page.status_code == 200 and "标记已处理" in page.content.decode()
    response = client.post(f"/backoffice/partners/alerts/{alert.pk}/ack/")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by == "secadmin"
    assert AuditEntry.objects.filter(action=Action.PARTNER_ALERT_ACK, actor_id=str(security.pk)).exists()


def test_system_admin_may_not_acknowledge(admin_client):
    alert = AbuseAlert.objects.create(kind=AlertKind.IDENTITY_VELOCITY, subject_ref="v1.x", window_seconds=3600,
                                      count=30)
    assert "标记已处理" not in admin_client.get(ALERTS).content.decode()
    assert admin_client.post(f"/backoffice/partners/alerts/{alert.pk}/ack/").status_code == 404


def test_system_admin_registers_an_app_in_the_admin(admin_client):
    from tongban.crypto.sm2 import SM2PrivateKey
    from tongban.partners.models import OrganisationKind, PartnerOrganisation

    org = PartnerOrganisation.objects.create(name="江苏省公安厅", kind=OrganisationKind.PROVINCE, region_code="320000")
    pem = SM2PrivateKey.generate().public_key().to_pem().decode()
    response = admin_client.post("/admin/partners/partnerapp/add/", {
        "organisation": org.pk, "name": "苏服办", "public_key_text": pem, "allowed_levels": ["l1", "l2"],
        "purposes": ["gov_service"], "daily_quota": 1000, "rate_per_second": 10, "rate_per_minute": 100,
        "status": "active", "contacts": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    app = PartnerApp.objects.get(name="苏服办")
    assert app.app_id.startswith("pa_") and len(bytes(app.public_key)) == 65
    assert app.allowed_levels == ["l1", "l2"] and app.purposes == ["gov_service"]
    assert AuditEntry.objects.filter(action=Action.PARTNER_APP_CHANGE, subject_id=str(app.pk)).exists()


def test_security_admin_views_apps_but_cannot_add(client):
    login_verified(client, make_staff("secadmin2", StaffRole.SECURITY_ADMIN))
    assert client.get("/admin/partners/partnerapp/").status_code == 200
    assert client.get("/admin/partners/partnerapp/add/").status_code == 403
