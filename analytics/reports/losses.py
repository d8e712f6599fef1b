"""Why sales are lost: the junk leads of the period by their junk status (each junk status
is a loss reason the workspace set up) and the deals lost in the period by the reason
given (one of the workspace's loss reasons: Settings → Loss reasons). The lead table is
left out in the simple mode, which has no leads; the deal table works in both modes."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.params import Params
from analytics.reports.base import ReportSpec, two_periods, value
from analytics.reports.rolled import lead_groups
from analytics.tables import (
    COUNT,
    MONEY,
    PERCENT,
    Cell,
    Chart,
    Column,
    Report,
    Row,
    Table,
    chart_of,
    share,
)
from crm import periods
from crm.filters import NO_ID
from crm.modes import has_leads
from deals.models import Deal, LossReason, Outcome
from leads.models import LeadState, LeadStatus

REASON_ROWS = 50  # the loss reasons shown: the first of the list
_LOST = {"deals": Count("pk"), "amount": Sum("amount")}  # the figures of a reason


# Junk leads by junk status ----------------------------------------------------------------


def _junk_counts(params: Params) -> tuple[dict[Hashable, dict], dict[Hashable, dict]]:
    """{status id: {"junk": junk leads, "leads": all leads}} of both periods' cohorts (the
    rollup's days from it where it holds: analytics.reports.rolled)."""
    (groups,) = lead_groups(params, [["status_id"]], {"leads": "leads", "junk": "junk"})
    return groups


def junk_table(params: Params) -> Table:
    """The cohort's junk leads by junk status, with their shares of the junk and of all
    the leads created in the period."""
    statuses = LeadStatus.objects.filter(state=LeadState.JUNK).order_by("position", "pk")
    if params.data.get("status"):  # the report's own status filter leaves only those
        statuses = statuses.filter(pk__in=params.data["status"])
    current, previous = _junk_counts(params)
    totals = [_totals(current), _totals(previous)]
    table = Table(
        key="junk",
        title=_("Junk leads by junk status"),
        head=_("Junk status"),
        columns=[
            Column(
                _("Junk leads"),
                COUNT,
                _("Leads created in the period that are junk now, in this junk status."),
                higher_is_better=False,
            ),
            Column(
                _("Share of junk"),
                PERCENT,
                _("This status's junk leads ÷ all the junk leads created in the period."),
                higher_is_better=False,
            ),
            Column(
                _("Share of all leads"),
                PERCENT,
                _("This status's junk leads ÷ all the leads created in the period."),
                higher_is_better=False,
            ),
        ],
    )
    for status in statuses:
        now, before = value(current, status.pk, "junk"), value(previous, status.pk, "junk")
        link = params.lead_link(status=status.pk, state=LeadState.JUNK)
        table.rows.append(
            Row(
                label=status.name,
                url=link,
                cells=[
                    Cell(now, before, link),
                    Cell(share(now, totals[0]["junk"]), share(before, totals[1]["junk"]), link),
                    Cell(share(now, totals[0]["leads"]), share(before, totals[1]["leads"]), link),
                ],
            )
        )
    link = params.lead_link(state=LeadState.JUNK)
    now, before = totals[0]["junk"], totals[1]["junk"]
    table.total = Row(
        label=_("All junk leads"),
        url=link,
        cells=[
            Cell(now, before, link),
            Cell(share(now, now), share(before, before), link),
            Cell(share(now, totals[0]["leads"]), share(before, totals[1]["leads"]), link),
        ],
    )
    return table


def _totals(groups: dict[Hashable, dict]) -> dict[str, int]:
    return {name: sum(g[name] for g in groups.values()) for name in ("leads", "junk")}


# Lost deals by reason ---------------------------------------------------------------------


def lost_deals(params: Params, period: periods.Period) -> QuerySet[Deal]:
    """The deals in scope lost (closed as lost) in `period`'s workspace days."""
    return params.deals().filter(
        outcome=Outcome.LOST, closed_at__gte=period.start, closed_at__lt=period.end
    )


def lost_table(params: Params) -> Table:
    """The deals lost in the period by the workspace's loss reasons, in the reasons' list
    order: every reason offered now (even at zero), a turned-off one when it has deals in
    either period, and the deals lost without a reason (before reasons were required)."""
    current, previous = two_periods(
        params,
        lambda period: lost_deals(params, period),
        ["loss_reason"],
        field="closed_at",
        **_LOST,
    )
    totals = _lost_totals(current), _lost_totals(previous)
    table = Table(
        key="lost",
        title=_("Lost deals by reason"),
        head=_("Loss reason"),
        columns=[
            Column(
                _("Lost deals"),
                COUNT,
                _("Deals closed as lost in the period (by the day they were closed)."),
                higher_is_better=False,
            ),
            Column(
                _("Share of lost deals"),
                PERCENT,
                _("This reason's lost deals ÷ all the deals lost in the period."),
                higher_is_better=False,
            ),
            Column(
                _("Amount lost"),
                MONEY,
                _("The sum of the amounts of those lost deals."),
                higher_is_better=False,
            ),
        ],
    )
    closed = {"closed_after": params.period.first, "closed_before": params.period.last}
    seen = current.keys() | previous.keys()
    reasons = [
        (reason.pk, reason.name)
        for reason in LossReason.objects.order_by("position", "pk")
        if reason.is_active or reason.pk in seen
    ][:REASON_ROWS]
    if None in seen:
        reasons.append((None, _("No reason given")))
    for reason, label in reasons:
        link = params.deal_link(outcome=Outcome.LOST, loss_reason=reason or NO_ID, **closed)
        table.rows.append(
            _lost_row(
                label,
                link,
                {k: value(current, reason, k) for k in _LOST},
                {k: value(previous, reason, k) for k in _LOST},
                totals,
            )
        )
    link = params.deal_link(outcome=Outcome.LOST, **closed)
    table.total = _lost_row(_("All lost deals"), link, *totals, totals)
    if len(seen - {None}) > REASON_ROWS:
        table.note = _("The first %(n)s reasons of the list.") % {"n": REASON_ROWS}
    return table


def _lost_totals(groups: dict[Hashable, dict]) -> dict[str, Any]:
    return {name: sum(g[name] or 0 for g in groups.values()) for name in _LOST}


def _lost_row(
    label: str, link: str, now: dict[str, Any], before: dict[str, Any], totals: tuple[dict, dict]
) -> Row:
    return Row(
        label=label,
        url=link,
        cells=[
            Cell(now["deals"], before["deals"], link),
            Cell(
                share(now["deals"], totals[0]["deals"]),
                share(before["deals"], totals[1]["deals"]),
                link,
            ),
            Cell(now["amount"] or 0, before["amount"] or 0, link),
        ],
    )


# The report -------------------------------------------------------------------------------


def build(params: Params) -> Report:
    """The report: junk leads by status (classic mode only) and lost deals by reason."""
    tables: list[Table] = []
    charts: list[Chart] = []
    leads = has_leads(params.actor.tenant)
    if leads:
        junk = junk_table(params)
        tables.append(junk)
        charts.append(
            chart_of(
                junk, 0, chart_id="chart-losses-junk", kind="hbar", title=_("Junk leads by status")
            )
        )
    lost = lost_table(params)
    tables.append(lost)
    charts.append(
        chart_of(
            lost, 0, chart_id="chart-losses-deals", kind="hbar", title=_("Lost deals by reason")
        )
    )
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Why sales are lost: the leads created in the period that are junk now, by "
            "junk status, and the deals lost in the period, by the reason given."
        )
        if leads
        else _("Why sales are lost: the deals lost in the period, by the reason given."),
        tables=tables,
        charts=charts,
    )


SPEC = ReportSpec(slug="losses", title=gettext_lazy("Loss reasons"), build=build, leads=False)
