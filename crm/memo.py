"""Reads reused within one unit of work, such as a batch of deliveries in the worker.

`with memo_scope(): ...` opens a scope; inside it `memoized(key, load)` calls `load` once
per key and returns the same value after. Outside a scope it simply calls `load`, so the
code that memoizes works the same in a request, a task or a test. Keep only what the unit
of work does not change itself (statuses, rules, whether a blocklist is empty).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_scope: ContextVar[dict[Hashable, Any] | None] = ContextVar("memo_scope", default=None)
_savepoints: ContextVar[bool] = ContextVar("nested_savepoints", default=True)


@contextmanager
def memo_scope(*, savepoints: bool = True) -> Iterator[None]:
    """Remember `memoized` reads until the block ends. `savepoints=False`: the caller wraps
    each piece of work in its own savepoint, so services inside need none of their own
    (`nested_savepoints`); an error inside them then spoils that piece of work, which the
    caller rolls back and retries on its own."""
    token = _scope.set({})
    saving = _savepoints.set(savepoints)
    try:
        yield
    finally:
        _savepoints.reset(saving)
        _scope.reset(token)


def nested_savepoints() -> bool:
    """Whether an atomic block inside a service should make a savepoint (the default)."""
    return _savepoints.get()


def memoized(key: Hashable, load: Callable[[], T]) -> T:
    """`load()`, or what it returned for `key` earlier in the current scope."""
    store = _scope.get()
    if store is None:
        return load()
    if key not in store:
        store[key] = load()
    return store[key]
