"""Lockout after repeated failures (default 5), the unlock path, per-address limits, no username oracle."""

import time

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client, RequestFactory

from tests.accounts.factories import PASSWORD, device_of, make_officer, make_staff, totp_code
from tongban.accounts import services
from tongban.accounts.backends import REFUSAL_ATTR
from tongban.accounts.roles import StaffRole

pytestmark = pytest.mark.django_db


def _try(username, password, ip="127.0.0.1"):
    request = RequestFactory().post("/backoffice/login/", REMOTE_ADDR=ip)
    user = authenticate(request, username=username, password=password)
    return user, getattr(request, REFUSAL_ATTR, None)


def test_five_failures_lock_the_account_even_for_the_right_password():
    user = make_officer("o1")
    for _ in range(4):
        assert _try("o1", "wrong") == (None, "bad_credentials")
    assert _try("o1", "wrong") == (None, "locked")
    assert _try("o1", PASSWORD) == (None, "locked")
    user.refresh_from_db()
    assert user.is_locked()


def test_an_unknown_username_answers_exactly_the_same():
    answers = [_try("nobody", "wrong")[1] for _ in range(6)]
    assert answers == ["bad_credentials"] * 4 + ["locked", "locked"]


def test_a_staff_password_alone_does_not_reset_the_count():
    """For staff the right password is half a sign-in: the count is reset by the second factor
    (tests/backoffice/test_login.py::test_a_full_sign_in_clears_the_count), not here."""
    user = make_officer("o1")
    for _ in range(4):
        _try("o1", "wrong")
    assert _try("o1", PASSWORD)[0] == user
    assert _try("o1", "wrong")[1] == "locked"


def test_security_admin_unlocks():
    user = make_officer("o1")
    for _ in range(5):
        _try("o1", "wrong")
    services.account_unlock(actor=make_staff("sec", StaffRole.SECURITY_ADMIN), user=user)
    user.refresh_from_db()
    assert not user.is_locked()
    assert _try("o1", PASSWORD)[0] == user


def test_unlock_command():
    make_officer("o1")
    for _ in range(5):
        _try("o1", "wrong")
    call_command("staff", "unlock", "o1")
    assert _try("o1", PASSWORD)[0] is not None


def test_other_roles_cannot_unlock():
    from tongban.core.errors import TongbanError

    user = make_officer("o1")
    with pytest.raises(TongbanError):
        services.account_unlock(actor=make_staff("sys", StaffRole.SYSTEM_ADMIN), user=user)


def _rule(code, **values):
    """Set a lockout rule's numbers (they are risk rules, read through the engine's cached rule set)."""
    from tongban.risk import engine
    from tongban.risk.models import Rule

    assert Rule.objects.filter(code=code).update(**values) == 1
    engine.rules_forget()


def test_lock_runs_out_by_itself_and_the_threshold_is_configurable():
    _rule("login_lockout", response_seconds=1, threshold=3)
    user = make_officer("o1")
    for _ in range(3):
        _try("o1", "wrong")
    assert _try("o1", PASSWORD)[1] == "locked"
    time.sleep(1.2)
    from tongban.accounts.lockout import login_counters_clear

    login_counters_clear("o1")  # the failure window is longer than the lock; the lock itself ran out
    assert _try("o1", PASSWORD)[0] == user
    # The full sign-in (the second factor too) clears the run-out lock from the row.
    client = Client()
    client.post("/backoffice/login/", {"username": "o1", "password": PASSWORD})
    assert client.post("/backoffice/login/totp/", {"token": totp_code(device_of(user))})["Location"] == "/backoffice/"
    user.refresh_from_db()
    assert user.locked_until is None


def test_one_address_spraying_many_usernames_is_stopped():
    _rule("login_address_failures", threshold=6)
    make_officer("o1")
    for i in range(6):
        _try(f"guess{i}", "wrong", ip="10.1.1.1")
    assert _try("o1", PASSWORD, ip="10.1.1.1") == (None, "locked")
    assert _try("o1", PASSWORD, ip="10.1.1.2")[0] is not None  # another address is not affected


def test_lock_accepts_the_lazy_request_user():
    """Views pass request.user (a SimpleLazyObject): the lock still reaches the account row."""
    from django.utils.functional import SimpleLazyObject

    from tongban.accounts.lockout import account_lock, login_locked

    user = make_officer("o1")
    lazy = SimpleLazyObject(lambda: user)
    until = account_lock(username="o1", user=lazy)
    assert lazy.locked_until == until and login_locked("o1", lazy)
    user.refresh_from_db()
    assert user.locked_until == until and user.is_locked()


def test_the_password_asked_again_is_refused_from_a_blocked_address():
    """password_recheck (the change-password, change-phone and close pages) keeps the login's per-address
    limit: from an address that has failed too often even the right password is refused."""
    _rule("login_address_failures", threshold=6)
    from tongban.accounts.lockout import STAFF_LOCKED_MESSAGE, password_recheck
    from tongban.core.errors import TongbanError

    officer = make_officer("o1")
    for i in range(6):
        _try(f"guess{i}", "wrong", ip="10.1.1.1")
    with pytest.raises(TongbanError) as exc:
        password_recheck(user=officer, password=PASSWORD,
                         request=RequestFactory().post("/backoffice/password/", REMOTE_ADDR="10.1.1.1"))
    assert exc.value.code == "login_locked" and exc.value.message("zh") == STAFF_LOCKED_MESSAGE
    password_recheck(user=officer, password=PASSWORD,
                     request=RequestFactory().post("/backoffice/password/", REMOTE_ADDR="10.1.1.2"))
    officer.refresh_from_db()
    assert not officer.is_locked()  # the address was refused, the account itself is not locked
