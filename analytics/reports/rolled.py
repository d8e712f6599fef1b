"""Reports reading the daily rollups (analytics.rollups): a request's grouped lead figures
from the rollup on the clean days and raw on every other day, added up; the whole request
raw when a filter or a grouping is no dimension of a grain (or rollups are off).

Medians and percentiles of durations are read off histograms: the rollup's of the clean
days plus the raw leads' of the other days, grouped by the duration in the minutes shown
(analytics.sql.duration); the value at the percentile's position is the one
`percentile_disc` gives over the leads. The time in status adds the stays' sums."""

# ruff: noqa: S608 - _percentiles_in_sql builds its statement from compiled querysets,
# this module's names and placeholders only

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Q, QuerySet, Sum, Value, When

from analytics.models import (
    DURATION_GRAINS,
    GRAIN_DIMENSIONS,
    STAY_DIMENSIONS,
    Grain,
    LeadDay,
    LeadDuration,
    StayDay,
)
from analytics.params import Params
from analytics.reports.base import two_periods, two_periods_sets
from analytics.rollups import (
    KEY_DIMENSIONS,
    ONE_DAY,
    clean_days,
    created_in,
    day_ranges,
    days_of,
    duration_of,
    enabled,
    measures,
    rolled_measure,
    stay_sums,
    stays_of,
)
from analytics.sql import Percentiles, Rows, local_day, local_hour
from crm import customfields
from crm.periods import Period

# A report's durations: its name of a figure → (analytics.models.Metric, percentile).
Durations = dict[str, tuple[str, float]]
STAY_SUMS = ("closed", "closed_seconds", "open", "open_entered")


def grain_for(params: Params, keys: Iterable[str]) -> str | None:
    """The grain whose dimensions hold every grouping key and every filter of the request
    (its scope too); None when none does (the request runs raw)."""
    needed = _needed(params, keys)
    if needed is None:
        return None
    for grain in (Grain.STATUS, Grain.SOURCE, Grain.CAMPAIGN, Grain.HOUR):
        if needed <= GRAIN_DIMENSIONS[grain]:
            return grain
    return None


def duration_grain_for(params: Params, keys: Iterable[str], metrics: Iterable[str]) -> str | None:
    """The narrowest duration grain holding the keys, the filters and the metrics."""
    needed = _needed(params, keys)
    if needed is None:
        return None
    wanted = set(metrics)
    for grain, (dimensions, available) in DURATION_GRAINS.items():
        if needed <= dimensions and wanted <= available:
            return grain
    return None


def _needed(params: Params, keys: Iterable[str]) -> set[str] | None:
    """The dimensions the grouping keys and the filters (scope too) need; None when one
    is no dimension of any rollup."""
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
    return needed


Groups = dict[Hashable, dict]


def lead_groups(
    params: Params,
    sets: list[list[str]],
    names: dict[str, str],
    extra: dict[str, Any] | None = None,
    durations: Durations | None = None,
    *,
    split: bool = True,
) -> list[tuple[Groups, Groups]]:
    """`two_periods_sets(params, params.leads, sets, **measures(**names), **extra)` — the
    report's grouped figures of both periods — with the measures (`names`: the report's
    name → a measure of analytics.rollups.COLUMNS) from the rollup where it holds (each set
    from the grain that covers it) and raw over every other day. `durations` (name →
    metric and percentile) come from the histograms where the rollup holds. Each set is
    read from the rollup when a grain holds it (its keys, the request's filters, its
    metrics), else with the other such sets in one raw scan of both periods, durations
    included (`split=False`: all sets raw when one is — where the scan it needs anyway
    makes the others nearly free). `extra` aggregates always run raw: in the same scan when
    the measures do, else in a scan of their own. A key "hour" is the local hour of
    creation."""
    sla_minutes = params.actor.tenant.response_sla_minutes
    raw = measures(sla_minutes, **names)
    extra = extra or {}
    durations = durations or {}
    metrics = {metric for metric, _p in durations.values()}
    count_grains = [grain_for(params, keys) for keys in sets]
    duration_grains = [
        duration_grain_for(params, keys, metrics) if durations else None for keys in sets
    ]
    held = [
        index
        for index, (counts, times) in enumerate(zip(count_grains, duration_grains, strict=True))
        if counts is not None and (times is not None or not durations)
    ]
    if not split and len(held) < len(sets):
        held = []
    clean = _clean(params, [count_grains[i] for i in held]) if held else set()
    rolled = held if clean else []
    result: list[tuple[Groups, Groups]] = [({}, {}) for _ in sets]
    # The sets no rollup holds (or all, nothing being clean): one raw scan of both periods.
    unheld = [index for index in range(len(sets)) if index not in rolled]
    if unheld:
        raw_sets = [sets[i] for i in unheld]
        parts = two_periods_sets(
            params,
            _rows_of(params, raw_sets),
            raw_sets,
            **raw,
            **extra,
            **_raw_percentiles(durations),
        )
        for index, part in zip(unheld, parts, strict=True):
            for side in part:
                for values in side.values():
                    _split_percentiles(values, durations)
            result[index] = part
    if rolled:
        parts = _from_rollup(
            params,
            [sets[i] for i in rolled],
            names,
            extra,
            durations,
            [count_grains[i] for i in rolled],
            [duration_grains[i] for i in rolled],
            clean,
        )
        for index, part in zip(rolled, parts, strict=True):
            result[index] = part
    return result


def _from_rollup(
    params: Params,
    sets: list[list[str]],
    names: dict[str, str],
    extra: dict[str, Any],
    durations: Durations,
    count_grains: list[str | None],
    duration_grains: list[str | None],
    clean: set[dt.date],
) -> list[tuple[Groups, Groups]]:
    """`lead_groups` of sets every one of which a grain holds: the clean days from the
    rollup, the other days raw, added up."""
    raw = measures(params.actor.tenant.response_sla_minutes, **names)
    metrics = {metric for metric, _p in durations.values()}
    rows_of = _rows_of(params, sets)
    first, last = params.previous.first, params.period.last
    # Today, the days not rolled up yet, the changed days: raw.
    rest = day_ranges(day for day in days_of(first, last) if day not in clean)
    merged: list[tuple[Groups, Groups]] = [({}, {}) for _ in sets]
    if rest and names:
        rest_q = created_in(rest)
        parts = two_periods_sets(params, lambda period: rows_of(period).filter(rest_q), sets, **raw)
        for target, part in zip(merged, parts, strict=True):
            _add(target, part, names)
    if names:
        rolled_sets = _rolled(params, sets, count_grains, names, clean)
        for target, part in zip(merged, rolled_sets, strict=True):
            _add(target, part, names)
    if durations:
        if connection.vendor == "postgresql":
            found_sets = [
                _percentiles_in_sql(params, keys, grain, durations, clean, rest, rows_of)
                for keys, grain in zip(sets, duration_grains, strict=True)
            ]
        else:
            histograms = _histograms(params, sets, duration_grains, metrics, clean, rest, rows_of)
            found_sets = [_percentiles_of(part, durations) for part in histograms]
        for target, part in zip(merged, found_sets, strict=True):
            for side, found in zip(target, part, strict=True):
                for key, values in found.items():
                    side.setdefault(key, {}).update(values)
                for values in side.values():
                    for name in durations:
                        values.setdefault(name, None)
    if extra:
        raw_sets = two_periods_sets(params, rows_of, sets, **extra)
        for target, part in zip(merged, raw_sets, strict=True):
            for side, groups in zip(target, part, strict=True):
                for key, values in groups.items():
                    side.setdefault(key, {}).update({k: values[k] for k in extra})
    return merged


def _rows_of(params: Params, sets: list[list[str]]) -> Callable[[Any], QuerySet]:
    """The request's leads of a period, with their local hour of creation when a set
    groups by it."""
    if any("hour" in keys for keys in sets):
        return lambda period=None: params.leads(period).annotate(hour=local_hour("created_at"))
    return params.leads


def _clean(params: Params, grains: list[str | None]) -> set[dt.date]:
    """The clean days of both periods when every part of the request has a grain."""
    if not enabled() or None in grains or params.previous.last + ONE_DAY != params.period.first:
        return set()
    first, last = params.previous.first, params.period.last
    # The same days for every part of one report (kept on the request's parameters).
    memo = params.__dict__.setdefault("_clean_days", {})
    key = (first, last, params.actor.tenant.response_sla_minutes)
    if key not in memo:
        memo[key] = clean_days(*key)
    return memo[key]


def _raw_percentiles(durations: Durations) -> dict[str, Percentiles]:
    """One percentile aggregate a metric (one sort for all its percentiles)."""
    by_metric: dict[str, list[float]] = {}
    for metric, p in durations.values():
        by_metric.setdefault(metric, []).append(p)
    return {f"_p_{m}": Percentiles(duration_of(m), tuple(ps)) for m, ps in by_metric.items()}


def _split_percentiles(values: dict[str, Any], durations: Durations) -> None:
    """The metrics' percentile tuples as the durations' names (whole minutes)."""
    found: dict[str, list[Any]] = {}
    for metric, _p in durations.values():
        if metric not in found:
            found[metric] = list(values.pop(f"_p_{metric}", None) or ())
    for name, (metric, _p) in durations.items():
        taken = found[metric].pop(0) if found[metric] else None
        values[name] = None if taken is None else int(taken)


def percentile(histogram: Counter | None, p: float) -> int | None:
    """The discrete `p`-percentile of the values a histogram counts: PostgreSQL's
    `percentile_disc` — the first value whose cumulative count reaches ⌈p × n⌉."""
    if not histogram:
        return None
    position = max(math.ceil(p * sum(histogram.values())), 1)
    seen = 0
    for minutes in sorted(histogram):
        seen += histogram[minutes]
        if seen >= position:
            return minutes
    return None  # not reached: the last value's cumulative count is n


def _histograms(
    params: Params,
    sets: list[list[str]],
    grains: list[str | None],
    metrics: set[str],
    clean: set[dt.date],
    rest: list[Any],
    rows_of: Callable[[Any], QuerySet],
) -> list[tuple[dict, dict]]:
    """Per set, both periods: {group key: {metric: Counter(minutes → leads)}}, from the
    rollup's histograms on the clean days and from the leads on the `rest`."""
    result: list[tuple[dict, dict]] = []
    side = Case(When(day__gte=params.period.first, then=Value(True)), default=Value(False))
    for keys, grain in zip(sets, grains, strict=True):
        current: dict = {}
        before: dict = {}
        rows = params.lead_filters(
            LeadDuration.objects.filter(_on_days(clean), grain=grain, metric__in=metrics)
        )
        query = (
            rows.annotate(_current=side)
            .order_by()
            .values(*keys, "metric", "minutes", "_current")
            .annotate(n=Sum("leads"))
        )
        for found in query:
            target = current if found["_current"] else before
            _count(target, _key(found, keys), found["metric"], found["minutes"], found["n"])
        result.append((current, before))
    if rest:
        rest_q = created_in(rest)
        for metric in sorted(metrics):
            parts = two_periods_sets(
                params,
                lambda period, metric=metric: (
                    rows_of(period)
                    .filter(rest_q)
                    .annotate(_minutes=duration_of(metric))
                    .filter(_minutes__isnull=False)
                ),
                [[*keys, "_minutes"] for keys in sets],
                n=Rows(),
            )
            for (current, before), part, keys in zip(result, parts, sets, strict=True):
                for target, groups in zip((current, before), part, strict=True):
                    for values in groups.values():
                        _count(target, _key(values, keys), metric, values["_minutes"], values["n"])
    return result


def _percentiles_in_sql(
    params: Params,
    keys: list[str],
    grain: str | None,
    durations: Durations,
    clean: set[dt.date],
    rest: list[Any],
    rows_of: Callable[[Any], QuerySet],
) -> tuple[dict, dict]:
    """PostgreSQL: the durations' percentiles per group of `keys`, both periods, in one
    statement: the rollup's histogram rows of the clean days and the `rest` days' leads
    grouped by minutes, summed per minute, then the first minute whose running count
    reaches ⌈p × n⌉ (`percentile_disc`'s rule, in double precision as PostgreSQL computes
    it) — one row a group and percentile comes back, not the histograms."""
    metrics = sorted({metric for metric, _p in durations.values()})
    day_side = Case(When(day__gte=params.period.first, then=Value(True)), default=Value(False))
    rolled = (
        params.lead_filters(
            LeadDuration.objects.filter(_on_days(clean), grain=grain, metric__in=metrics)
        )
        .annotate(_current=day_side)
        .order_by()
        .values(*keys, "metric", "minutes", "_current")
        .annotate(n=Sum("leads"))
    )
    parts = [(rolled, "metric", "minutes")]
    if rest:
        rest_q = created_in(rest)
        both = Period(params.previous.first, params.period.last)
        lead_side = Case(
            When(created_at__gte=params.period.start, then=Value(True)), default=Value(False)
        )
        for metric in metrics:
            leads = (
                rows_of(both)
                .filter(rest_q)
                .annotate(_minutes=duration_of(metric))
                .filter(_minutes__isnull=False)
                .annotate(_metric=Value(metric, output_field=CharField()), _current=lead_side)
                .order_by()
                .values(*keys, "_metric", "_minutes", "_current")
                .annotate(n=Rows())
            )
            parts.append((leads, "_metric", "_minutes"))
    columns = [connection.ops.quote_name(k) for k in keys]
    selects, sql_params = [], []
    for query, metric_column, minutes_column in parts:
        sql, part_params = query.query.get_compiler(using=query.db).as_sql()
        picked = ", ".join([*columns, f'"{metric_column}"', f'"{minutes_column}"'])
        # Compiled querysets and this module's own names: no outside text.
        selects.append(f'SELECT {picked}, "_current", "n" FROM ({sql}) AS part')
        sql_params += part_params
    ps = sorted({(metric, p) for metric, p in durations.values()})
    names = [f"k{i}" for i in range(len(keys))]
    inner = " UNION ALL ".join(selects)
    aliases = ", ".join([*names, "metric", "minutes", "_current", "n"])
    key_list = "".join(f"{n}, " for n in names)
    values_sql = ", ".join("(%s, %s::float8)" for _ in ps)
    statement = (
        f"WITH bars AS (SELECT {key_list}metric, minutes, _current, SUM(n) AS n "
        f"FROM ({inner}) AS u ({aliases}) GROUP BY {key_list}metric, minutes, _current), "
        f"runs AS (SELECT *, SUM(n) OVER (PARTITION BY {key_list}metric, _current "
        f"ORDER BY minutes) AS running, SUM(n) OVER (PARTITION BY {key_list}metric, _current) "
        f"AS total FROM bars) "
        f"SELECT {key_list}runs.metric, _current, ps.p, MIN(minutes) FROM runs "
        f"JOIN (VALUES {values_sql}) AS ps (metric, p) ON ps.metric = runs.metric "
        f"WHERE running::float8 >= ceil(ps.p * total::float8) "
        f"GROUP BY {key_list}runs.metric, _current, ps.p"
    )
    for metric, p in ps:
        sql_params += [metric, p]
    by_percentile: dict[tuple[str, float], list[str]] = {}
    for name, (metric, p) in durations.items():
        by_percentile.setdefault((metric, p), []).append(name)
    current: dict = {}
    before: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, sql_params)
        for row in cursor.fetchall():
            *group, metric, is_current, p, minutes = row
            key = tuple(group) if len(group) > 1 else (group[0] if group else None)
            target = current if is_current else before
            for name in by_percentile.get((metric, float(p)), []):
                target.setdefault(key, {})[name] = int(minutes)
    return current, before


def _percentiles_of(part: tuple[dict, dict], durations: Durations) -> tuple[dict, dict]:
    """The durations' percentiles of each group's histograms, both periods."""
    current, before = (
        {
            key: {name: percentile(by_metric.get(m), p) for name, (m, p) in durations.items()}
            for key, by_metric in side.items()
        }
        for side in part
    )
    return current, before


def _count(target: dict, key: Hashable, metric: str, minutes: int, n: int) -> None:
    target.setdefault(key, {}).setdefault(metric, Counter())[minutes] += n


def _key(values: dict, keys: list[str]) -> Hashable:
    return tuple(values[k] for k in keys) if len(keys) > 1 else (values[keys[0]] if keys else None)


def stay_groups(params: Params) -> tuple[Groups, Groups]:
    """The stays of the cohort's leads by the stay's status, both periods: closed (count
    and seconds) and open (count and the sum of their entering instants) — analytics.
    rollups.stay_sums — from the rollup on the clean days and raw on the others."""
    needed = _needed(params, [])
    allowed = needed is not None and needed <= STAY_DIMENSIONS
    clean = _clean(params, [Grain.STATUS if allowed else None])

    def raw(period: Any, where: Q | None = None) -> QuerySet:
        rows = params.leads(period)
        if where is not None:
            rows = rows.filter(where)
        return stays_of(rows, since=period.start)

    key = "stays__status_id"
    if not clean:
        return _stay_totals(two_periods(params, raw, [key], **stay_sums()))
    first, last = params.previous.first, params.period.last
    rest = day_ranges(day for day in days_of(first, last) if day not in clean)
    merged: tuple[Groups, Groups] = ({}, {})
    if rest:
        rest_q = created_in(rest)
        part = two_periods(params, lambda period: raw(period, rest_q), [key], **stay_sums())
        _add(merged, _stay_totals(part), dict.fromkeys(STAY_SUMS, ""))
    side = Case(When(day__gte=params.period.first, then=Value(True)), default=Value(False))
    rows = params.lead_filters(StayDay.objects.filter(_on_days(clean)))
    query = (
        rows.annotate(_current=side)
        .order_by()
        .values("stay_status_id", "_current")
        .annotate(**{f"_{name}": Sum(name) for name in STAY_SUMS})
    )
    for found in query:
        values = {name: found[f"_{name}"] for name in STAY_SUMS}
        target = merged[0] if found["_current"] else merged[1]
        _add_group(target, found["stay_status_id"], values, dict.fromkeys(STAY_SUMS, ""))
    return merged


def _stay_totals(part: tuple[Groups, Groups]) -> tuple[Groups, Groups]:
    """The stays' sums with 0 for a SUM over no rows."""
    for side in part:
        for values in side.values():
            for name in STAY_SUMS:
                values[name] = values.get(name) or 0
    return part


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
