"""Keyset pagination by (created_at, id) descending: no COUNT, constant cost per page."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list: rows and the cursor of the next page."""

    rows: list[Any]
    next_cursor: str | None


def encode(created_at: datetime, pk: int) -> str:
    raw = json.dumps([created_at.isoformat(), pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int] | None:
    """The position in a cursor, or None for a malformed one (the first page then)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, pk = json.loads(raw)
        moment = parse_datetime(created)
        return (moment, int(pk)) if moment else None
    except (ValueError, TypeError):
        return None


def page_newest_first(
    keys: QuerySet,
    rows_by_id: Callable[[list[int]], dict[int, Any]],
    cursor: str | None,
    size: int | None = None,
) -> Page:
    """The page after `cursor`: its (created_at, id) keys from the join-free `keys`
    queryset (so the planner walks the ordered index), then its rows by id."""
    return page_of_parts([keys], rows_by_id, cursor, size)


def page_of_parts(
    parts: list[QuerySet],
    rows_by_id: Callable[[list[int]], dict[int, Any]],
    cursor: str | None,
    size: int | None = None,
) -> Page:
    """The same over several index-ordered parts (the inbox: mine, and the shared pool):
    the newest keys of each part, merged; one query for the keys (one per part where the
    database cannot limit the parts of a UNION, SQLite) plus one for the rows."""
    size = size or PAGE_SIZE
    position = decode(cursor) if cursor else None
    newest = []
    for keys in parts:
        if position is not None:
            created, pk = position
            keys = keys.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk))
        newest.append(
            keys.order_by("-created_at", "-pk").values_list("created_at", "pk")[: size + 1]
        )
    found: list[tuple[datetime, int]]
    if len(newest) > 1 and connections[newest[0].db].features.supports_slicing_ordering_in_compound:
        # One statement, (… LIMIT n) UNION ALL (… LIMIT n): each part keeps its index walk.
        found = list(newest[0].union(*newest[1:], all=True))
    else:
        found = [key for keys in newest for key in keys]
    found.sort(reverse=True)
    ids = [pk for _created, pk in found[:size]]
    by_id = rows_by_id(ids)
    rows = [by_id[pk] for pk in ids if pk in by_id]
    more = len(found) > size and rows
    return Page(rows=rows, next_cursor=encode(*found[size - 1]) if more else None)
