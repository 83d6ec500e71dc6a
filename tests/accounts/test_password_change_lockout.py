"""A wrong current password on the citizen's change-password page (/me/password/) counts towards the
account lockout, as at /me/phone/ and /me/close/: the fifth locks the account with a page, never a 500;
the right one before that resets the count, as a login does."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.lockout_checks import (
    LOCKED,
    assert_locked_and_audited,
    assert_right_password_resets_the_count,
    fail_until_locked,
)
from tests.accounts.test_citizen_flows import PASSWORD, PHONE, register
from tongban.accounts.models import User
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")

WRONG = "当前密码不正确"
NEW = "Citizen-2027-pw"


def _change(client, current, new=NEW):
    return client.post("/me/password/", {"old_password": current, "password": new, "password2": new})


def test_fifth_wrong_current_password_locks_the_account(client, sms_sim):
    client.raise_request_exception = False  # a crash must show up as the 500 a visitor would get
    user = register(client, sms_sim)
    fail_until_locked(lambda: _change(client, "wrong"), WRONG)
    assert_locked_and_audited(user)
    failures = AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk),
                                         details__event="login_failed", details__reason="password_change")
    assert failures.count() == 5

    # While locked, the right current password is refused too, and the password stays as it was.
    response = _change(client, PASSWORD)
    assert response.status_code == 422 and LOCKED in response.content.decode()
    user = User.objects.get(pk=user.pk)
    assert user.check_password(PASSWORD) and not user.check_password(NEW)
    assert not AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk),
                                         details__event="password_changed").exists()
    # The lock is on the account row: signing in by phone elsewhere is refused as well.
    response = Client().post("/login/", {"username": PHONE, "password": PASSWORD})
    assert response.status_code != 302 and LOCKED in response.content.decode()


def test_right_current_password_after_four_wrong_changes_it_and_resets_the_count(client, sms_sim):
    user = register(client, sms_sim)
    assert_right_password_resets_the_count(lambda current, new=NEW: _change(client, current, new), user,
                                           password=PASSWORD, new=NEW, newer="Citizen-2028-pw",
                                           wrong_message=WRONG, done_at="/me/")


def test_a_rejected_new_password_is_shown_by_the_new_password(client, sms_sim):
    register(client, sms_sim)
    response = _change(client, PASSWORD, new=PASSWORD)
    body = response.content.decode()
    assert response.status_code == 422 and "新密码不能与当前密码相同" in body and LOCKED not in body
