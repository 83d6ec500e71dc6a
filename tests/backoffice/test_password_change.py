"""The staff password change (/backoffice/password/): a wrong current password counts towards the account
lockout as a failed login does; the fifth locks the account; Django admin's own password change page leads
here instead of checking the password without the lockout."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.factories import PASSWORD, login_verified, make_officer, make_staff
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

LOCKED = "登录失败次数过多，账号已暂时锁定"
WRONG = "当前密码不正确"
NEW = "Fresh-pass-2026!"


def _change(client, current, new=NEW):
    return client.post("/backoffice/password/", {"old_password": current, "new_password1": new,
                                                 "new_password2": new})


def test_fifth_wrong_current_password_locks_the_account(client):
    client.raise_request_exception = False  # a crash must show up as the 500 a user would get
    officer = make_officer("o1")
    login_verified(client, officer)
    for _ in range(4):
        response = _change(client, "wrong")
        assert response.status_code == 422 and WRONG in response.content.decode()
    response = _change(client, "wrong")
    body = response.content.decode()
    assert response.status_code == 422, body[-2000:]
    assert LOCKED in body and "联系安全管理员解锁" in body and WRONG not in body

    officer.refresh_from_db()
    assert officer.is_locked()
    lock = AuditEntry.objects.get(subject_type="accounts.user", subject_id=str(officer.pk),
                                  details__event="account_locked")
    assert lock.action == "auth.lockout" and lock.details["until"] == officer.locked_until.isoformat()

    # While locked, the right current password is refused too, and the password stays as it was.
    response = _change(client, PASSWORD)
    assert response.status_code == 422 and LOCKED in response.content.decode()
    officer = User.objects.get(pk=officer.pk)
    assert officer.check_password(PASSWORD) and not officer.check_password(NEW)
    # The back-office login refuses the account too.
    response = Client().post("/backoffice/login/", {"username": "o1", "password": PASSWORD})
    assert response.status_code == 200 and LOCKED in response.content.decode()


def test_right_current_password_after_four_wrong_changes_it_and_resets_the_count(client):
    officer = make_officer("o1")
    login_verified(client, officer)
    for _ in range(4):
        assert _change(client, "wrong").status_code == 422
    response = _change(client, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/backoffice/"
    officer = User.objects.get(pk=officer.pk)
    assert officer.check_password(NEW) and not officer.is_locked()

    for _ in range(4):
        response = _change(client, "wrong", new="Fresher-pass-2027!")
        assert response.status_code == 422 and WRONG in response.content.decode()
    officer.refresh_from_db()
    assert not officer.is_locked()
    assert _change(client, NEW, new="Fresher-pass-2027!").status_code == 302


def test_admin_password_change_leads_to_the_back_office_page(client):
    admin = make_staff("sys", StaffRole.SYSTEM_ADMIN)
    login_verified(client, admin)
    for path in ("/admin/password_change/", "/admin/password_change/done/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/backoffice/"), path
    # A post there changes nothing.
    response = client.post("/admin/password_change/", {"old_password": "wrong", "new_password1": NEW,
                                                       "new_password2": NEW})
    assert response.status_code == 302 and response["Location"] == "/backoffice/password/"
    assert User.objects.get(pk=admin.pk).check_password(PASSWORD)
