"""Daily rollups of the lead cohort figures (decision 011).

* `LeadDay`: the counts and sums of the leads created on one local day of a workspace,
  grouped by the dimensions of one *grain*. A grain is one of the few groupings the reports
  read; a row of one grain leaves the other grains' dimensions empty. One table of narrow
  grains, not one wide cube: a cube over owner × status × source × channel has nearly as
  many rows as the leads (bench data: 630k rows for 1.1M leads), a grain a tenth of them.
* `RollupDay`: which days are rolled up, in which time zone and with which response time
  limit. A day counts as rolled up only while both still match the workspace's.
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


# The dimensions of each grain (field names shared with Lead, so a lead filter reads both).
GRAIN_DIMENSIONS: dict[str, frozenset[str]] = {
    Grain.STATUS: frozenset({"owner", "status", "state", "is_repeat"}),
    Grain.SOURCE: frozenset({"owner", "source", "channel_id"}),
    Grain.CAMPAIGN: frozenset({"utm_source", "utm_campaign"}),
}


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
    # Measures.
    leads = models.PositiveIntegerField(default=0)
    taken = models.PositiveIntegerField(default=0)
    in_work = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)
    junk = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    within_sla = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    # NULL when none of the leads has a won deal (as SUM over no rows: merges stay exact).
    revenue = models.DecimalField(max_digits=20, decimal_places=2, null=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["tenant", "grain", "day"], name="analytics_leadday_grain"),
        ]


class RollupDay(TenantModel):
    """A local day whose `LeadDay` rows are computed, and the settings they hold for."""

    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    response_sla_minutes = models.PositiveIntegerField()

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
