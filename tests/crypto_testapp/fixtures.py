"""Fixtures and helpers shared by tests/crypto/test_{fields,keys,no_plaintext}.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tongban.crypto import keys

# A known person. The ID number is synthetic (valid check digit); nothing here is a real person.
NAME = "欧阳娜娜"
ID_NUMBER = "11010519491231002X"
PHONE = "13912345678"
ADDRESS = "北京市东城区景山前街4号院"
PLATE = "京A·12345"
BIRTH = dt.date(1949, 12, 31)
PHOTO = b"\xff\xd8\xff\xe0TONGBAN-PHOTO-MARKER-0123456789\xff\xd9"


@pytest.fixture(autouse=True)
def fresh_keyring() -> Any:
    """Each test starts from what the database says (flushes recreate the keys between tests)."""
    keys.keyring().clear()
    yield keys.keyring()
    keys.keyring().clear()


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += dt.timedelta(seconds=seconds)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock(dt.datetime.now(dt.UTC))
    monkeypatch.setattr("tongban.core.clock.now", clock)
    return clock


def make_person(**overrides: Any) -> Any:
    from tests.crypto_testapp.models import Person

    values: dict[str, Any] = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "address": ADDRESS,
                              "birth_date": BIRTH, "photo": PHOTO}
    values.update(overrides)
    person = Person(**values)
    person.save()
    return person
