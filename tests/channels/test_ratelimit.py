"""The fixed-window limiter on the real shared cache (Redis) and on the local one."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from crm import ratelimit
from crm.cache import RedisCache as SharedCache


@pytest.fixture
def redis_cache(monkeypatch):
    """The limiter on Redis, as in production (skipped without REDIS_URL)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL for the shared cache")
    cache = SharedCache(url, {"KEY_PREFIX": "test-ratelimit"})
    cache.clear()
    monkeypatch.setattr(ratelimit, "caches", {"default": cache})
    yield cache
    cache.clear()


def test_the_limit_counts_hits_in_one_round_trip_and_the_window_expires(redis_cache):
    assert [ratelimit.over_limit("t1", limit=2, window=60) for _ in range(4)] == [
        False,
        False,
        True,
        True,
    ]
    # Another key has its own count.
    assert ratelimit.over_limit("t2", limit=2, window=60) is False
    client = redis_cache._cache.get_client(write=True)
    (key,) = [k for k in client.keys("*") if b"t1" in k]
    assert 0 < client.ttl(key) <= 61
    assert int(client.get(key)) == 4


def test_without_a_limit_nothing_is_counted(redis_cache):
    assert ratelimit.over_limit("t3", limit=0) is False
    assert redis_cache._cache.get_client(write=True).keys("*") == []


def test_the_local_cache_counts_too():
    assert not isinstance(caches["default"], RedisCache)
    assert [ratelimit.over_limit("t4", limit=1) for _ in range(3)] == [False, True, True]


def test_a_cache_that_is_down_lets_deliveries_through(monkeypatch):
    class Down:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "caches", {"default": Down()})
    assert ratelimit.over_limit("t5", limit=1) is False
    assert ratelimit.over_limit("t5", limit=1) is False
