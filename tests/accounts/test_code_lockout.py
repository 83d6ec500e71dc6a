"""A wrong login code counts towards the account lockout exactly as a wrong password does: one budget of
TONGBAN_LOGIN_MAX_FAILURES per account for passwords (by phone or by account name) and codes mixed in any
order, in the same account counter and the same client-address counter; while locked even the right code
is refused; the right code resets the count. The SSO sign-in-again page counts a wrong code once. The
automatic lock leaves the account's open sessions alone."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from tests.accounts.conftest import code_for
from tests.accounts.lockout_checks import LOCKED
from tests.accounts.test_citizen_flows import PASSWORD, PHONE, register
from tongban.accounts import citizens, lockout
from tongban.accounts.conf import security
from tongban.accounts.models import LoginSession, OneTimeCode, User
from tongban.audit.models import AuditEntry
from tongban.core import ratelimit
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db(databases="__all__")

WRONG_PASSWORD = "手机号或密码不正确"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def _account_failures(user: User) -> float:
    """The account's failure count (a sliding-window estimate: rounded, as a test may cross a window)."""
    conf = security()
    return round(ratelimit.peek(lockout._account_key(user.username), limit=conf.login_max_failures,
                                window=conf.login_failure_window).count)


def _address_failures(ip: str = "127.0.0.1") -> float:
    conf = security()
    return round(ratelimit.peek(lockout._ip_key(ip), limit=conf.login_ip_max_failures,
                                window=conf.login_failure_window).count)


def _failed_entries(user: User) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk),
                                          details__event="login_failed").order_by("pk"))


def _send_code(browser: Client, sim) -> str:
    OneTimeCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))  # past the resend cooldown
    assert browser.post("/login/code/", {"phone": PHONE}).status_code == 302
    return code_for(sim, PHONE)


def _post_code(browser: Client, code: str):
    return browser.post("/login/code/verify/", {"code": code})


def _signed_up(sim) -> User:
    owner = Client()
    user = register(owner, sim)
    owner.post("/logout/")
    return user


def test_passwords_and_codes_mixed_share_one_budget(sms_sim):
    user = _signed_up(sms_sim)
    attacker = Client()
    # Two wrong passwords by phone, one by account name, one wrong code: four failures, one counter.
    for identifier in (PHONE, PHONE, user.username):
        response = attacker.post("/login/", {"username": identifier, "password": "wrong-guess"})
        assert response.status_code == 422 and WRONG_PASSWORD in response.content.decode()
    code = _send_code(attacker, sms_sim)
    response = _post_code(attacker, _wrong(code))
    assert response.status_code == 422 and "验证码不正确，还可尝试 4 次" in response.content.decode()
    assert _account_failures(user) == 4 and _address_failures() == 4
    user.refresh_from_db()
    assert not user.is_locked()
    # The fifth wrong secret — a code — locks the account row.
    response = _post_code(attacker, _wrong(code))
    assert response.status_code == 422 and LOCKED in response.content.decode()
    user.refresh_from_db()
    assert user.is_locked() and user.is_active
    failures = _failed_entries(user)
    assert [e.details["reason"] for e in failures] == ["bad_credentials"] * 3 + ["sms_code"] * 2
    assert [round(float(e.details["failures"])) for e in failures] == [1, 2, 3, 4, 5]
    lock = AuditEntry.objects.get(subject_id=str(user.pk), details__event="account_locked")
    assert lock.action == "auth.lockout" and lock.details["until"] == user.locked_until.isoformat()
    # Now the right password is refused too, by phone and by account name.
    for identifier in (PHONE, user.username):
        response = Client().post("/login/", {"username": identifier, "password": PASSWORD})
        assert response.status_code != 302 and LOCKED in response.content.decode()


def test_codes_first_then_a_password_locks(sms_sim):
    user = _signed_up(sms_sim)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    for left in (4, 3, 2, 1):
        response = _post_code(attacker, _wrong(code))
        assert f"还可尝试 {left} 次" in response.content.decode()
    assert _account_failures(user) == 4
    response = attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
    assert LOCKED in response.content.decode()
    user.refresh_from_db()
    assert user.is_locked()


def test_codes_across_tickets_lock_after_the_limit(sms_sim):
    """A new code does not start a new budget: the account counter, not the ticket's tries, decides."""
    user = _signed_up(sms_sim)
    attacker = Client()
    first = _send_code(attacker, sms_sim)
    for _ in range(3):
        _post_code(attacker, _wrong(first))
    second = _send_code(attacker, sms_sim)
    assert "还可尝试 4 次" in _post_code(attacker, _wrong(second)).content.decode()
    response = _post_code(attacker, _wrong(second))
    assert LOCKED in response.content.decode()
    user.refresh_from_db()
    assert user.is_locked()


def test_while_locked_the_right_code_is_refused_and_not_used_up(sms_sim):
    user = _signed_up(sms_sim)
    for _ in range(security().login_max_failures):
        Client().post("/login/", {"username": PHONE, "password": "wrong-guess"})
    user.refresh_from_db()
    assert user.is_locked()
    owner = Client()
    code = _send_code(owner, sms_sim)
    response = _post_code(owner, code)
    assert response.status_code == 422 and LOCKED in response.content.decode()
    assert owner.get("/me/").status_code == 302  # not signed in
    ticket = OneTimeCode.objects.filter(purpose="login").order_by("-pk").first()
    assert ticket.consumed_at is None and ticket.attempts == 0  # not even checked
    refused = AuditEntry.objects.filter(subject_id=str(user.pk), details__event="login_refused",
                                        details__via="sms_code")
    assert refused.count() == 1 and refused.get().action == "auth.login.refused"
    # Wrong codes while locked are refused the same way and count nothing more.
    before = _account_failures(user)
    assert LOCKED in _post_code(owner, _wrong(code)).content.decode()
    assert _account_failures(user) == before


def test_the_right_code_resets_the_count(sms_sim):
    user = _signed_up(sms_sim)
    attacker = Client()
    for _ in range(4):
        attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
    assert _account_failures(user) == 4
    owner = Client()
    code = _send_code(owner, sms_sim)
    assert _post_code(owner, code).status_code == 302 and owner.get("/me/").status_code == 200
    assert _account_failures(user) == 0
    for _ in range(4):
        response = attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
        assert WRONG_PASSWORD in response.content.decode()
    user.refresh_from_db()
    assert not user.is_locked()


def test_a_malformed_code_or_a_dead_ticket_is_not_a_guess(sms_sim):
    user = _signed_up(sms_sim)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    assert _post_code(attacker, "12ab").status_code == 422
    assert _account_failures(user) == 0
    assert _post_code(attacker, code).status_code == 302  # used up now
    attacker.post("/logout/")
    assert _account_failures(user) == 0
    with pytest.raises(TongbanError) as exc:
        request = RequestFactory().post("/login/code/verify/")
        citizens.citizen_login_code(request=request, ticket_id=OneTimeCode.objects.get(purpose="login").pk,
                                    code=_wrong(code))
    assert exc.value.code == "otp_expired" and _account_failures(user) == 0


def test_a_phone_without_an_account_is_counted_and_locked_the_same_way(sms_sim):
    """No account: the code is never sent, but guesses against the ticket count under the phone's keyed
    reference and lock it the same way, so the answers do not tell whether the number has an account."""
    attacker = Client()
    assert attacker.post("/login/code/", {"phone": "13700001111"}).status_code == 302
    answers = [_post_code(attacker, "000000").content.decode() for _ in range(6)]
    assert all("验证码不正确" in a for a in answers[:4])
    assert LOCKED in answers[4] and LOCKED in answers[5]


def test_log_lines_and_audit_details_hold_no_phone(sms_sim, caplog):
    user = _signed_up(sms_sim)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    with caplog.at_level(logging.DEBUG):
        for _ in range(security().login_max_failures):
            _post_code(attacker, _wrong(code))
    logged = " ".join(str(r.msg) + str(r.args) + str(getattr(r, "__dict__", "")) for r in caplog.records)
    assert PHONE not in logged and PHONE[-8:] not in logged
    for entry in AuditEntry.objects.filter(subject_id=str(user.pk)):
        assert PHONE not in str(entry.details) and PHONE[-8:] not in str(entry.details)


def test_the_sso_sign_in_again_page_counts_a_wrong_code_once(sms_sim):
    """tongban.sso.services.reauth_code_check goes through citizen_login_code, which counts the wrong code:
    once per request, in the account and the address counters."""
    from django.contrib.sessions.backends.db import SessionStore

    from tongban.sso.services import reauth_code_check, reauth_code_send

    user = _signed_up(sms_sim)

    def request():
        req = RequestFactory().post("/o/authorize/login/", REMOTE_ADDR="198.51.100.20")
        req.session = SessionStore()
        req.user = user
        return req

    ticket = reauth_code_send(user=user, request=request())
    code = code_for(sms_sim, PHONE)
    for n in (1, 2, 3, 4):
        with pytest.raises(TongbanError) as exc:
            reauth_code_check(user=user, request=request(), ticket_id=ticket.id, code=_wrong(code))
        assert exc.value.code == "otp_invalid"
        assert _account_failures(user) == n and _address_failures("198.51.100.20") == n
        assert len(_failed_entries(user)) == n
    with pytest.raises(TongbanError) as exc:
        reauth_code_check(user=user, request=request(), ticket_id=ticket.id, code=_wrong(code))
    assert exc.value.code == "login_locked"
    user.refresh_from_db()
    assert user.is_locked() and len(_failed_entries(user)) == 5


def test_the_automatic_lock_leaves_open_sessions_alone(sms_sim):
    """Anyone who knows the phone can lock the account by guessing wrong; if that ended its sessions they
    could sign the owner out at will. The owner's signed-in browser stays signed in."""
    owner = Client()
    user = register(owner, sms_sim)
    assert owner.get("/me/").status_code == 200
    row = LoginSession.objects.get(user=user)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    for _ in range(2):
        _post_code(attacker, _wrong(code))
    for _ in range(3):
        attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
    user.refresh_from_db()
    assert user.is_locked()
    assert owner.get("/me/").status_code == 200
    assert LoginSession.objects.filter(pk=row.pk).exists()
    from importlib import import_module

    from django.conf import settings

    assert import_module(settings.SESSION_ENGINE).SessionStore().exists(row.session_key)
    assert not AuditEntry.objects.filter(subject_id=str(user.pk), details__event="sessions_ended").exists()
