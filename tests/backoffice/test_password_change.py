"""The staff password change (/backoffice/password/): a wrong current password counts towards the account
lockout as a failed login does; the fifth locks the account; Django admin's own password change page leads
here instead of checking the password without the lockout."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.factories import PASSWORD, login_verified, make_officer, make_staff
from tests.accounts.lockout_checks import (
    LOCKED,
    assert_locked_and_audited,
    assert_right_password_resets_the_count,
    fail_until_locked,
)
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole

pytestmark = pytest.mark.django_db

WRONG = "当前密码不正确"
NEW = "Fresh-pass-2026!"


def _change(client, current, new=NEW):
    return client.post("/backoffice/password/", {"old_password": current, "new_password1": new,
                                                 "new_password2": new})


def test_fifth_wrong_current_password_locks_the_account(client):
    client.raise_request_exception = False  # a crash must show up as the 500 a user would get
    officer = make_officer("o1")
    login_verified(client, officer)
    body = fail_until_locked(lambda: _change(client, "wrong"), WRONG)
    assert "联系安全管理员解锁" in body
    assert_locked_and_audited(officer)

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
    assert_right_password_resets_the_count(lambda current, new=NEW: _change(client, current, new), officer,
                                           password=PASSWORD, new=NEW, newer="Fresher-pass-2027!",
                                           wrong_message=WRONG, done_at="/backoffice/")


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
