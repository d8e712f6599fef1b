"""SQLite (the zero-setup dev database) matches only ASCII case-insensitively in LIKE;
Voronka's data is Russian, so `icontains` there gets a Unicode-aware LIKE."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _compile(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts, chars = [], iter(pattern)
    for char in chars:
        if escape and char == escape:
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def unicode_like(pattern: str | None, value: Any, escape: str | None = None) -> bool | None:
    """SQL `value LIKE pattern [ESCAPE escape]`, case-insensitive for every script."""
    if pattern is None or value is None:
        return None
    return _compile(pattern, escape).fullmatch(str(value)) is not None


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver: replace SQLite's LIKE on each new connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("like", 2, unicode_like, deterministic=True)
        connection.connection.create_function("like", 3, unicode_like, deterministic=True)
