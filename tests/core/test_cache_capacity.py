"""The embedded default's cache keeps its counters when many keys are in use (rate limits, lockout, risk)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches


@pytest.mark.skipif("RedisCache" in settings.CACHES["default"]["BACKEND"], reason="the local-memory cache's limit")
def test_a_counter_survives_thousands_of_other_keys():
    cache = caches["default"]
    cache.set("capacity-test:victim", 5, timeout=600)
    for n in range(2_000):  # an attacker spreading over many addresses or phone numbers
        cache.set(f"capacity-test:noise:{n}", 1, timeout=600)
    try:
        assert cache.get("capacity-test:victim") == 5
    finally:
        cache.delete_many(["capacity-test:victim", *(f"capacity-test:noise:{n}" for n in range(2_000))])
