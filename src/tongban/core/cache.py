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
* `RedisCache.execute_many`: raw commands pipelined on a connection each thread keeps, for the rate
  limits and counters of the hot paths (tongban.core.ratelimit) — a third of redis-py's pipeline cost.
* Every Redis call runs under the `cache` dependency (tongban.core.resilience; issue 12): the socket
  timeouts in settings bound each call, a timeout or repeated connection failures take the cache down
  for a short cool-down during which calls fail at once, and any failure is raised as
  `DependencyUnavailable` — a 503 with Retry-After — so whatever needed the cache (a nonce claim, a
  rate limit) is refused, never let through, and no traceback is logged per request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import wraps
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
        self._own = threading.local()

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


    def execute_many(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Raw commands, pipelined in one round trip on this thread's own connection from the write pool.

        What redis-py's `pipeline(transaction=False).execute()` does, without its per-call machinery
        (a pipeline object, a connection borrowed from the pool and given back, the retry wrapper,
        the command stack): ~50 µs of Python for six commands instead of ~100-120. Every reply is
        read before an error is raised, so the connection stays in step. A connection error drops
        the connection and the commands are sent once more on a new one, as redis-py's default retry
        would; a second failure is raised (redis.exceptions.ConnectionError). A timeout is raised at once
        (redis.exceptions.TimeoutError): the call's budget is spent.
        """
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import ResponseError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        for attempt in (1, 2):
            connection = self._own_connection()
            try:
                connection.send_packed_command(connection.pack_commands(commands))
                replies: list[Any] = []
                error: ResponseError | None = None
                for _ in commands:
                    try:
                        replies.append(connection.read_response())
                    except ResponseError as exc:  # that command failed; its reply is read: go on
                        replies.append(exc)
                        error = error or exc
            except RedisTimeoutError:  # out of budget: no second wait (issue 12)
                self._drop_own_connection()
                raise
            except (RedisConnectionError, OSError):
                self._drop_own_connection()
                if attempt == 2:
                    raise
                continue
            if error is not None:
                raise error
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    def _own_connection(self) -> Any:
        own = self._own
        pid = os.getpid()
        connection = getattr(own, "connection", None)
        if connection is None or own.pid != pid:
            pool = self.get_client(write=True).connection_pool
            connection = pool.get_connection()
            own.connection, own.pool, own.pid = connection, pool, pid
        return connection

    def _drop_own_connection(self) -> None:
        own = self._own
        connection = getattr(own, "connection", None)
        if connection is not None:
            try:
                connection.disconnect()
                own.pool.release(connection)
            except Exception:  # noqa: BLE001, S110 - a broken connection is being thrown away
                pass
        own.connection = None


def _classify(exc: BaseException) -> str | None:
    """What a Redis error says about Redis: a timeout, a failure to reach it, or nothing (it answered)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from tongban.core import resilience

    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return resilience.TIMEOUT
    if isinstance(exc, RedisConnectionError | OSError):
        return resilience.ERROR
    return None


_cache_dependency: Any = None


def cache_dependency() -> Any:
    global _cache_dependency
    if _cache_dependency is None:
        from tongban.core import resilience

        _cache_dependency = resilience.new_dependency("cache", classify=_classify)
    return _cache_dependency


def _guarded(method: Any) -> Any:
    @wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        from tongban.core.resilience import DependencyUnavailable

        dependency = cache_dependency()
        admitted = dependency.admit()
        try:
            result = method(self, *args, **kwargs)
        except BaseException as exc:
            dependency.release(admitted, exc)
            if _classify(exc) is not None:
                raise DependencyUnavailable("cache", retry_after=dependency.retry_after()) from exc
            raise
        dependency.release(admitted, None)
        return result

    return call


class RedisCache(_RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def validate_key(self, key: str) -> None:
        return None

    @_guarded
    def execute_many(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Raw Redis commands in one round trip (RedisCacheClient.execute_many); keys as given, so pass
        them through make_and_validate_key first."""
        client: RedisCacheClient = self._cache  # type: ignore[assignment]
        return client.execute_many(commands)

    add = _guarded(_RedisCache.add)
    get = _guarded(_RedisCache.get)
    set = _guarded(_RedisCache.set)
    touch = _guarded(_RedisCache.touch)
    delete = _guarded(_RedisCache.delete)
    get_many = _guarded(_RedisCache.get_many)
    has_key = _guarded(_RedisCache.has_key)
    incr = _guarded(_RedisCache.incr)
    set_many = _guarded(_RedisCache.set_many)
    delete_many = _guarded(_RedisCache.delete_many)
    clear = _guarded(_RedisCache.clear)
