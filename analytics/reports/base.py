"""What the reports share: their description, and grouped counts for two periods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.models import Case, QuerySet, Value, When
from django.db.models.functions import Coalesce
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


def grouped_sets(rows: QuerySet, sets: list[list[str]], **aggregates: Any) -> list[dict]:
    """`grouped` for several groupings of the same rows, one dict per grouping in `sets`.

    On PostgreSQL one scan computes them all (GROUP BY GROUPING SETS); elsewhere each is its
    own query. A key that may be NULL is grouped as COALESCE(key, 0) (ids are never 0), so
    the NULL of "not in this grouping" cannot be mistaken for a group of rows without one.
    """
    if connection.vendor != "postgresql" or len(sets) < 2:
        return [grouped(rows, keys, **aggregates) for keys in sets]
    keys = list(dict.fromkeys(k for keys in sets for k in keys))
    nullable = {k for k in keys if _nullable(rows.model, k)}
    names = {k: f"_set_{k}" if k in nullable else k for k in keys}
    rows = rows.annotate(**{names[k]: Coalesce(k, Value(0)) for k in nullable})
    query = rows.order_by().values(*names.values()).annotate(**aggregates)
    compiler = query.query.get_compiler(using=query.db)
    sql, sql_params = compiler.as_sql()
    # The SELECT list as compiled: a field's column, or an annotation's alias.
    columns = [alias or expression.target.attname for expression, _sql, alias in compiler.select]
    at = sql.rindex(" GROUP BY ")
    # The GROUP BY clause is the statement's tail: its parameters are the last ones.
    dropped = sql[at:].count("%s")
    sql_params = tuple(sql_params[: len(sql_params) - dropped])
    grouping = ", ".join(
        "(" + ", ".join(str(columns.index(names[k]) + 1) for k in keys) + ")" for keys in sets
    )
    sql = f"{sql[:at]} GROUP BY GROUPING SETS ({grouping})"
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        fetched = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    result: list[dict] = [{} for _ in sets]
    for values in fetched:
        present = {k for k in keys if values[names[k]] is not None}
        index = next(i for i, keys in enumerate(sets) if set(keys) == present)
        for k in nullable:
            value = values.pop(names[k])
            values[k] = None if value == 0 else value
        group = sets[index]
        key = tuple(values[k] for k in group) if len(group) > 1 else values[group[0]]
        result[index][key] = values
    return result


def _nullable(model: type, key: str) -> bool:
    try:
        return model._meta.get_field(key).null
    except FieldDoesNotExist:  # an annotation (the period's side, an hour): never NULL
        return False


def two_periods(
    params: Params,
    rows_of: Callable[[Any], QuerySet],
    keys: list[str],
    *,
    field: str = "created_at",
    **aggregates: Any,
) -> tuple[dict[Hashable, dict], dict[Hashable, dict]]:
    """`grouped` for the report's period and for the one it is compared with, where
    `rows_of(period)` selects the rows whose `field` falls in the period."""
    return two_periods_sets(params, rows_of, [keys], field=field, **aggregates)[0]


def two_periods_sets(
    params: Params,
    rows_of: Callable[[Any], QuerySet],
    sets: list[list[str]],
    *,
    field: str = "created_at",
    **aggregates: Any,
) -> list[tuple[dict[Hashable, dict], dict[Hashable, dict]]]:
    """`two_periods` for several groupings of the same rows (`grouped_sets`).

    The periods are adjacent (analytics.params.previous_period), so one scan of both,
    grouped by which side of the boundary each row falls, gives the two: half the reading
    of two queries, the same figures."""
    period, previous = params.period, params.previous
    if previous.last + dt.timedelta(days=1) != period.first:
        now = grouped_sets(rows_of(period), sets, **aggregates)
        before = grouped_sets(rows_of(previous), sets, **aggregates)
        return list(zip(now, before, strict=True))
    side = Case(When(**{f"{field}__gte": period.start}, then=Value(True)), default=Value(False))
    rows = rows_of(Period(previous.first, period.last)).annotate(_current=side)
    both = grouped_sets(rows, [[*keys, "_current"] for keys in sets], **aggregates)
    result = []
    for groups in both:
        current: dict[Hashable, dict] = {}
        before: dict[Hashable, dict] = {}
        for key, values in groups.items():
            *group, is_current = key if isinstance(key, tuple) else (key,)
            target = current if is_current else before
            target[tuple(group) if len(group) > 1 else (group[0] if group else None)] = values
        result.append((current, before))
    return result


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
