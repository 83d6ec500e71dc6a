"""Django's local-memory and Redis cache backends without the memcached key check.

Django checks every key against memcached's rules (no spaces or control characters, at most 250
characters) by walking it character by character in Python, on every cache call — ~14 calls per
partner verification (nonce, rate limits, quota, abuse counters). Neither backend used here has those
rules, and every key is built by tongban's own code from validated parts, so the check is dropped the
way Django's cache documentation shows (override `validate_key`). Keys stay bounded by the callers.
"""

from __future__ import annotations

from django.core.cache.backends.locmem import LocMemCache as _LocMemCache
from django.core.cache.backends.redis import RedisCache as _RedisCache


class LocMemCache(_LocMemCache):
    def validate_key(self, key: str) -> None:
        return None


class RedisCache(_RedisCache):
    def validate_key(self, key: str) -> None:
        return None
