"""Django's local-memory and Redis cache backends, made cheaper per call for the hot paths.

* No memcached key check. Django checks every key against memcached's rules (no spaces or control
  characters, at most 250 characters) by walking it character by character in Python, on every cache
  call — ~14 calls per partner verification (nonce, rate limits, quota, abuse counters). Neither backend
  used here has those rules, and every key is built by tongban's own code from validated parts, so the
  check is dropped the way Django's cache documentation shows (override `validate_key`).
* One redis-py client per connection pool. Django's RedisCacheClient builds a new `redis.Redis` for
  every operation, and redis-py ≥ 5 fills a case-insensitive table of ~170 response callbacks in each
  constructor: measured, that was ~0.4 ms of Python per verification, more than the Redis round trips
  themselves. A `redis.Redis` is safe to share between threads (each command borrows a connection from
  the pool), and the pool itself reconnects after a fork, so one client per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.locmem import LocMemCache as _LocMemCache
from django.core.cache.backends.redis import RedisCache as _RedisCache
from django.core.cache.backends.redis import RedisCacheClient as _RedisCacheClient


class LocMemCache(_LocMemCache):
    def validate_key(self, key: str) -> None:
        return None


class RedisCacheClient(_RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # Django's private attributes, which django-stubs does not declare
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = base._pools.get(index)
            if pool is None:
                pool = base._pools[index] = base._pool_class.from_url(base._servers[index], **base._pool_options)
            client = self._clients[index] = base._client(connection_pool=pool)
        return client


class RedisCache(_RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def validate_key(self, key: str) -> None:
        return None
