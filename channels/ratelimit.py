"""Fixed-window rate limits in the shared cache (Redis in production)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def over_limit(key: str, *, limit: int, window: int = 60) -> bool:
    """Count one hit on `key`; True when it is past `limit` hits in the current window.

    A limit of 0 or less means no limit. The cache is the only state: a restart forgives,
    and while the cache is unreachable nobody is limited (deliveries must still be stored).
    """
    if limit <= 0:
        return False
    bucket = f"ratelimit:{key}:{int(time.time() // window)}"
    try:
        if cache.add(bucket, 1, timeout=window + 1):
            return False
        try:
            hits = cache.incr(bucket)
        except ValueError:  # expired between add and incr
            cache.add(bucket, 1, timeout=window + 1)
            return False
    except Exception:  # the cache (Redis) is down: let the request through
        logger.warning("Rate limit %s not checked: the cache is unavailable.", key)
        return False
    return hits > limit


def retry_after(window: int = 60) -> int:
    """Seconds until the current window ends."""
    return max(1, window - int(time.time()) % window)
