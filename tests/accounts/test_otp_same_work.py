"""A login or recovery code requested for a phone with an account and for one without do the same work
(issue 11, item 18): the same database statements in the same order, the same number of encryptions, blind
indexes and messages through the outbox. The request for an unknown phone used to queue nothing and was
measurably quicker (~0.6 ms; the probe guessed right 82 % of the time on loopback). Compared here is the
work, not the wall time."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.accounts.conftest import deliver, past_cooldown
from tongban.accounts.models import CitizenProfile, User
from tongban.crypto import keys
from tongban.notifications import services as notification_services

pytestmark = pytest.mark.django_db

KNOWN, UNKNOWN, WARM = "13912340101", "13912340202", "13912340303"


def _shape(sql: str) -> str:
    """A statement with its values taken out: what it does, not with which values."""
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)  # savepoint names
    sql = re.sub(r"(?i)X'[0-9a-f]*'|'\\x[0-9a-f]*'::bytea", "?", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    sql = re.sub(r"(?<=[(,] )NULL\b|(?<=\()NULL\b", "?", sql)  # a NULL inserted is a value too
    return re.sub(r"\s+", " ", sql).strip()


class Work:
    """What one request did: its statements' shapes and the calls to the crypto and outbox primitives."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: Counter[str] = Counter()
        self.statements: list[str] = []
        for owner, name in ((keys, "field_cipher"), (keys, "blind_index_mac"),
                            (notification_services, "outbox_send")):
            self._count(monkeypatch, owner, name)

    def _count(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    def measure(self, call: Callable[[], Any]) -> tuple[list[str], dict[str, int]]:
        self.calls.clear()
        with CaptureQueriesContext(connection) as queries:
            call()
        return [_shape(q["sql"]) for q in queries.captured_queries], dict(self.calls)


def _account(phone: str) -> User:
    user = User.objects.create_user("yw" + phone[-6:], "Citizen-2026-pw")
    CitizenProfile(user=user, phone=phone, level=1).save()
    return user


@pytest.mark.parametrize(("path", "purpose"), [("/login/code/", "login"), ("/recover/", "recover")])
def test_known_and_unknown_phones_take_the_same_work(sms_sim, monkeypatch, path, purpose):
    _account(KNOWN)
    work = Work(monkeypatch)

    def ask(phone: str, ip: str) -> Callable[[], Any]:
        def call() -> None:
            response = Client(REMOTE_ADDR=ip).post(path, {"phone": phone})
            assert response.status_code == 302

        return call

    work.measure(ask(WARM, "192.0.2.1"))  # first use: keys loaded, statements prepared
    past_cooldown()
    known_sql, known_calls = work.measure(ask(KNOWN, "192.0.2.2"))
    unknown_sql, unknown_calls = work.measure(ask(UNKNOWN, "192.0.2.3"))
    assert known_calls == unknown_calls, (known_calls, unknown_calls)
    assert known_calls["outbox_send"] == 1 and known_calls["field_cipher"] >= 3
    assert known_sql == unknown_sql
    # Each phone got one message: a code for the account's, a notice for the other.
    deliver()
    [to_known] = sms_sim.messages(KNOWN)
    [to_unknown] = sms_sim.messages(UNKNOWN)
    assert "验证码为" in to_known.text and "验证码为" not in to_unknown.text and "尚未注册" in to_unknown.text
