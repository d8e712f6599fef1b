"""Daily rollups of the lead cohort figures (decision 011).

* `LeadDay`: the counts and sums of the leads created on one local day of a workspace,
  grouped by the dimensions of one *grain*. A grain is one of the few groupings the reports
  read; a row of one grain leaves the other grains' dimensions empty. One table of narrow
  grains, not one wide cube: a cube over owner × status × source × channel has nearly as
  many rows as the leads (bench data: 630k rows for 1.1M leads), a grain a tenth of them.
* `RollupDay`: which days are rolled up, in which time zone and with which response time
  limit. A day counts as rolled up only while both still match the workspace's.
* `LeadDuration`: per-minute histograms of the same leads' durations (first response,
  creation → work, work → conversion, conversion → won deal) in the resolution the reports
  show (analytics.sql.duration), by a few narrow grains of their own: a median or a
  percentile of the period is read off the summed histograms exactly.
* `StayDay`: the stays (analytics: time in status) of the same leads, per status — closed
  ones as a count and a sum of seconds, open ones as a count and a sum of the instants they
  were entered, so the average up to *now* is computed when read.
* `RollupMark`: a change that may have touched a rolled-up day — the creation instant of a
  lead that was inserted, changed in a figure's column, deleted, or whose deal was won,
  lost or re-priced. Database triggers (analytics/triggers.py) write it in the same
  transaction as the change, whatever code made it (services, `QuerySet.update`, cascades,
  imports); a day with a mark is read raw until the periodic job has recomputed it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantModel


class Grain(models.TextChoices):
    # (owner, status, state, repeat): the status report, junk by status, and every figure
    # narrowed by a status (with or without an owner, a team, a scope).
    STATUS = "status", _("Status")
    # (owner, source, channel): the source report's first two tables, the funnel, the
    # dashboard, and every figure narrowed by source or channel (and owner, team, scope).
    SOURCE = "source", _("Source")
    # (utm_source, utm_campaign): the source report's campaign table, unfiltered only.
    CAMPAIGN = "campaign", _("Campaign")
    # (hour of creation, local): the speed report's hour table, unfiltered only.
    HOUR = "hour", _("Hour")


# The dimensions of each grain (field names shared with Lead, so a lead filter reads both).
GRAIN_DIMENSIONS: dict[str, frozenset[str]] = {
    Grain.STATUS: frozenset({"owner", "status", "state", "is_repeat"}),
    Grain.SOURCE: frozenset({"owner", "source", "channel_id"}),
    Grain.CAMPAIGN: frozenset({"utm_source", "utm_campaign"}),
    Grain.HOUR: frozenset({"hour"}),
}


class Metric(models.TextChoices):
    """The durations of a lead the reports take medians and percentiles of."""

    RESPONSE = "response", _("First response")  # created → first response
    TAKEN = "taken", _("Into work")  # created → taken into work
    CONVERTED = "converted", _("Conversion")  # taken → converted (converted leads)
    WON = "won", _("Deal won")  # converted → its deal won


ALL_METRICS = frozenset(Metric.values)


class DurationGrain(models.TextChoices):
    # The narrowest first: a request reads the first grain that holds its keys and filters.
    ALL = "all", _("All")  # the whole cohort, unfiltered
    HOUR = "hour", _("Hour")  # by the hour of creation (speed), unfiltered
    SOURCE = "source", _("Source")  # by source and channel (and filtered by them)
    # No owner grain: a manager has ≈ 80 leads a day, nearly each its own minute, so a
    # histogram by owner has about as many rows as the leads and costs more than their scan
    # (decision 011, measured): figures by owner or filtered by one read the leads.


# The dimensions and the metrics of each duration grain.
DURATION_GRAINS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    DurationGrain.ALL: (frozenset(), ALL_METRICS),
    DurationGrain.HOUR: (frozenset({"hour"}), frozenset({Metric.RESPONSE})),
    DurationGrain.SOURCE: (frozenset({"source", "channel_id"}), ALL_METRICS),
}
# The stays' rollup: by the lead's owner and current status (the filters the status
# report's time table may have) and the stay's status (its rows).
STAY_DIMENSIONS = frozenset({"owner", "status"})


class LeadDay(TenantModel):
    """The leads created on `day` (local) with the same dimensions of a grain: how many,
    and how many of them reached each fact the reports count."""

    day = models.DateField()
    grain = models.CharField(max_length=8, choices=Grain.choices)
    # Dimensions (empty where the grain does not group by them). Plain references without
    # constraints: the rollup follows the leads through marks, never through cascades.
    owner = models.ForeignKey(
        "crm.Membership",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    status = models.ForeignKey(
        "leads.LeadStatus",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    state = models.CharField(max_length=16, blank=True)
    is_repeat = models.BooleanField(null=True)
    source = models.CharField(max_length=16, blank=True)
    channel_id = models.BigIntegerField(null=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    hour = models.PositiveSmallIntegerField(null=True)  # of creation, on the local clock
    # Measures.
    leads = models.PositiveIntegerField(default=0)
    taken = models.PositiveIntegerField(default=0)
    in_work = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)
    junk = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    within_sla = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    # Qualification (the funnel's second table): reached MQL, SAL, SQL (the level's first
    # date is set), and reached SQL with a won deal.
    mql = models.PositiveIntegerField(default=0)
    sal = models.PositiveIntegerField(default=0)
    sql = models.PositiveIntegerField(default=0)
    sql_won = models.PositiveIntegerField(default=0)
    # NULL when none of the leads has a won deal (as SUM over no rows: merges stay exact).
    revenue = models.DecimalField(max_digits=20, decimal_places=2, null=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "grain", "day"], name="analytics_leadday_grain"),
        ]


class LeadDuration(TenantModel):
    """How many of the leads created on `day` (local) with the grain's dimensions took
    `minutes` (analytics.sql.duration: whole minutes, whole hours from a day on) for
    `metric`: one bar of a histogram."""

    day = models.DateField()
    grain = models.CharField(max_length=8, choices=DurationGrain.choices)
    metric = models.CharField(max_length=10, choices=Metric.choices)
    source = models.CharField(max_length=16, blank=True)
    channel_id = models.BigIntegerField(null=True)
    hour = models.PositiveSmallIntegerField(null=True)
    minutes = models.IntegerField()
    leads = models.PositiveIntegerField()

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["tenant", "grain", "metric", "day"], name="analytics_duration_grain"
            ),
        ]


class StayDay(TenantModel):
    """The stays in `stay_status` of the leads created on `day` (local) that are owned by
    `owner` and stand in `status` now: closed ones (count, sum of their lengths in whole
    seconds) and open ones (count, sum of the instants they were entered in epoch seconds):
    the average up to now is (closed_seconds + open × now − open_entered) ÷ (closed + open).
    A stay's ends count in whole seconds (analytics.sql.EpochSeconds), so sums are exact."""

    day = models.DateField()
    owner = models.ForeignKey(
        "crm.Membership",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    status = models.ForeignKey(
        "leads.LeadStatus",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    stay_status = models.ForeignKey(
        "leads.LeadStatus",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    closed = models.PositiveIntegerField(default=0)
    closed_seconds = models.BigIntegerField(default=0)
    open = models.PositiveIntegerField(default=0)
    open_entered = models.BigIntegerField(default=0)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["tenant", "day"], name="analytics_stayday_day")]


ROLLUP_VERSION = 3


class RollupDay(TenantModel):
    """A local day whose `LeadDay` rows are computed, and the settings they hold for."""

    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    response_sla_minutes = models.PositiveIntegerField()
    # What the day's rows hold (ROLLUP_VERSION): a day rolled up by an older version lacks
    # later tables or columns (1: counts only; 2: the histograms and the stays too; 3: the
    # qualification levels reached) and is rolled up again, read raw meanwhile.
    version = models.PositiveSmallIntegerField(default=1)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="analytics_rollupday_unique"),
        ]


class RollupMark(TenantModel):
    """The creation instant of a lead whose figures changed (written by triggers)."""

    # No constraint: a trigger writes marks while leads are deleted, also when a whole
    # database is emptied (tests' flush), whatever the order of the tables.
    tenant = models.ForeignKey(
        "crm.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, editable=False
    )
    at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["tenant", "at"], name="analytics_rollupmark_at")]
