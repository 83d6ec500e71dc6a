"""The security admin's account screens in Django admin go through the services."""

import pytest

from tests.accounts.factories import login_verified, make_officer, make_staff
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def sec_client(client):
    login_verified(client, make_staff("sec", StaffRole.SECURITY_ADMIN))
    return client


def test_pages_render(sec_client):
    officer = make_officer("o1")
    for path in ("/admin/accounts/user/", "/admin/accounts/user/add/", f"/admin/accounts/user/{officer.pk}/change/"):
        assert sec_client.get(path).status_code == 200, path


def test_create_officer_in_admin(sec_client):
    response = sec_client.post("/admin/accounts/user/add/", {
        "username": "p200", "role_officer": "on", "department": "exit_entry", "region_code": "330100",
        "is_active": "on", "password1": "Temporary-pass-2026"})
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="p200")
    assert user.roles == {StaffRole.OFFICER} and user.must_change_password and user.kind == "staff"


def test_conflicting_roles_are_refused_in_admin(sec_client):
    target = make_staff("sys", StaffRole.SYSTEM_ADMIN)
    response = sec_client.post(f"/admin/accounts/user/{target.pk}/change/", {
        "username": "sys", "role_system_admin": "on", "role_audit_admin": "on", "department": "",
        "region_code": "", "is_active": "on"})
    assert response.status_code == 200 and "职责分离" in response.content.decode()
    target.refresh_from_db()
    assert target.roles == {StaffRole.SYSTEM_ADMIN}


def test_accounts_cannot_be_deleted(sec_client):
    officer = make_officer("o1")
    assert sec_client.get(f"/admin/accounts/user/{officer.pk}/delete/").status_code == 403
