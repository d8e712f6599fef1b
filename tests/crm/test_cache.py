"""The shared cache backend (crm.cache.RedisCache) on a real Redis, as production runs it."""

from __future__ import annotations

import os
import threading

import pytest

from crm.cache import RedisCache


@pytest.fixture
def redis_cache():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL for the shared cache")
    cache = RedisCache(url, {"KEY_PREFIX": "test-cache"})
    cache.clear()
    yield cache
    cache.clear()


def test_it_keeps_one_client_per_connection_pool(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    # One server: reads and writes share its pool, so its client.
    assert redis_cache._cache.get_client("key") is client
    assert redis_cache._cache.get_client(write=True) is client


def test_it_is_a_working_cache(redis_cache):
    redis_cache.set("lead", {"id": 7}, 30)
    assert redis_cache.get("lead") == {"id": 7}
    assert redis_cache.add("lead", "other", 30) is False
    assert redis_cache.add("wake", 1, 30) is True
    assert redis_cache.incr("wake") == 2
    redis_cache.delete("lead")
    assert redis_cache.get("lead") is None


def test_threads_share_the_client_safely(redis_cache):
    """A client takes a connection from the pool for each command: threads (gthread
    workers) can share it."""

    def count() -> None:
        for _ in range(50):
            redis_cache.incr("hits")

    redis_cache.set("hits", 0, 30)
    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert redis_cache.get("hits") == 200
