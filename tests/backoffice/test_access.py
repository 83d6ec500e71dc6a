"""The back office: only from configured networks (404 elsewhere), and an officer only inside their scope."""

import dataclasses
import datetime as dt

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from tests.accounts.factories import CITY_B, COUNTY_A, login_verified, make_officer, make_staff
from tongban.accounts.roles import StaffRole

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.9"


def _security(**changes):
    return override_settings(TONGBAN_SECURITY=dataclasses.replace(settings.TONGBAN_SECURITY, **changes))


@pytest.mark.parametrize("path", ["/backoffice/", "/backoffice/login/", "/backoffice", "/admin/", "/admin/login/"])
def test_from_a_disallowed_network_the_back_office_does_not_exist(client, path):
    response = client.get(path, REMOTE_ADDR=OUTSIDE)
    missing = client.get("/no-such-page/", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 404
    assert response.content == missing.content


def test_a_post_from_outside_is_404_too(client):
    assert client.post("/backoffice/login/", {"username": "x", "password": "y"},
                       REMOTE_ADDR=OUTSIDE).status_code == 404


def test_a_turned_away_request_is_audited(client):
    """core.security's gate sends `network_denied`; tongban.accounts records it (core imports no domain app)."""
    from tongban.audit.models import AuditEntry

    client.get("/backoffice/", REMOTE_ADDR=OUTSIDE)
    entry = AuditEntry.objects.get(details__event="network_denied")
    assert entry.action == "auth.network.denied" and entry.outcome == "denied"


def test_the_portal_stays_public(client):
    assert client.get("/", REMOTE_ADDR=OUTSIDE).status_code == 200


@_security(backoffice_networks=("10.20.0.0/16",))
def test_configured_network_is_let_in(client):
    assert client.get("/backoffice/login/", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/backoffice/login/", REMOTE_ADDR="127.0.0.1").status_code == 404


@_security(backoffice_networks=("10.20.0.0/16",), trusted_proxies=("192.0.2.10/32",))
def test_forwarded_for_is_believed_only_from_trusted_proxies(client):
    # A client outside writes an internal address into X-Forwarded-For itself.
    spoof = {"HTTP_X_FORWARDED_FOR": "10.20.3.4"}
    assert client.get("/backoffice/login/", REMOTE_ADDR=OUTSIDE, **spoof).status_code == 404
    # Through our proxy the spoofed value sits to the left of the real client address.
    chained = {"HTTP_X_FORWARDED_FOR": f"10.20.3.4, {OUTSIDE}"}
    assert client.get("/backoffice/login/", REMOTE_ADDR="192.0.2.10", **chained).status_code == 404
    # An internal client through the proxy.
    assert client.get("/backoffice/login/", REMOTE_ADDR="192.0.2.10",
                      HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 200


@pytest.fixture
def scoped(client):
    me = make_officer("hz-hukou")
    make_officer("xh-hukou", region_code=COUNTY_A)
    make_officer("hz-traffic", department="traffic", region_code=COUNTY_A,
                 locked_until=timezone.now() + dt.timedelta(minutes=5))
    make_officer("nj-hukou", region_code=CITY_B)
    login_verified(client, me)
    return me


def test_officer_list_shows_only_own_scope(client, scoped):
    body = client.get("/backoffice/staff/").content.decode()
    assert "xh-hukou" in body and "hz-traffic" not in body and "nj-hukou" not in body


@pytest.mark.parametrize("username", ["hz-traffic", "nj-hukou", "does-not-exist"])
def test_officer_outside_scope_gets_not_found(client, scoped, username):
    response = client.get(f"/backoffice/staff/{username}/")
    assert response.status_code == 404
    assert response.content == client.get("/backoffice/staff/does-not-exist/").content


def test_officer_cannot_act_outside_scope_or_role(client, scoped):
    for username in ("hz-traffic", "xh-hukou"):
        assert client.post(f"/backoffice/staff/{username}/unlock/").status_code == 404


def test_security_admin_sees_everyone_and_unlocks(client):
    target = make_officer("hz-traffic", department="traffic", region_code=COUNTY_A,
                          locked_until=timezone.now() + dt.timedelta(minutes=5))
    login_verified(client, make_staff("sec", StaffRole.SECURITY_ADMIN))
    assert "hz-traffic" in client.get("/backoffice/staff/").content.decode()
    assert client.post("/backoffice/staff/hz-traffic/unlock/").status_code == 302
    target.refresh_from_db()
    assert not target.is_locked()


def test_system_admin_sees_no_staff(client):
    login_verified(client, make_staff("sys", StaffRole.SYSTEM_ADMIN))
    make_officer("o1")
    assert client.get("/backoffice/staff/o1/").status_code == 404
