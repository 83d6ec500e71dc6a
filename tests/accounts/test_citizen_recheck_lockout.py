"""The password asked again on the account pages (change phone, close) counts towards the lockout: the
fifth wrong one locks the account with a page, never a 500 (the views pass request.user, a lazy object)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.lockout_checks import LOCKED, assert_locked_and_audited, fail_until_locked
from tests.accounts.test_citizen_flows import PASSWORD, PHONE, register
from tongban.accounts.models import CitizenProfile, User

pytestmark = pytest.mark.django_db(databases="__all__")

WRONG = "登录密码不正确"

PAGES = [
    pytest.param("/me/phone/", lambda password: {"phone": "13512345678", "password": password}, id="change-phone"),
    pytest.param("/me/close/", lambda password: {"password": password, "confirm": "on"}, id="close"),
]


@pytest.mark.parametrize(("path", "form"), PAGES)
def test_fifth_wrong_password_locks_the_account_with_a_page(client, sms_sim, path, form):
    client.raise_request_exception = False  # a crash must show up as the 500 a visitor would get
    user = register(client, sms_sim)
    fail_until_locked(lambda: client.post(path, form("wrong")), WRONG)
    assert_locked_and_audited(user)

    # While locked, the right password is refused too, and nothing is changed.
    response = client.post(path, form(PASSWORD))
    assert response.status_code == 422 and LOCKED in response.content.decode()
    profile = CitizenProfile.objects.get(user=user)
    assert profile.phone == PHONE and profile.closed_at is None
    assert User.objects.get(pk=user.pk).is_active
    # The lock is on the account row, so signing in by phone elsewhere is refused as well.
    response = Client().post("/login/", {"username": PHONE, "password": PASSWORD})
    assert response.status_code != 302 and LOCKED in response.content.decode()
