"""Fixed-window rate limits in the shared cache (Redis in production): the channels'
endpoints per visitor and per channel, logins per client address."""

from __future__ import annotations

import logging
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


def _hits(bucket: str, window: int) -> int:
    """Count one hit in `bucket` (kept one window); the hits so far."""
    cache = caches["default"]  # the backend itself (the `cache` proxy hides its class)
    if isinstance(cache, RedisCache):
        # One round trip (INCR, then EXPIRE unless set) instead of the three that the cache
        # API's add / exists / incr take: every delivery pays it.
        client = cache._cache.get_client(bucket, write=True)
        key = cache.make_and_validate_key(bucket)
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window + 1, nx=True)
        return int(pipe.execute()[0])
    if cache.add(bucket, 1, timeout=window + 1):
        return 1
    try:
        return cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return 1


def over_limit(key: str, *, limit: int, window: int = 60) -> bool:
    """Count one hit on `key`; True when it is past `limit` hits in the current window.

    A limit of 0 or less means no limit. The cache is the only state: a restart forgives,
    and while the cache is unreachable nobody is limited (deliveries must still be stored).
    """
    if limit <= 0:
        return False
    bucket = f"ratelimit:{key}:{int(time.time() // window)}"
    try:
        hits = _hits(bucket, window)
    except Exception:  # the cache (Redis) is down: let the request through
        logger.warning("Rate limit %s not checked: the cache is unavailable.", key)
        return False
    return hits > limit


def hits(key: str, *, window: int = 60) -> int:
    """The hits counted on `key` in the current window (0 while the cache is unreachable)."""
    bucket = f"ratelimit:{key}:{int(time.time() // window)}"
    try:
        return int(caches["default"].get(bucket) or 0)
    except Exception:  # the cache (Redis) is down: nobody is limited
        logger.warning("Rate limit %s not read: the cache is unavailable.", key)
        return 0


def retry_after(window: int = 60) -> int:
    """Seconds until the current window ends."""
    return max(1, window - int(time.time()) % window)
