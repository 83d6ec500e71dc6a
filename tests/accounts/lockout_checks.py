"""Shared checks for the pages that count a wrong password towards the account lockout (/me/phone/,
/me/close/, /me/password/, /backoffice/password/): four wrong answers refused, the fifth locks with a
page (never a 500), and the lock is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tongban.audit.models import AuditEntry

LOCKED = "登录失败次数过多，账号已暂时锁定"


def fail_until_locked(post_wrong: Callable[[], Any], wrong_message: str) -> str:
    """Post a wrong password five times: 422 with `wrong_message` four times, then the lockout page
    (its body is returned)."""
    for _ in range(4):
        response = post_wrong()
        assert response.status_code == 422 and wrong_message in response.content.decode()
    response = post_wrong()
    body = response.content.decode()
    assert response.status_code == 422, body[-2000:]
    assert LOCKED in body and wrong_message not in body
    return body


def assert_locked_and_audited(user: Any) -> None:
    """The account row is locked (and still active) and the lock has its `auth.lockout` entry."""
    user.refresh_from_db()
    assert user.is_locked() and user.is_active
    lock = AuditEntry.objects.get(subject_type="accounts.user", subject_id=str(user.pk),
                                  details__event="account_locked")
    assert lock.action == "auth.lockout" and lock.details["until"] == user.locked_until.isoformat()


def assert_right_password_resets_the_count(change: Callable[..., Any], user: Any, *, password: str, new: str,
                                           newer: str, wrong_message: str, done_at: str) -> None:
    """`change(current, new=…)` posts a password change. Four wrong current passwords, then the right one:
    the password is changed (redirect to `done_at`) and the count starts again — four more wrong ones
    (against the new password) do not lock, and the new password then changes it once more."""
    for _ in range(4):
        assert change("wrong").status_code == 422
    response = change(password)
    assert response.status_code == 302 and response["Location"] == done_at
    fresh = type(user).objects.get(pk=user.pk)
    assert fresh.check_password(new) and not fresh.is_locked()
    for _ in range(4):
        response = change("wrong", new=newer)
        assert response.status_code == 422 and wrong_message in response.content.decode()
    fresh.refresh_from_db()
    assert not fresh.is_locked()
    assert change(new, new=newer).status_code == 302
