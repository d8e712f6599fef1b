"""Daily rollups of the lead cohort: how they are kept, and how reports read them.

Keeping (the worker, `refresh`): every finished local day of a workspace gets its
`LeadDay` rows (one set per grain) computed from the leads by the same aggregates the
reports run raw, and a `RollupDay` row saying in which time zone and with which response
time limit. Triggers mark every change of a lead or of its deal (`RollupMark`, the lead's
creation instant); `refresh` recomputes the rolled-up days that have marks, and the days
whose zone or limit no longer match, then drops the marks it has dealt with. Idempotent:
a day is deleted and computed again from the leads.

Reading (`lead_groups`): a day is *clean* when it has a `RollupDay` in the workspace's zone
and limit and no mark. A request whose every filter and grouping is a dimension of one
grain reads the clean days from the rollup and every other day (today, days not rolled up
yet, marked days) raw, and adds the two: figures are never stale and equal the raw ones.
Any other request (a UTM or custom field filter, a grouping no grain has), and any figure
that does not add up (medians, percentiles), runs raw as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from analytics.models import GRAIN_DIMENSIONS, LeadDay, RollupDay, RollupMark
from analytics.sql import Rows, local_day
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
        LeadDay.objects.filter(day__gte=run.first, day__lte=run.last).delete()
        leads = Lead.objects.filter(
            deleted_at=None, created_at__gte=run.start, created_at__lt=run.end
        ).annotate(day=local_day("created_at"))
        aggregates = {name: raw_measure(name, sla) for name in COLUMNS if name != "closed"}
        rows = []
        for grain, dimensions in GRAIN_DIMENSIONS.items():
            fields = [f"{d}_id" if d in ("owner", "status") else d for d in sorted(dimensions)]
            for values in leads.order_by().values("day", *fields).annotate(**aggregates):
                rows.append(LeadDay(grain=grain, **values))
        LeadDay.objects.bulk_create(rows, batch_size=2000)
        written += len(rows)
        RollupDay.objects.filter(day__gte=run.first, day__lte=run.last).delete()
        RollupDay.objects.bulk_create(
            [
                RollupDay(day=day, time_zone=zone, response_sla_minutes=sla)
                for day in days_of(run.first, run.last)
            ]
        )
    return written


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
        RollupDay.objects.exclude(time_zone=zone, response_sla_minutes=sla).values_list(
            "day", flat=True
        )
    )
    first = _first_day()
    missing = set()
    if first is not None:
        missing = {day for day in days_of(first, today - ONE_DAY) if day not in rolled}
    wanted = ((mark_days & set(rolled)) | stale | missing) - {today}
    chosen = set(sorted(wanted, reverse=True)[:limit])
    written = compute_days(tenant, chosen)
    # Days rolled up for the future (a clock moved back) or today: not finished, read raw.
    RollupDay.objects.filter(day__gte=today).delete()
    LeadDay.objects.filter(day__gte=today).delete()
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
    LeadDay.objects.all().delete()
    RollupDay.objects.all().delete()
    RollupMark.objects.all().delete()
    first = _first_day()
    today = periods.today()
    days = list(days_of(first, today - ONE_DAY)) if first is not None else []
    return {"days": len(days), "rows": compute_days(tenant, days), "marks": 0, "left": 0}
