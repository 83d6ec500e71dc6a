"""Rate limits on the cache: counts, the sliding window, Retry-After, the 429 envelope; on local memory
and on a real Redis (make test starts it; skipped only when it is not reachable)."""

import socket
import threading
import uuid

import pytest
from django.http import JsonResponse
from django.test import RequestFactory, override_settings
from django.urls import path

from tongban.core import ratelimit
from tongban.core.cache import LocMemCache
from tongban.core.errors import TongbanError

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["locmem", "redis"])
def store(request):
    if request.param == "locmem":
        yield LocMemCache(f"rl-{uuid.uuid4().hex}", {})
        return
    if not _redis_up():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    from tongban.core.cache import RedisCache  # the backends settings.CACHES names

    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": f"tongban-test-{uuid.uuid4().hex}"})
    yield cache  # never FLUSHDB a shared server: the test keys carry their own prefix and expire


T0 = 1_000_000 * 60.0  # a window boundary for window=60


def test_counts_up_to_the_limit_then_refuses(store):
    results = [ratelimit.hit("k", limit=3, window=60, cache=store, now=T0 + 1) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert results[-1].retry_after > 0


def test_keys_are_independent(store):
    for _ in range(3):
        ratelimit.hit("a", limit=3, window=60, cache=store, now=T0)
    assert ratelimit.hit("b", limit=3, window=60, cache=store, now=T0).allowed


def test_sliding_window_weighs_the_previous_window(store):
    for _ in range(10):
        ratelimit.hit("s", limit=10, window=60, cache=store, now=T0 + 50)
    # 15 s into the next window three quarters of the previous 10 still count: 7.5 + 1, + 2, + 3.
    allowed = [ratelimit.hit("s", limit=10, window=60, cache=store, now=T0 + 75).allowed for _ in range(3)]
    assert allowed == [True, True, False]  # a fixed window would have allowed 10 more
    later = ratelimit.peek("s", limit=10, window=60, cache=store, now=T0 + 110)
    assert later.allowed  # 10 * (10/60) + 1 is well under the limit


def test_retry_after_is_when_it_would_be_allowed_again(store):
    for _ in range(5):
        ratelimit.hit("r", limit=4, window=60, cache=store, now=T0 + 30)
    refused = ratelimit.peek("r", limit=4, window=60, cache=store, now=T0 + 30)
    assert not refused.allowed
    assert ratelimit.peek("r", limit=4, window=60, cache=store, now=T0 + 30 + refused.retry_after).allowed
    assert not ratelimit.peek("r", limit=4, window=60, cache=store, now=T0 + 30 + refused.retry_after - 2).allowed


def test_reset_forgets(store):
    for _ in range(3):
        ratelimit.hit("x", limit=2, window=60, cache=store, now=T0)
    ratelimit.reset("x", window=60, cache=store, now=T0)
    assert ratelimit.hit("x", limit=2, window=60, cache=store, now=T0).allowed


def test_concurrent_hits_never_exceed_the_limit(store):
    allowed = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            result = ratelimit.hit("c", limit=25, window=3600, cache=store, now=T0 + 5)
            with lock:
                allowed.append(result.allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 25 and len(allowed) == 80


def test_enforce_raises_rate_limited_with_retry_after(store):
    ratelimit.enforce("e", limit=1, window=60, cache=store)
    with pytest.raises(TongbanError) as exc:
        ratelimit.enforce("e", limit=1, window=60, cache=store)
    assert exc.value.code == "rate_limited" and exc.value.http_status() == 429
    assert int(exc.value.headers["Retry-After"]) >= 1


@ratelimit.ratelimit("test-view", limit=2, window=60, methods=("POST",))
def _limited(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("api/test-limited", _limited)]


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.django_db
def test_decorator_answers_429_with_the_envelope(client):
    assert client.get("/api/test-limited").status_code == 200  # GET is not limited here
    assert client.post("/api/test-limited").status_code == 200
    assert client.post("/api/test-limited").status_code == 200
    response = client.post("/api/test-limited", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()["error"]
    assert body["code"] == "rate_limited" and body["message"] == "Too many requests; try again later."
    # Another client address has its own budget.
    assert client.post("/api/test-limited", REMOTE_ADDR="10.9.9.9").status_code == 200


def test_key_functions():
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3")
    assert ratelimit.key_by_ip(request) == "ip:10.1.2.3"
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert ratelimit.key_by_user_or_ip(request) == "ip:10.1.2.3"


def test_the_redis_backend_keeps_one_client_per_pool_and_still_works_after_a_fork_like_reset(store):
    from tongban.core.cache import RedisCache

    if not isinstance(store, RedisCache):
        pytest.skip("Redis only")
    client = store._cache.get_client(None, write=True)
    assert store._cache.get_client("any", write=False) is client  # one server: reads and writes share it
    store.set("k one", 1, timeout=30)  # a space: memcached's rule, not Redis's — no warning, no error
    assert store.get("k one") == 1 and store.add("k one", 2) is False and store.incr("k one", 5) == 6
    threads = [threading.Thread(target=lambda: store.incr("k one")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k one") == 14  # a shared client is safe between threads


# -- hit_many and counter_add, on both backends (the partner API's hot path) ---------------------------


def test_hit_many_and_counter_add_count_alike_on_both_backends(store):
    t = 4_000_000.5
    limits = [ratelimit.Limit("hm", 2, 1), ratelimit.Limit("hm", 100, 60), ratelimit.Limit("hm-bad", 9, 60, cost=0)]
    results = [ratelimit.hit_many(limits, cache=store, now=t) for _ in range(3)]
    assert [r[0].allowed for r in results] == [True, True, False]
    assert results[-1][1].count == 3 and results[-1][2].count == 0
    assert ratelimit.peek("hm", limit=100, window=60, cache=store, now=t).count == 3
    assert ratelimit.counter_add("quota", 5, timeout=60, cache=store) == 5
    assert ratelimit.counter_add("quota", 2, timeout=60, cache=store) == 7


def _redis_store(store):
    from tongban.core.cache import RedisCache

    if not isinstance(store, RedisCache):
        pytest.skip("Redis only")
    return store


def test_on_redis_each_hit_many_is_one_round_trip(store):
    store = _redis_store(store)
    calls = []
    real = store.execute_many
    store.execute_many = lambda commands: calls.append(len(commands)) or real(commands)  # type: ignore[method-assign]
    limits = [ratelimit.Limit("rt", 5, 1), ratelimit.Limit("rt", 50, 60), ratelimit.Limit("rt-bad", 9, 60, cost=0)]
    ratelimit.hit_many(limits, cache=store)
    ratelimit.counter_add("rt-quota", 1, timeout=60, cache=store)
    assert calls == [8, 2]  # SET NX + INCRBY + GET per counted limit, GET + GET for the read one; then SET NX + INCRBY


def test_a_failing_command_is_raised_after_every_reply_is_read(store):
    from redis.exceptions import ResponseError

    store = _redis_store(store)
    key = store.make_and_validate_key("not-a-number")
    store.execute_many([("SET", key, "abc", "EX", 60)])
    with pytest.raises(ResponseError):
        store.execute_many([("INCRBY", key, 1), ("SET", key + "2", 1, "EX", 60), ("GET", key + "2")])
    # The connection is still in step: the next call gets its own replies, not the ones left over.
    assert store.execute_many([("GET", key), ("GET", key + "2")]) == [b"abc", b"1"]


def test_a_dropped_connection_is_replaced_and_the_commands_sent_again(store):
    import redis

    store = _redis_store(store)
    key = store.make_and_validate_key("dropped")
    assert store.execute_many([("SET", key, 1, "EX", 60), ("CLIENT", "ID")])[0]
    own_id = store.execute_many([("CLIENT", "ID")])[0]
    redis.Redis.from_url(REDIS_URL).client_kill_filter(_id=own_id)
    assert store.execute_many([("INCRBY", key, 1)]) == [2]  # sent again on a new connection
    assert store.execute_many([("CLIENT", "ID")])[0] != own_id


def test_each_thread_has_its_own_connection_and_a_child_process_opens_its_own(store, monkeypatch):
    store = _redis_store(store)
    ids: list[int] = []
    workers = [threading.Thread(target=lambda: ids.append(store.execute_many([("CLIENT", "ID")])[0]))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    mine = store.execute_many([("CLIENT", "ID")])[0]
    assert len({*ids, mine}) == 4
    import os

    monkeypatch.setattr(os, "getpid", lambda: -1)  # as after a fork: the inherited socket is not used
    assert store.execute_many([("CLIENT", "ID")])[0] != mine


def test_claim_and_hit_claims_once_and_counts_every_time(store):
    limits = [ratelimit.Limit("cl", 100, 60)]
    first = ratelimit.claim_and_hit("nonce-1", 300, limits, cache=store)
    again = ratelimit.claim_and_hit("nonce-1", 300, limits, cache=store)
    other = ratelimit.claim_and_hit("nonce-2", 300, limits, cache=store)
    assert (first[0], again[0], other[0]) == (True, False, True)
    assert [r[1][0].count for r in (first, again, other)] == [1, 2, 3]  # a replay is still a request
    assert first[2] == []
    assert store.add("nonce-1", 1, timeout=300) is False  # the claim is an ordinary cache key
    with pytest.raises(ValueError):
        ratelimit.claim_and_hit("nonce-3", 300, [ratelimit.Limit("cl", -1, 60)], cache=store)


def test_on_redis_claim_and_hit_is_one_round_trip(store):
    store = _redis_store(store)
    calls = []
    real = store.execute_many
    store.execute_many = lambda commands: calls.append(len(commands)) or real(commands)  # type: ignore[method-assign]
    store.set("rt-int", 1764000000, timeout=60)
    store.set("rt-float", 1764000000.5, timeout=60)  # pickled by Django's serializer: read through the API
    _, _, values = ratelimit.claim_and_hit("nonce-rt", 300, [ratelimit.Limit("rt2", 5, 1),
                                                             ratelimit.Limit("rt2", 50, 60)],
                                           reads=["rt-int", "rt-none", "rt-float"], cache=store)
    assert calls == [10]
    assert values == [1764000000, None, 1764000000.5]


def test_claim_and_hit_reads_integers_as_the_cache_api_gives_them(store):
    store.set("int-value", 42, timeout=60)
    fresh, _, values = ratelimit.claim_and_hit("nonce-r", 300, [], reads=["int-value", "absent"], cache=store)
    assert fresh and values == [42, None]
