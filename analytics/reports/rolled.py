"""Reports reading the daily rollups (analytics.rollups): a request's grouped lead figures
from the rollup on the clean days and raw on every other day, added up; the whole request
raw when a filter or a grouping is no dimension of a grain (or rollups are off)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from typing import Any

from django.db.models import Case, Q, Sum, Value, When

from analytics.models import GRAIN_DIMENSIONS, Grain, LeadDay
from analytics.params import Params
from analytics.reports.base import two_periods_sets
from analytics.rollups import (
    KEY_DIMENSIONS,
    ONE_DAY,
    clean_days,
    created_in,
    day_ranges,
    days_of,
    enabled,
    measures,
    rolled_measure,
)
from analytics.sql import Rows, local_day
from crm import customfields


def grain_for(params: Params, keys: Iterable[str]) -> str | None:
    """The grain whose dimensions hold every grouping key and every filter of the request
    (its scope too); None when none does (the request runs raw)."""
    needed = set()
    for key in keys:
        if key not in KEY_DIMENSIONS:
            return None
        needed.add(KEY_DIMENSIONS[key])
    data = params.data
    if params.lead_owners is not None or data.get("owner") or data.get("team") is not None:
        needed.add("owner")
    for name, dimension in (("source", "source"), ("channel", "channel_id"), ("status", "status")):
        if data.get(name):
            needed.add(dimension)
    for name in ("utm_source", "utm_campaign"):
        if data.get(name):
            return None  # a UTM filter narrows every table, the campaign grain has only one
    if any(
        data.get(customfields.PREFIX + d.key) not in (None, "", []) for d in params.custom_fields
    ):
        return None
    for grain in (Grain.STATUS, Grain.SOURCE, Grain.CAMPAIGN):
        if needed <= GRAIN_DIMENSIONS[grain]:
            return grain
    return None


Groups = dict[Hashable, dict]


def lead_groups(
    params: Params,
    sets: list[list[str]],
    names: dict[str, str],
    extra: dict[str, Any] | None = None,
) -> list[tuple[Groups, Groups]]:
    """`two_periods_sets(params, params.leads, sets, **measures(**names), **extra)` — the
    report's grouped figures of both periods — with the measures (`names`: the report's
    name → a measure of analytics.rollups.COLUMNS) from the rollup where it holds (each set
    from the grain that covers it) and raw over every other day. `extra` aggregates (medians,
    percentiles: they do not add up) always run raw: in the same scan when the measures do,
    else in a scan of their own."""
    sla_minutes = params.actor.tenant.response_sla_minutes
    raw = measures(sla_minutes, **names)
    extra = extra or {}
    grains = [grain_for(params, keys) for keys in sets]
    first, last = params.previous.first, params.period.last
    clean: set[dt.date] = set()
    if enabled() and None not in grains and params.previous.last + ONE_DAY == params.period.first:
        clean = clean_days(first, last, sla_minutes)
    if not clean:
        return two_periods_sets(params, params.leads, sets, **raw, **extra)
    # Today, the days not rolled up yet, the changed days: raw.
    rest = day_ranges(day for day in days_of(first, last) if day not in clean)
    merged: list[tuple[Groups, Groups]] = [({}, {}) for _ in sets]
    if rest:
        rest_q = created_in(rest)
        parts = two_periods_sets(
            params, lambda period: params.leads(period).filter(rest_q), sets, **raw
        )
        for target, part in zip(merged, parts, strict=True):
            _add(target, part, names)
    rolled_sets = _rolled(params, sets, grains, names, clean)
    for target, part in zip(merged, rolled_sets, strict=True):
        _add(target, part, names)
    if extra:
        raw_sets = two_periods_sets(params, params.leads, sets, **extra)
        for target, part in zip(merged, raw_sets, strict=True):
            for side, groups in zip(target, part, strict=True):
                for key, values in groups.items():
                    side.setdefault(key, {}).update({k: values[k] for k in extra})
    return merged


def _rolled(
    params: Params,
    sets: list[list[str]],
    grains: list[str | None],
    names: dict[str, str],
    clean: set[dt.date],
) -> list[tuple[Groups, Groups]]:
    """The rollup's figures of the clean days, per set (one query a set, over few rows)."""
    # Named apart from the columns they sum ("converted" is both).
    aggregates = {f"_{alias}": rolled_measure(name) for alias, name in names.items()}
    days = _on_days(clean)
    side = Case(When(day__gte=params.period.first, then=Value(True)), default=Value(False))
    result = []
    for keys, grain in zip(sets, grains, strict=True):
        rows = params.lead_filters(LeadDay.objects.filter(days, grain=grain))
        current: Groups = {}
        before: Groups = {}
        query = rows.annotate(_current=side).order_by().values(*keys, "_current")
        for found in query.annotate(**aggregates):
            values = {k: found[k] for k in keys}
            values.update({alias: found[f"_{alias}"] for alias in names})
            key = (
                tuple(values[k] for k in keys)
                if len(keys) > 1
                else (values[keys[0]] if keys else None)
            )
            _add_group(current if found["_current"] else before, key, values, names)
        result.append((current, before))
    return result


def _add(target: tuple[Groups, Groups], part: tuple[Groups, Groups], names: dict[str, str]) -> None:
    for side, groups in zip(target, part, strict=True):
        for key, values in groups.items():
            _add_group(side, key, values, names)


def _add_group(side: Groups, key: Hashable, values: dict, names: dict[str, str]) -> None:
    """Add a group's figures into `side` (a sum is None only when every part is None, as
    SUM over the union would be)."""
    found = side.get(key)
    if found is None:
        side[key] = dict(values)
        return
    for alias in names:
        a, b = found.get(alias), values.get(alias)
        found[alias] = b if a is None else (a if b is None else a + b)


def leads_by_day(params: Params) -> dict[dt.date, int]:
    """The leads of the period per local day (the dashboard's trend), from the rollup on
    clean days when the request allows it."""
    period = params.period
    counts: dict[dt.date, int] = {}
    clean: set[dt.date] = set()
    if enabled() and grain_for(params, []) is not None:
        clean = clean_days(period.first, period.last, params.actor.tenant.response_sla_minutes)
    if clean:
        grain = grain_for(params, [])
        rows = params.lead_filters(LeadDay.objects.filter(_on_days(clean), grain=grain))
        counts.update(rows.order_by().values_list("day").annotate(n=Sum("leads")))
    rest = day_ranges(day for day in days_of(period.first, period.last) if day not in clean)
    if rest:
        raw = (
            params.leads()
            .filter(created_in(rest))
            .annotate(day=local_day("created_at"))
            .order_by()
            .values_list("day")
            .annotate(n=Rows())
        )
        counts.update(raw)
    return counts


def _on_days(days: set[dt.date]) -> Q:
    """Rollup rows of `days` (as ranges of consecutive days)."""
    q = Q(pk__in=[])
    for run in day_ranges(days):
        q |= Q(day__gte=run.first, day__lte=run.last)
    return q
