"""Wrong login codes and the lockout (issue 11, item 17): a code is a challenge of its own — five tries, then
burnt — and a wrong one counts against the client address that sent it, never against the account. Anyone who
knows a phone number can ask for a code and guess wrong; when those guesses counted in the account's lockout,
five of them locked the owner out for 30 minutes. Neither does the password lock (anyone can cause it too)
stop the owner signing in with a fresh code to the phone they hold. Passwords keep their one budget per
account (by phone, by account name, asked again); the SSO sign-in-again page follows the same rules."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, RequestFactory

from tests.accounts.conftest import code_for, past_cooldown
from tests.accounts.lockout_checks import LOCKED
from tests.accounts.test_citizen_flows import PASSWORD, PHONE, register
from tongban.accounts import citizens, lockout
from tongban.accounts.models import LoginSession, OneTimeCode, User
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError
from tongban.risk import engine
from tongban.risk.models import Rule

pytestmark = pytest.mark.django_db(databases="__all__")

WRONG_PASSWORD = "手机号或密码不正确"
BURNT = "验证码错误次数过多，已失效"
DEAD = "验证码已失效"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def _account_failures(user: User) -> float:
    """The account's failure count (a sliding-window estimate: rounded, as a test may cross a window)."""
    return round(lockout.account_failures(user.username))


def _address_failures(ip: str = "127.0.0.1") -> float:
    return round(lockout.address_failures(ip))


def _failed_entries(user: User) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk),
                                          details__event="login_failed").order_by("pk"))


def _send_code(browser: Client, sim) -> str:
    past_cooldown()
    assert browser.post("/login/code/", {"phone": PHONE}).status_code == 302
    return code_for(sim, PHONE)


def _post_code(browser: Client, code: str):
    return browser.post("/login/code/verify/", {"code": code})


def _signed_up(sim) -> User:
    owner = Client()
    user = register(owner, sim)
    owner.post("/logout/")
    return user


def test_a_strangers_wrong_codes_do_not_lock_the_owner_out(sms_sim):
    user = _signed_up(sms_sim)
    stranger = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(2):  # two codes asked for and guessed at: ten wrong codes
        code = _send_code(stranger, sms_sim)
        for left in (4, 3, 2, 1):
            assert f"还可尝试 {left} 次" in _post_code(stranger, _wrong(code)).content.decode()
        response = _post_code(stranger, _wrong(code))
        assert response.status_code == 422 and BURNT in response.content.decode()
        assert DEAD in _post_code(stranger, code).content.decode()  # burnt: even the right code is refused
    user.refresh_from_db()
    assert not user.is_locked() and _account_failures(user) == 0
    assert _address_failures("203.0.113.66") == 10
    failures = _failed_entries(user)
    assert len(failures) == 10 and {e.details["reason"] for e in failures} == {"sms_code"}
    assert not AuditEntry.objects.filter(subject_id=str(user.pk), details__event="account_locked").exists()
    # The owner, with the phone, asks for a fresh code and signs in; the password still works as well.
    owner = Client(REMOTE_ADDR="198.51.100.5")
    code = _send_code(owner, sms_sim)
    assert _post_code(owner, code).status_code == 302 and owner.get("/me/").status_code == 200
    assert Client().post("/login/", {"username": PHONE, "password": PASSWORD}).status_code == 302


def test_the_password_lock_does_not_stop_a_sign_in_by_code(sms_sim):
    """Five wrong passwords — anyone's — lock password sign-ins; the phone's owner still signs in by code.
    The sign-in by code proves the phone, not the password: the password lock and count stay."""
    user = _signed_up(sms_sim)
    for _ in range(int(lockout.limits().max_failures)):
        Client().post("/login/", {"username": PHONE, "password": "wrong-guess"})
    user.refresh_from_db()
    assert user.is_locked()
    owner = Client()
    code = _send_code(owner, sms_sim)
    response = _post_code(owner, code)
    assert response.status_code == 302 and owner.get("/me/").status_code == 200
    ticket = OneTimeCode.objects.filter(purpose="login").order_by("-pk").first()
    assert ticket.consumed_at is not None
    assert LOCKED in Client().post("/login/", {"username": PHONE, "password": PASSWORD}).content.decode()
    user.refresh_from_db()
    assert user.is_locked()


def test_wrong_codes_throttle_the_address_that_sends_them(sms_sim, settings):
    Rule.objects.filter(code="login_address_failures").update(threshold=6)
    engine.rules_forget()
    user = _signed_up(sms_sim)
    stranger = Client(REMOTE_ADDR="203.0.113.66")
    first = _send_code(stranger, sms_sim)
    for _ in range(5):
        _post_code(stranger, _wrong(first))
    second = _send_code(stranger, sms_sim)
    _post_code(stranger, _wrong(second))
    assert _address_failures("203.0.113.66") == 6
    # The address is refused now, before any code is checked (the ticket keeps its tries).
    response = _post_code(stranger, second)
    assert response.status_code == 422 and LOCKED in response.content.decode()
    ticket = OneTimeCode.objects.filter(purpose="login").order_by("-pk").first()
    assert ticket.attempts == 1 and ticket.consumed_at is None
    # Its passwords are refused too; the owner elsewhere is not affected.
    assert LOCKED in stranger.post("/login/", {"username": PHONE, "password": PASSWORD}).content.decode()
    user.refresh_from_db()
    assert not user.is_locked()
    owner = Client(REMOTE_ADDR="198.51.100.5")
    assert _post_code(owner, _send_code(owner, sms_sim)).status_code == 302


def test_passwords_share_one_budget_per_account(sms_sim):
    """By phone or by account name: one counter, the fifth wrong password locks (codes are not in it)."""
    user = _signed_up(sms_sim)
    attacker = Client()
    for identifier in (PHONE, PHONE, user.username, user.username):
        response = attacker.post("/login/", {"username": identifier, "password": "wrong-guess"})
        assert response.status_code == 422 and WRONG_PASSWORD in response.content.decode()
    code = _send_code(attacker, sms_sim)
    _post_code(attacker, _wrong(code))
    assert _account_failures(user) == 4 and _address_failures() == 5
    response = attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
    assert LOCKED in response.content.decode()
    user.refresh_from_db()
    assert user.is_locked()
    assert [e.details["reason"] for e in _failed_entries(user)] == ["bad_credentials"] * 4 + ["sms_code"] \
        + ["bad_credentials"]


def test_a_malformed_code_or_a_dead_ticket_is_not_a_guess(sms_sim):
    user = _signed_up(sms_sim)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    assert _post_code(attacker, "12ab").status_code == 422
    assert _address_failures() == 0
    assert _post_code(attacker, code).status_code == 302  # used up now
    attacker.post("/logout/")
    with pytest.raises(TongbanError) as exc:
        request = RequestFactory().post("/login/code/verify/")
        citizens.citizen_login_code(request=request, ticket_id=OneTimeCode.objects.get(purpose="login").pk,
                                    code=_wrong(code))
    assert exc.value.code == "otp_expired" and _address_failures() == 0 and _account_failures(user) == 0


def test_a_phone_without_an_account_answers_the_same_way(sms_sim):
    """No account: a notice instead of a code, and guesses against the ticket answer exactly as for an
    account's — four tries left down to one, then burnt — so nothing tells whether the number has one."""
    _signed_up(sms_sim)
    answers = {}
    for phone in ("13700001111", PHONE):
        attacker = Client()
        past_cooldown()
        assert attacker.post("/login/code/", {"phone": phone}).status_code == 302
        answers[phone] = [_post_code(attacker, "000000").content.decode() for _ in range(6)]
    for phone, pages in answers.items():
        assert all("验证码不正确" in a for a in pages[:4]), phone
        assert BURNT in pages[4] and DEAD in pages[5] and not any(LOCKED in a for a in pages), phone


def test_log_lines_and_audit_details_hold_no_phone(sms_sim, caplog):
    user = _signed_up(sms_sim)
    attacker = Client()
    code = _send_code(attacker, sms_sim)
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            _post_code(attacker, _wrong(code))
    logged = " ".join(str(r.msg) + str(r.args) + str(getattr(r, "__dict__", "")) for r in caplog.records)
    assert PHONE not in logged and PHONE[-8:] not in logged
    for entry in AuditEntry.objects.filter(subject_id=str(user.pk)):
        assert PHONE not in str(entry.details) and PHONE[-8:] not in str(entry.details)


def test_the_sso_sign_in_again_page_counts_a_wrong_code_once_against_the_address(sms_sim):
    """tongban.sso.services.reauth_code_check goes through citizen_login_code: a wrong code is counted once, in
    the address counter; the fifth burns the code, and nothing locks the account."""
    from django.contrib.sessions.backends.db import SessionStore

    from tongban.sso.services import reauth_code_check, reauth_code_send

    user = _signed_up(sms_sim)

    def request():
        req = RequestFactory().post("/o/authorize/login/", REMOTE_ADDR="198.51.100.20")
        req.session = SessionStore()
        req.user = user
        return req

    past_cooldown()
    ticket = reauth_code_send(user=user, request=request())
    code = code_for(sms_sim, PHONE)
    for n in (1, 2, 3, 4, 5):
        with pytest.raises(TongbanError) as exc:
            reauth_code_check(user=user, request=request(), ticket_id=ticket.id, code=_wrong(code))
        assert exc.value.code == ("otp_invalid" if n < 5 else "otp_expired")
        assert _address_failures("198.51.100.20") == n and len(_failed_entries(user)) == n
    user.refresh_from_db()
    assert not user.is_locked() and _account_failures(user) == 0


def test_the_automatic_lock_leaves_open_sessions_alone(sms_sim):
    """Anyone who knows the phone can lock password sign-ins by guessing wrong; if that ended its sessions they
    could sign the owner out at will. The owner's signed-in browser stays signed in."""
    owner = Client()
    user = register(owner, sms_sim)
    assert owner.get("/me/").status_code == 200
    row = LoginSession.objects.get(user=user)
    attacker = Client()
    for _ in range(int(lockout.limits().max_failures)):
        attacker.post("/login/", {"username": PHONE, "password": "wrong-guess"})
    user.refresh_from_db()
    assert user.is_locked()
    assert owner.get("/me/").status_code == 200
    assert LoginSession.objects.filter(pk=row.pk).exists()
    from importlib import import_module

    from django.conf import settings

    assert import_module(settings.SESSION_ENGINE).SessionStore().exists(row.session_key)
    assert not AuditEntry.objects.filter(subject_id=str(user.pk), details__event="sessions_ended").exists()
