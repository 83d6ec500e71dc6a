"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_client(client):
    """Django's test client; JSON endpoints are exercised through it."""
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
