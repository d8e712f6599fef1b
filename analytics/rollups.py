"""Daily rollups of the lead cohort: how they are kept, and how reports read them.

Keeping (the worker, `refresh`): every finished local day of a workspace gets its
`LeadDay` rows (one set per grain), its `LeadDuration` histograms (per duration grain and
metric) and its `StayDay` rows computed from the leads and their stays by the same
expressions the reports run raw, and a `RollupDay` row saying in which time zone, with which
response time limit and by which version. Triggers mark every change of a lead, of its deal
or of its stays (`RollupMark`, the lead's creation instant); `refresh` recomputes the
rolled-up days that have marks, and the days whose zone, limit or version no longer match,
then drops the marks it has dealt with. Idempotent: a day is deleted and computed again
from the leads.

Reading (analytics.reports.rolled): a day is *clean* when it has a `RollupDay` in the
workspace's zone and limit, of the current version, and no mark. A request whose every
filter and grouping is a dimension of one grain reads the clean days from the rollup and
every other day (today, days not rolled up yet, marked days) raw, and adds the two: figures
are never stale and equal the raw ones.
Medians and percentiles are read off the histograms of both (exact: a duration is kept in
the resolution it is shown in, analytics.sql.duration), the time in status from the stays'
sums and now. Any other request (a UTM or custom field filter, a grouping no grain has)
runs raw as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, Max, Q, Sum, When
from django.utils import timezone

from analytics.models import (
    DURATION_GRAINS,
    GRAIN_DIMENSIONS,
    ROLLUP_VERSION,
    LeadDay,
    LeadDuration,
    Metric,
    RollupDay,
    RollupMark,
    StayDay,
)
from analytics.sql import EpochSeconds, Rows, duration, local_day, local_hour
from crm import periods
from crm.models import Tenant
from deals.models import Outcome
from leads.models import Lead, LeadState

# The most days one `refresh` computes (a first run on a big workspace catches up in turns;
# the days not rolled up yet are read raw meanwhile).
REFRESH_DAYS = 400
CHUNK_DAYS = 62  # days computed by one grouped query
ONE_DAY = dt.timedelta(days=1)
# A report's grouping keys → the rollup's dimension names.
KEY_DIMENSIONS = {
    "owner_id": "owner",
    "status_id": "status",
    "state": "state",
    "is_repeat": "is_repeat",
    "source": "source",
    "channel_id": "channel_id",
    "utm_source": "utm_source",
    "utm_campaign": "utm_campaign",
    "hour": "hour",
}
# The measures that add up, as a column (or a sum of columns) of the rollup.
COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("leads",),
    "taken": ("taken",),
    "in_work": ("in_work",),
    "converted": ("converted",),
    "junk": ("junk",),
    "closed": ("converted", "junk"),
    "answered": ("answered",),
    "within_sla": ("within_sla",),
    "won": ("won",),
    "revenue": ("revenue",),
    "mql": ("mql",),
    "sal": ("sal",),
    "sql": ("sql",),
    "sql_won": ("sql_won",),
}


def raw_measure(name: str, sla_minutes: int) -> Any:
    """The aggregate over leads of a measure: what the reports count raw."""
    won = Q(deal__outcome=Outcome.WON)
    conditions: dict[str, Q | None] = {
        "leads": None,
        "taken": Q(taken_at__isnull=False),
        "in_work": Q(state=LeadState.IN_PROGRESS),
        "converted": Q(state=LeadState.CONVERTED),
        "junk": Q(state=LeadState.JUNK),
        "closed": Q(state__in=[LeadState.CONVERTED, LeadState.JUNK]),
        "answered": Q(first_response_at__isnull=False),
        # Compared as instants (exact at the limit itself), as the speed report does.
        "within_sla": Q(first_response_at__lte=F("created_at") + dt.timedelta(minutes=sla_minutes)),
        "won": won,
        # Qualification levels reached at some time (leads.Lead.mql_at…: a level skipped on
        # the way up is dated too, so each level's leads are among the one's before).
        "mql": Q(mql_at__isnull=False),
        "sal": Q(sal_at__isnull=False),
        "sql": Q(sql_at__isnull=False),
        "sql_won": Q(sql_at__isnull=False) & won,
    }
    if name == "revenue":
        return Sum("deal__amount", filter=won)
    return Rows(conditions[name])


def rolled_measure(name: str) -> Sum:
    """The aggregate over rollup rows of a measure."""
    columns = COLUMNS[name]
    expression = F(columns[0])
    for column in columns[1:]:
        expression = expression + F(column)
    return Sum(expression)


def duration_of(metric: str) -> Any:
    """A lead's duration of `metric` as the reports show it (NULL when it has none): the
    expression both the raw reports and the histograms group by."""
    if metric == Metric.RESPONSE:
        return duration("first_response_at", "created_at")
    if metric == Metric.TAKEN:
        return duration("taken_at", "created_at")
    if metric == Metric.CONVERTED:
        return Case(When(state=LeadState.CONVERTED, then=duration("closed_at", "taken_at")))
    if metric == Metric.WON:
        return Case(When(deal__outcome=Outcome.WON, then=duration("deal__closed_at", "closed_at")))
    raise ValueError(metric)


def stay_sums() -> dict[str, Any]:
    """The aggregates of a group of stays (`stays__…` of leads): closed ones, their lengths
    in whole seconds; open ones, the sum of their entering instants (epoch seconds)."""
    closed = Q(stays__left_at__isnull=False)
    open_ = Q(stays__left_at__isnull=True)
    return {
        "closed": Rows(closed),
        "closed_seconds": Sum(
            EpochSeconds("stays__left_at") - EpochSeconds("stays__entered_at"), filter=closed
        ),
        "open": Rows(open_),
        "open_entered": Sum(EpochSeconds("stays__entered_at"), filter=open_),
    }


def stays_of(leads: Any, since: dt.datetime | None = None) -> Any:
    """The leads joined to their stays entered since the lead's creation (one before it
    would be an inconsistency): one join, in one filter(). `since` (the period's start,
    implied) lets the stays' index skip the older ones."""
    conditions = [Q(stays__entered_at__gte=F("created_at"))]
    if since is not None:
        conditions.append(Q(stays__entered_at__gte=since))
    return leads.filter(*conditions)


def measures(sla_minutes: int = 0, **names: str) -> dict[str, Any]:
    """Raw aggregates under a report's names: `measures(created="leads")`."""
    return {alias: raw_measure(name, sla_minutes) for alias, name in names.items()}


def enabled() -> bool:
    return bool(getattr(settings, "ANALYTICS_ROLLUPS", True))


# Reading ----------------------------------------------------------------------------------


def _zone() -> str:
    return timezone.get_current_timezone().key


def clean_days(first: dt.date, last: dt.date, sla_minutes: int) -> set[dt.date]:
    """The days of first…last whose rollup holds for the workspace now: computed in its
    time zone and response time limit, and without a change since (two small queries)."""
    rolled = set(
        RollupDay.objects.filter(
            day__gte=first,
            day__lte=last,
            time_zone=_zone(),
            response_sla_minutes=sla_minutes,
            version=ROLLUP_VERSION,
        ).values_list("day", flat=True)
    )
    if not rolled:
        return set()
    # Only the rolled-up days' marks matter (not today's new leads, say).
    return rolled - marked_days(periods.Period(min(rolled), max(rolled)))


def marked_days(period: periods.Period) -> set[dt.date]:
    """The local days of `period` with a lead changed since their rollup."""
    return set(
        RollupMark.objects.filter(at__gte=period.start, at__lt=period.end)
        .annotate(day=local_day("at"))
        .order_by()
        .values_list("day", flat=True)
        .distinct()
    )


def day_ranges(days: Iterable[dt.date]) -> list[periods.Period]:
    """Days as runs of consecutive days."""
    runs: list[periods.Period] = []
    for day in sorted(days):
        if runs and runs[-1].last + ONE_DAY == day:
            runs[-1] = periods.Period(runs[-1].first, day)
        else:
            runs.append(periods.Period(day, day))
    return runs


def created_in(runs: list[periods.Period]) -> Q:
    """Leads created on the days of `runs`."""
    q = Q(pk__in=[])
    for run in runs:
        q |= Q(created_at__gte=run.start, created_at__lt=run.end)
    return q


# Keeping ----------------------------------------------------------------------------------


def days_of(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    """Every day of first…last."""
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def _lock(tenant: Tenant) -> None:
    """One refresh of a workspace at a time (PostgreSQL; SQLite's writes are serial)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [1013, tenant.pk])


def compute_days(tenant: Tenant, days: Iterable[dt.date]) -> int:
    """(Re)compute the rollup of `days` from the leads (inside the tenant's context);
    how many rows were written."""
    zone, sla = _zone(), tenant.response_sla_minutes
    written = 0
    runs = _chunks(day_ranges(days))
    for run in runs:
        between = {"day__gte": run.first, "day__lte": run.last}
        for model in (LeadDay, LeadDuration, StayDay):
            model.objects.filter(**between).delete()
        leads = Lead.objects.filter(
            deleted_at=None, created_at__gte=run.start, created_at__lt=run.end
        ).annotate(day=local_day("created_at"))
        written += _count_rows(leads, sla)
        written += _duration_rows(leads)
        written += _stay_rows(leads)
        RollupDay.objects.filter(**between).delete()
        RollupDay.objects.bulk_create(
            [
                RollupDay(day=day, time_zone=zone, response_sla_minutes=sla, version=ROLLUP_VERSION)
                for day in days_of(run.first, run.last)
            ]
        )
    return written


def _fields(dimensions: Iterable[str]) -> list[str]:
    return [f"{d}_id" if d in ("owner", "status") else d for d in sorted(dimensions)]


def _with_hour(leads: Any, dimensions: Iterable[str]) -> Any:
    return leads.annotate(hour=local_hour("created_at")) if "hour" in dimensions else leads


def _count_rows(leads: Any, sla: int) -> int:
    aggregates = {name: raw_measure(name, sla) for name in COLUMNS if name != "closed"}
    rows = []
    for grain, dimensions in GRAIN_DIMENSIONS.items():
        grouped = _with_hour(leads, dimensions).order_by().values("day", *_fields(dimensions))
        for values in grouped.annotate(**aggregates):
            rows.append(LeadDay(grain=grain, **values))
    LeadDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _duration_rows(leads: Any) -> int:
    """The histograms: per duration grain and metric, how many leads a day took each
    number of minutes (as shown)."""
    rows = []
    for grain, (dimensions, metrics) in DURATION_GRAINS.items():
        for metric in sorted(metrics):
            grouped = (
                _with_hour(leads, dimensions)
                .annotate(minutes=duration_of(metric))
                .filter(minutes__isnull=False)
                .order_by()
                .values("day", *_fields(dimensions), "minutes")
                .annotate(leads=Rows())
            )
            rows += [LeadDuration(grain=grain, metric=metric, **values) for values in grouped]
    LeadDuration.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _stay_rows(leads: Any) -> int:
    grouped = (
        stays_of(leads)
        .order_by()
        .values("day", "owner_id", "status_id", stay_status_id=F("stays__status_id"))
        .annotate(**stay_sums())
    )
    rows = []
    for values in grouped:
        values["closed_seconds"] = values["closed_seconds"] or 0  # SUM over no rows
        values["open_entered"] = values["open_entered"] or 0
        rows.append(StayDay(**values))
    StayDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _chunks(runs: list[periods.Period]) -> list[periods.Period]:
    chunks = []
    for run in runs:
        first = run.first
        while first <= run.last:
            last = min(first + dt.timedelta(days=CHUNK_DAYS - 1), run.last)
            chunks.append(periods.Period(first, last))
            first = last + ONE_DAY
    return chunks


def refresh(tenant: Tenant, *, limit: int = REFRESH_DAYS) -> dict[str, int]:
    """Bring the workspace's rollup up to date (inside its context): recompute the
    rolled-up days that were changed or hold for another zone or limit, roll up the
    finished days that are not yet (at most `limit` days in all, newest first), and drop
    the marks dealt with. Returns what it did."""
    _lock(tenant)
    zone, sla = _zone(), tenant.response_sla_minutes
    today = periods.today()
    newest_mark = RollupMark.objects.aggregate(newest=Max("pk"))["newest"]
    marks = RollupMark.objects.filter(pk__lte=newest_mark or 0)
    mark_days = set(
        marks.annotate(day=local_day("at")).order_by().values_list("day", flat=True).distinct()
    )
    rolled = dict(RollupDay.objects.values_list("day", "time_zone"))
    stale = set(
        RollupDay.objects.exclude(
            time_zone=zone, response_sla_minutes=sla, version=ROLLUP_VERSION
        ).values_list("day", flat=True)
    )
    first = _first_day()
    missing = set()
    if first is not None:
        missing = {day for day in days_of(first, today - ONE_DAY) if day not in rolled}
    wanted = ((mark_days & set(rolled)) | stale | missing) - {today}
    chosen = set(sorted(wanted, reverse=True)[:limit])
    written = compute_days(tenant, chosen)
    # Days rolled up for the future (a clock moved back) or today: not finished, read raw.
    for model in (RollupDay, LeadDay, LeadDuration, StayDay):
        model.objects.filter(day__gte=today).delete()
    # A mark is dealt with when its day was computed now or is not rolled up at all.
    kept = (mark_days & set(rolled)) - chosen
    dropped = 0
    if newest_mark is not None:
        done = marks
        if kept:
            done = marks.exclude(_at_in(day_ranges(kept)))
        dropped, _ = done.delete()
    return {
        "days": len(chosen),
        "rows": written,
        "marks": dropped,
        "left": len(wanted) - len(chosen),
    }


def _at_in(runs: list[periods.Period]) -> Q:
    q = Q(pk__in=[])
    for run in runs:
        q |= Q(at__gte=run.start, at__lt=run.end)
    return q


def _first_day() -> dt.date | None:
    """The local day of the workspace's first lead (None: no leads)."""
    first = (
        Lead.objects.filter(deleted_at=None)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if first is None else timezone.localdate(first)


def rebuild(tenant: Tenant) -> dict[str, int]:
    """Throw the workspace's rollup away and roll up every finished day again (inside its
    context): the answer to a doubt, or to rows written around the triggers."""
    _lock(tenant)
    for model in (LeadDay, LeadDuration, StayDay, RollupDay):
        model.objects.all().delete()
    RollupMark.objects.all().delete()
    first = _first_day()
    today = periods.today()
    days = list(days_of(first, today - ONE_DAY)) if first is not None else []
    return {"days": len(days), "rows": compute_days(tenant, days), "marks": 0, "left": 0}
