"""Rate limits kept in the cache (Redis in production, local memory embedded).

A sliding-window counter: each key counts hits in fixed windows with `cache.add` + `cache.incr` (both
atomic in Redis and in local memory), and the previous window's count is weighed by how much of it
still overlaps the sliding window. No lock, no read-modify-write race, two cache keys per limit.

`hit_many` counts several limits in one go for hot paths (the partner API): one round trip on Redis
(a pipeline), one `incr` per limit plus one `get_many` elsewhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.core.cache import BaseCache, caches
from django.http import HttpRequest

from tongban.core.errors import TongbanError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until a hit would be allowed again; 0 when allowed
    count: float  # the sliding-window estimate, this hit included


def _cache(cache: BaseCache | None) -> BaseCache:
    return cache if cache is not None else caches["default"]


def _keys(key: str, window: int, now: float) -> tuple[str, str, float]:
    bucket = int(now // window)
    elapsed = (now - bucket * window) / window
    return f"rl:{key}:{window}:{bucket}", f"rl:{key}:{window}:{bucket - 1}", elapsed


def _result(limit: int, window: int, previous: int, current: int, elapsed: float) -> RateLimitResult:
    estimate = previous * (1 - elapsed) + current
    allowed = estimate <= limit
    if allowed:
        return RateLimitResult(True, limit, max(0, math.floor(limit - estimate)), 0, estimate)
    # With no further hits, when does the estimate fall to the limit again?
    if current <= limit and previous > 0:
        wait = ((1 - (limit - current) / previous) - elapsed) * window
    else:
        wait = (1 - elapsed) * window + (1 - limit / current) * window if current else window
    return RateLimitResult(False, limit, 0, max(1, math.ceil(wait)), estimate)


def hit(key: str, *, limit: int, window: int, cost: int = 1, cache: BaseCache | None = None,
        now: float | None = None) -> RateLimitResult:
    """Count one hit (or `cost`) against `key`, at most `limit` per sliding `window` seconds."""
    if limit < 0 or window <= 0:
        raise ValueError("limit must be >= 0 and window > 0")
    store = _cache(cache)
    now = time.time() if now is None else now
    current_key, previous_key, elapsed = _keys(key, window, now)
    # Kept for two windows: the next window weighs this one.
    store.add(current_key, 0, timeout=2 * window + 1)
    try:
        current = int(store.incr(current_key, cost))
    except ValueError:  # evicted between add and incr: start again from this hit
        store.add(current_key, 0, timeout=2 * window + 1)
        current = int(store.incr(current_key, cost))
    previous = int(store.get(previous_key) or 0)
    return _result(limit, window, previous, current, elapsed)


@dataclass(frozen=True)
class Limit:
    """One limit for `hit_many`: at most `limit` per sliding `window` seconds; `cost` 0 only reads."""

    key: str
    limit: int
    window: int
    cost: int = 1


def _redis_runner(store: BaseCache) -> Callable[[list[tuple[Any, ...]]], list[Any]] | None:
    """Runs raw Redis commands in one round trip (tongban.core.cache.RedisCache.execute_many, on a
    connection of the thread's own), or None for any other backend (which goes through the cache API)."""
    return cast(Callable[[list[tuple[Any, ...]]], list[Any]] | None, getattr(store, "execute_many", None))


def _check_limits(limits: Sequence[Limit]) -> None:
    for lim in limits:
        if lim.limit < 0 or lim.window <= 0 or lim.cost < 0:
            raise ValueError("limit and cost must be >= 0 and window > 0")


def _redis_commands(limits: Sequence[Limit], store: BaseCache,
                    keys: list[tuple[str, str, float]]) -> list[tuple[Any, ...]]:
    """hit_many's Redis commands: SET NX EX, INCRBY, GET per counted limit (GET, GET for a read one)."""
    commands: list[tuple[Any, ...]] = []
    for lim, (current_key, previous_key, _) in zip(limits, keys, strict=True):
        full = store.make_and_validate_key(current_key)
        if lim.cost:
            commands.append(("SET", full, 0, "EX", 2 * lim.window + 1, "NX"))
            commands.append(("INCRBY", full, lim.cost))
        else:
            commands.append(("GET", full))
        commands.append(("GET", store.make_and_validate_key(previous_key)))
    return commands


def _redis_results(limits: Sequence[Limit], keys: list[tuple[str, str, float]],
                   replies: Sequence[Any]) -> list[RateLimitResult]:
    """The results from the replies to _redis_commands, in the same order."""
    answers = iter(replies)
    results = []
    for lim, (_, _, elapsed) in zip(limits, keys, strict=True):
        if lim.cost:
            next(answers)
        current = int(next(answers) or 0)
        previous = int(next(answers) or 0)
        results.append(_result(lim.limit, lim.window, previous, current, elapsed))
    return results


def hit_many(limits: Sequence[Limit], *, cache: BaseCache | None = None,
             now: float | None = None) -> list[RateLimitResult]:
    """Count a hit against each limit (same keys and arithmetic as `hit`), in as few cache calls as the
    backend allows: on Redis one pipelined round trip (SET NX EX, INCRBY, GET per limit); elsewhere
    `incr` first (the common case, the key exists) and one `get_many` for the previous windows."""
    _check_limits(limits)
    store = _cache(cache)
    now = time.time() if now is None else now
    keys = [_keys(lim.key, lim.window, now) for lim in limits]
    run = _redis_runner(store)
    if run is not None:
        return _redis_results(limits, keys, run(_redis_commands(limits, store, keys)))
    currents: list[int] = []
    wanted: list[str] = []
    for lim, (current_key, previous_key, _) in zip(limits, keys, strict=True):
        wanted.append(previous_key)
        if not lim.cost:
            wanted.append(current_key)
            currents.append(-1)
            continue
        try:
            currents.append(int(store.incr(current_key, lim.cost)))
        except ValueError:  # a new window: create it (someone may have just done so)
            if store.add(current_key, lim.cost, timeout=2 * lim.window + 1):
                currents.append(lim.cost)
            else:
                currents.append(int(store.incr(current_key, lim.cost)))
    values = store.get_many(wanted)
    results = []
    for lim, (current_key, previous_key, elapsed), current in zip(limits, keys, currents, strict=True):
        if current < 0:
            current = int(values.get(current_key) or 0)
        results.append(_result(lim.limit, lim.window, int(values.get(previous_key) or 0), current, elapsed))
    return results


def claim_and_hit(claim_key: str, claim_ttl: int, limits: Sequence[Limit], *, reads: Sequence[str] = (),
                  cache: BaseCache | None = None, now: float | None = None
                  ) -> tuple[bool, list[RateLimitResult], list[Any]]:
    """`cache.add(claim_key, 1, claim_ttl)` (True: claimed now; False: it was taken — a replayed nonce),
    `hit_many(limits)`, and the values of the keys in `reads` (None where absent), in one round trip on
    Redis. The limits are counted either way: a replayed request is still a request.

    `reads` are keys holding integers (as `counter_add` and `cache.set(key, <int>)` store them: Django's
    Redis serializer keeps an int as its digits, which a raw GET returns); a value that is not a plain
    integer is read again through the cache API."""
    _check_limits(limits)
    store = _cache(cache)
    run = _redis_runner(store)
    if run is None:
        claimed = bool(store.add(claim_key, 1, timeout=claim_ttl))
        results = hit_many(limits, cache=store, now=now)
        found = store.get_many(list(reads)) if reads else {}
        return claimed, results, [found.get(key) for key in reads]
    now = time.time() if now is None else now
    keys = [_keys(lim.key, lim.window, now) for lim in limits]
    claim = ("SET", store.make_and_validate_key(claim_key), 1, "EX", claim_ttl, "NX")
    gets = [("GET", store.make_and_validate_key(key)) for key in reads]
    replies = run([claim, *_redis_commands(limits, store, keys), *gets])
    counted = len(replies) - len(gets)
    return (replies[0] is not None, _redis_results(limits, keys, replies[1:counted]),
            [_integer(raw, key, store) for raw, key in zip(replies[counted:], reads, strict=True)])


def _integer(raw: Any, key: str, store: BaseCache) -> Any:
    """A raw GET reply as the cache API would give an integer value; anything else through the cache API."""
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return store.get(key)


def counter_add(key: str, delta: int, *, timeout: int, cache: BaseCache | None = None) -> int:
    """Add `delta` to a plain counter (created with `timeout` seconds to live); the new value. One
    round trip on Redis, one `incr` elsewhere when the key exists."""
    store = _cache(cache)
    run = _redis_runner(store)
    if run is not None:
        full = store.make_and_validate_key(key)
        return int(run([("SET", full, 0, "EX", timeout, "NX"), ("INCRBY", full, delta)])[1])
    try:
        return int(store.incr(key, delta))
    except ValueError:
        if store.add(key, delta, timeout=timeout):
            return delta
        return int(store.incr(key, delta))


def peek(key: str, *, limit: int, window: int, cache: BaseCache | None = None,
         now: float | None = None) -> RateLimitResult:
    """Where `key` stands, without counting a hit."""
    store = _cache(cache)
    now = time.time() if now is None else now
    current_key, previous_key, elapsed = _keys(key, window, now)
    values = store.get_many([current_key, previous_key])
    return _result(limit, window, int(values.get(previous_key) or 0), int(values.get(current_key) or 0), elapsed)


def reset(key: str, *, window: int, cache: BaseCache | None = None, now: float | None = None) -> None:
    """Forget the hits of `key` (an unlock, a successful login)."""
    now = time.time() if now is None else now
    current_key, previous_key, _ = _keys(key, window, now)
    _cache(cache).delete_many([current_key, previous_key])


def rate_limited_error(result: RateLimitResult) -> TongbanError:
    return TongbanError("rate_limited", headers={"Retry-After": str(result.retry_after)},
                        details=[{"retry_after": result.retry_after}])


def enforce(key: str, *, limit: int, window: int, cost: int = 1, cache: BaseCache | None = None) -> RateLimitResult:
    """For services: count a hit and raise TongbanError("rate_limited") with Retry-After when over."""
    result = hit(key, limit=limit, window=window, cost=cost, cache=cache)
    if not result.allowed:
        raise rate_limited_error(result)
    return result


def key_by_ip(request: HttpRequest) -> str:
    from tongban.core.security import client_ip

    return f"ip:{client_ip(request)}"


def key_by_user_or_ip(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return key_by_ip(request)


def ratelimit(scope: str, *, limit: int, window: int, key: Callable[[HttpRequest], str] = key_by_ip,
              methods: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """Limit a view: over the limit it answers 429 with Retry-After in the error envelope.

        @ratelimit("verify", limit=60, window=60, key=key_by_user_or_ip, methods=("POST",))
        def verify(request): ...
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if methods is None or request.method in methods:
                enforce(f"{scope}:{key(request)}", limit=limit, window=window)
            return view(request, *args, **kwargs)

        return cast(F, wrapped)

    return decorator
