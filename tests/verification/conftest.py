"""Fixtures for the verification tests: a small generated registry, a fixed today, fresh breakers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import pytest
from django.db import connections

AS_OF = datetime.date(2026, 3, 1)
PEOPLE = 3_000
SEED = 4  # this seed's data holds an expired and a void travel permit among its few HK/Macao residents


@pytest.fixture(autouse=True)
def _fixed_today_and_fresh_breakers(monkeypatch):
    """Today is the generator's reference date (it decided which cards expired); breakers start closed."""
    from tongban.core import clock
    from tongban.verification.breaker import reset_breakers

    monkeypatch.setattr(clock, "today_local", lambda: AS_OF)
    reset_breakers()
    yield
    reset_breakers()


def _d(value):
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _fetch(alias, sql, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class Person:
    id_number: str
    name: str
    status: str
    address: str
    birth_date: datetime.date
    cards: list[tuple[datetime.date, datetime.date | None, str]] = field(default_factory=list)  # oldest first

    @property
    def current(self):
        return self.cards[-1] if self.cards else None


@dataclass
class Registry:
    """The generated sources, read directly (tests only) to pick people by status."""

    people: dict[str, Person]
    permits: list[dict]

    def person(self, *, status="normal", card=None, cards_min=0, no_card=False, long_term=None):
        for p in self.people.values():
            if p.status != status or len(p.cards) < cards_min:
                continue
            if no_card and p.cards:
                continue
            if card is not None and (not p.cards or p.current[2] != card):
                continue
            if long_term is not None and (p.current is None or (p.current[1] is None) != long_term):
                continue
            return p
        raise LookupError(f"no person with status={status} card={card} in the generated data")

    def permit(self, *, status="valid", issue_count_min=0):
        for row in self.permits:
            if row["status"] == status and row["issue_count"] >= issue_count_min:
                return row
        raise LookupError(f"no permit with status={status}")


@pytest.fixture
def registry():
    """PEOPLE people generated into the source databases (tests must use databases="__all__")."""
    from tongban.registry.generator import generate

    generate(people=PEOPLE, seed=SEED, as_of=AS_OF, parallel=False)
    people = {
        row[0]: Person(row[0], row[1], row[2], row[3], _d(row[4]))
        for row in _fetch("population", "SELECT id_number, name, status, address, birth_date FROM population_person")
    }
    for number, start, end, status in _fetch(
        "idcard", "SELECT id_number, valid_from, valid_to, status FROM idcard_card ORDER BY id_number, valid_from"
    ):
        people[number].cards.append((_d(start), _d(end), status))
    columns = ["permit_number", "issue_count", "name_zh", "name_en", "status", "birth_date", "valid_to", "region"]
    permits = [
        dict(zip(columns, row, strict=True))
        for row in _fetch("exitentry", f"SELECT {', '.join(columns)} FROM exitentry_permit ORDER BY permit_number")
    ]
    for row in permits:
        row["issue_count"] = int(row["issue_count"])
    return Registry(people, permits)



def resident_number(body: str) -> str:
    """17 digits + their GB 11643 check digit."""
    from stdnum.cn import ric

    return body + ric.calc_check_digit(body + "0")
