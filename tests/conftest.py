"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_client(client):
    """Django's test client; JSON endpoints are exercised through it."""
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache and a keyring that re-reads the key versions."""
    from django.core.cache import cache

    from tongban.core import resilience
    from tongban.crypto.keys import keyring
    from tongban.risk import engine

    resilience.reset()  # every dependency up: a test that took one down does not fail the next
    cache.clear()
    keyring().clear()
    engine.rules_forget()  # the risk rules as this test's database holds them
    yield
    cache.clear()
    keyring().clear()
    engine.rules_forget()


@pytest.fixture
def admin_user(db):
    """A system administrator (staff, TOTP confirmed): Django's superuser does not exist in tongban."""
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole

    return make_staff("admin", StaffRole.SYSTEM_ADMIN)


@pytest.fixture
def admin_client(client, admin_user):
    """A client signed in with password and second factor, as the back office requires."""
    from tests.accounts.factories import login_verified

    login_verified(client, admin_user)
    return client


@pytest.fixture(autouse=True)
def _discard_pending_metering():
    """Partner metering buffers counts per process and flushes at exit; a test's counts end with the test
    (its database is gone by the time the process exits)."""
    yield
    from tongban.partners import metering

    metering.discard()
