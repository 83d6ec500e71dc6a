"""Fixtures for the exchange: the national platform's simulator on a free port, trusted both ways, a hooked
catalog version, a verified citizen and officers, a clock the test moves."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.accounts.factories import make_officer
from tests.cases.conftest import make_citizen, make_item
from tests.catalog.factories import editor, make_draft, reviewer
from tongban.cases.catalog_bridge import withdraw_item
from tongban.exchange.messages import version_hooked


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, seconds: float) -> dt.datetime:
        self.value += dt.timedelta(seconds=seconds)
        return self.value


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    monkeypatch.setattr("tongban.core.clock.now", fake)
    return fake


@pytest.fixture
def national(settings, db):
    from sim.national_platform import NationalPlatformSimulator
    from tongban.exchange import keys

    sim = NationalPlatformSimulator.start("127.0.0.1", 0)
    settings.TONGBAN_EXCHANGE = {"URL": sim.url, "PEER_PUBLIC_KEY": sim.exchange.public_key_hex, "TIMEOUT": 5,
                                 "LANES": 4, "BATCH_SIZE": 50, "MAX_ATTEMPTS": 3, "LEASE_SECONDS": 60}
    name, private = keys.signer()
    sim.exchange.trust(name, private.public_key().to_raw())
    keys._cache.clear()
    version_hooked.cache_clear()  # version ids repeat between tests
    yield sim
    sim.stop()


@pytest.fixture
def hooked_item(db, national):
    from tongban.catalog.services import version_publish, version_submit

    author = editor()
    version = make_draft(author, code="330100-EXCH-0001", hooked_national=True)
    version_submit(actor=author, version=version)
    version_publish(actor=reviewer(), version=version)
    spec = make_item("EXCH1", version_id=version.pk)
    yield spec
    withdraw_item(spec.code)


@pytest.fixture
def citizen(db):
    user = make_citizen()
    profile = user.citizen
    profile.person_key = profile.id_number  # a resident's person key is the ID number (the factory varies it)
    profile.save()
    return user


@pytest.fixture
def officers(db):
    return (make_officer("officer_a", department="hukou", region_code="330100"),
            make_officer("officer_b", department="hukou", region_code="330106"))
