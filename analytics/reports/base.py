"""What the reports share: their description, and grouped counts for two periods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, QuerySet, Value, When
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from analytics.params import Params
from analytics.tables import Report
from crm.models import Membership
from crm.periods import Period


@dataclass(frozen=True)
class ReportSpec:
    slug: str
    title: str | Promise
    build: Callable[[Params], Report]
    # Whether the report reads leads (hidden in the simple mode, which has none).
    leads: bool = True


def grouped(rows: QuerySet, keys: list[str], **aggregates: Any) -> dict[Hashable, dict]:
    """One GROUP BY over `rows`: {key value (a tuple for several keys): {name: value}}."""
    result: dict[Hashable, dict] = {}
    for values in rows.order_by().values(*keys).annotate(**aggregates):
        key = tuple(values[k] for k in keys) if len(keys) > 1 else values[keys[0]]
        result[key] = values
    return result


def two_periods(
    params: Params,
    rows_of: Callable[[Any], QuerySet],
    keys: list[str],
    *,
    field: str = "created_at",
    **aggregates: Any,
) -> tuple[dict[Hashable, dict], dict[Hashable, dict]]:
    """`grouped` for the report's period and for the one it is compared with, where
    `rows_of(period)` selects the rows whose `field` falls in the period.

    The periods are adjacent (analytics.params.previous_period), so one scan of both,
    grouped by which side of the boundary each row falls, gives the two: half the reading
    of two queries, the same figures."""
    period, previous = params.period, params.previous
    if previous.last + dt.timedelta(days=1) != period.first:
        return (
            grouped(rows_of(period), keys, **aggregates),
            grouped(rows_of(previous), keys, **aggregates),
        )
    side = Case(When(**{f"{field}__gte": period.start}, then=Value(True)), default=Value(False))
    rows = rows_of(Period(previous.first, period.last)).annotate(_current=side)
    both = grouped(rows, [*keys, "_current"], **aggregates)
    current: dict[Hashable, dict] = {}
    before: dict[Hashable, dict] = {}
    for key, values in both.items():
        *group, is_current = key
        target = current if is_current else before
        target[tuple(group) if len(group) > 1 else group[0]] = values
    return current, before


def ordered_keys(
    current: dict[Hashable, dict], previous: dict[Hashable, dict], by: str
) -> list[Hashable]:
    """The groups of both periods, biggest first by `by` this period (then previous)."""
    keys = set(current) | set(previous)
    return sorted(
        keys,
        key=lambda k: (
            -(current.get(k, {}).get(by) or 0),
            -(previous.get(k, {}).get(by) or 0),
            str(k),
        ),
    )


def value(groups: dict[Hashable, dict], key: Hashable, name: str, default: Any = 0) -> Any:
    """A group's figure, `default` when the group has no rows in that period."""
    found = groups.get(key)
    return default if found is None else found.get(name, default)


def member_labels(owner_ids: Iterable[Hashable]) -> dict[Hashable, str]:
    """Owner ids → the member's full name or e-mail (one query); None → the shared inbox."""
    ids = {pk for pk in owner_ids if pk is not None}
    members = Membership.objects.filter(pk__in=ids).select_related("user")
    labels: dict[Hashable, str] = {m.pk: str(m.user) for m in members}
    labels[None] = _("Unassigned (shared inbox)")
    return labels
