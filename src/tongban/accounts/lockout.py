"""Failed-login counting and account lockout, per account and per client address.

Every place that takes a secret the account holder knows counts through here, in one budget per account:
the login pages (the authentication backend and the citizen login by password), the staff TOTP step (a
staff sign-in is complete, and the count cleared, only after it), and `password_recheck`, the current
password asked again before a sensitive change (/me/phone/, /me/close/, /me/password/, /backoffice/password/).

One-time codes by SMS are not in that budget (`code_failure_record`): a code is a challenge of its own,
five tries and burnt, and anyone who knows a phone number can ask for one — counting wrong codes against
the account let a stranger lock its owner out. They count against the client address that sent them.

The numbers are risk rules (tongban.risk, docs/risk.md), rows a security admin changes with an audit
entry: `login_lockout` (an account is locked after `threshold` failures, default 5, within `window_seconds`,
900, for `response_seconds`, 1800) and `login_address_failures` (a client address is refused after
`threshold` failures, default 30, within `window_seconds`). They are read from the risk engine's cached rule
set and counted by the risk app's counters (risk.services.login_failure_count, in the cache): one counting
path, no query per attempt. An account's failures are counted under its account name (`counter_name`),
whichever identifier was typed, so a phone, an account name and a code all draw on the same budget. The
lock is written to the user row too, so operators see it and it survives a cache flush. A username that
does not exist is counted and "locked" the same way, in the cache only, so the answers never tell whether
it exists.

The automatic lock does not end the account's open sessions: anyone who knows a phone number or an account
name can cause it by guessing wrong, and ending sessions would let them sign the owner out at will. Staff
shutting an account out (accounts.services.account_active_set, password_reset, totp_reset) do end them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.accounts.events import SecurityEvent, record_security_event, username_digest
from tongban.accounts.models import UserKind
from tongban.core.errors import TongbanError
from tongban.core.security import client_ip
from tongban.risk import selectors as risk_selectors
from tongban.risk import services as risk_services
from tongban.risk.rules import LOGIN_ADDRESS, LOGIN_LOCKOUT
from tongban.risk.selectors import LoginLimits

LOCKED_MESSAGE = "登录失败次数过多，账号已暂时锁定，请稍后再试或通过“找回密码”重设密码。"
STAFF_LOCKED_MESSAGE = "登录失败次数过多，账号已暂时锁定。请稍后再试，或联系安全管理员解锁。"


def _lock_key(username: str) -> str:
    return f"login-lock:{username_digest(username)}"


def limits() -> LoginLimits:
    """The lockout's numbers: the rules login_lockout and login_address_failures (cached, no query)."""
    return risk_selectors.login_limits()


def account_failures(username: str) -> float:
    """The account's failure count in the window (a sliding-window estimate)."""
    return risk_selectors.login_failures(account=username_digest(username))


def address_failures(ip: str) -> float:
    """The client address's failure count in the window (a sliding-window estimate)."""
    return risk_selectors.login_failures(ip=ip)


def address_blocked(ip: str) -> bool:
    """Whether sign-ins from `ip` are refused: too many failures from it (the rule login_address_failures), or
    the risk engine's throttle on it (the credential_stuffing rule's response; lifted by a security admin)."""
    if address_failures(ip) >= limits().address_max_failures:
        return True
    return risk_selectors.response_active("throttle", f"address:{ip}")


def second_factor_required(username: str) -> bool:
    """Whether the risk engine asks this account for a second factor (the password_spraying rule's
    response): a password alone no longer signs it in; a code sent to its phone does."""
    return risk_selectors.response_active("second_factor", f"account:{username_digest(username)}")


def login_locked(username: str, user: Any = None) -> bool:
    if cache.get(_lock_key(username)):
        return True
    return user is not None and user.is_locked()


def counter_name(user: Any, identifier: str) -> str:
    """The name an attempt's failures are counted under: the account's name when there is an account (one
    budget for the account, whether the person typed a phone or the account name, or a code was sent to
    it), the identifier otherwise (a phone's keyed reference, a typed name)."""
    username = getattr(user, "username", None) if user is not None else None
    return username or identifier


def login_failure_record(*, username: str, ip: str, user: Any = None, request: HttpRequest | None = None,
                         reason: str = "bad_credentials") -> bool:
    """Count a failed attempt; lock the account when it reaches the limit. True when now locked."""
    address, failures = risk_services.login_failure_count(account=username_digest(username), ip=ip)
    record_security_event(SecurityEvent.LOGIN_FAILED, user=user, request=request, outcome="failure",
                          details={"reason": reason, "username_digest": username_digest(username),
                                   "failures": round(failures, 2)})
    _address_limit_check(ip, address)
    if failures >= limits().max_failures:
        account_lock(username=username, user=user, request=request, failures=failures)
        return True
    return False


def _address_limit_check(ip: str, failures: float) -> None:
    """The address reached the rule login_address_failures: its alert and throttle (a Block on address:<ip>
    for the rule's window, once per window; lifting it clears the address's count)."""
    found = limits()
    if ip and ip != "-" and failures >= found.address_max_failures:
        risk_services.login_limit_reached(
            code=LOGIN_ADDRESS, key=ip, target=f"address:{ip}", seconds=found.address_window,
            evidence={"address": ip, "failures": round(failures, 2), "threshold": found.address_max_failures,
                      "window_seconds": found.address_window})


def code_failure_record(*, ip: str, user: Any = None, request: HttpRequest | None = None,
                        reason: str = "sms_code") -> bool:
    """A wrong one-time code: counted against the client address that sent it (the same address counter as
    failed passwords), never against the account — a code is a challenge of its own, with its own five
    tries, and anyone who knows the phone number can ask for one (citizens.citizen_login_code). Audited as a
    failed login of the account. True when the address is now refused."""
    failures, _ = risk_services.login_failure_count(account=None, ip=ip)
    record_security_event(SecurityEvent.LOGIN_FAILED, user=user, request=request, outcome="failure",
                          details={"reason": reason, "counted": "address",
                                   "address_failures": round(failures, 2)})
    _address_limit_check(ip, failures)
    return failures > limits().address_max_failures


def account_lock(*, username: str, user: Any = None, request: HttpRequest | None = None,
                 failures: float | None = None) -> dt.datetime:
    """The automatic lock after too many failures, with the rule login_lockout's alert and its lock_account
    Block on user:<pk> (once per window) in the same transaction; lifting the Block in the risk console
    unlocks the account as accounts.services.account_unlock does. It deliberately leaves the account's
    sessions open: the failures may be anyone's (see the module's docstring)."""
    found = limits()
    seconds = found.lockout_seconds
    until = timezone.now() + dt.timedelta(seconds=seconds)
    cache.set(_lock_key(username), 1, timeout=seconds)
    with transaction.atomic():  # the lock on the row, its audit entry, the alert and Block commit together
        evidence: dict[str, Any] = {"failures": round(failures if failures is not None else found.max_failures, 2),
                                    "threshold": found.max_failures, "window_seconds": found.window,
                                    "lock_seconds": seconds}
        if user is not None:
            evidence["user_id"] = user.pk
        risk_services.login_limit_reached(code=LOGIN_LOCKOUT, key=username_digest(username), evidence=evidence,
                                          target=f"user:{user.pk}" if user is not None else None, seconds=seconds)
        if user is not None:
            # Through the user model, not type(user): views pass request.user, a SimpleLazyObject.
            get_user_model()._default_manager.filter(pk=user.pk).update(locked_until=until)
            user.locked_until = until
        record_security_event(SecurityEvent.ACCOUNT_LOCKED, user=user, request=request, outcome="locked",
                              details={"until": until.isoformat(), "username_digest": username_digest(username)})
    return until


def login_success_record(*, username: str, user: Any) -> None:
    """The right password: the account starts again from zero failures, and a lock that has run out is
    cleared from the row (a lock still running is refused before the password is tried)."""
    login_counters_clear(username)
    if user.locked_until is not None:
        get_user_model()._default_manager.filter(pk=user.pk).update(locked_until=None)
        user.locked_until = None


def locked_error(*, staff: bool = False) -> TongbanError:
    """The answer while an account (or the client address) is locked out. Staff have no self-service
    recovery: a security admin unlocks them."""
    return TongbanError("login_locked", message_zh=STAFF_LOCKED_MESSAGE if staff else LOCKED_MESSAGE,
                        message_en="Too many failed sign-ins: the account is locked for a while.", status=429)


def password_recheck(*, user: Any, password: str, request: HttpRequest | None = None, field: str = "password",
                     wrong_message: str = "登录密码不正确。", reason: str = "password_recheck") -> None:
    """The signed-in person's current password, asked again before a sensitive change. A wrong one counts
    towards the lockout exactly as a failed login does (the account's counter and the address's); the
    one that reaches the limit locks the account. While the account or the address is locked out even
    the right password is refused. The right one resets the account's count, as a login does.

    `field` names the form field for the error; `reason` goes into the audit entry of a failure.
    Errors: login_locked (429), password_wrong (401)."""
    key = user.username
    ip = client_ip(request) if request is not None else "-"
    staff = getattr(user, "kind", None) == UserKind.STAFF
    if (request is not None and address_blocked(ip)) or login_locked(key, user):
        record_security_event(SecurityEvent.LOGIN_REFUSED, user=user, request=request, outcome="refused",
                              details={"via": reason})
        raise locked_error(staff=staff)
    if not user.check_password(password or ""):
        if login_failure_record(username=key, ip=ip, user=user, request=request, reason=reason):
            raise locked_error(staff=staff)
        raise TongbanError("password_wrong", message_zh=wrong_message, message_en="The password is wrong.",
                           status=401, details=[{"field": field, "type": "password_wrong"}])
    login_success_record(username=key, user=user)


def login_counters_clear(username: str) -> None:
    """After a successful login or an unlock: the account starts again from zero failures."""
    risk_services.login_failures_clear(account=username_digest(username))
    cache.delete(_lock_key(username))
