"""Leads by manager: how each one copes with the leads they own — taken, in work,
converted or junk, how fast they first answer — what is overdue on their open leads now,
and the deals they won. The leads are those created in the period, counted under their
current owner (a cohort); won deals are those closed in the period."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import Metric
from analytics.params import Params
from analytics.reports.base import (
    ReportSpec,
    grouped,
    member_labels,
    two_periods,
    value,
)
from analytics.reports.rolled import lead_groups
from analytics.sql import Rows
from analytics.tables import (
    COUNT,
    MINUTES,
    MONEY,
    PERCENT,
    Cell,
    Chart,
    Column,
    Dataset,
    Report,
    Row,
    Table,
    chart_of,
    share,
)
from crm import periods
from deals.models import Deal, Outcome
from leads.models import LeadState

# The figures of a manager's cohort leads: counts (analytics.rollups measures) and the
# median first response in whole minutes (a lead not answered yet has none).
LEAD_COUNTS = {
    "assigned": "leads",
    "taken": "taken",
    "in_work": "in_work",
    "converted": "converted",
    "junk": "junk",
}
LEAD_MEDIANS = {"response": (Metric.RESPONSE, 0.5)}
DEAL_AGGREGATES = {"won": Rows(), "revenue": Sum("amount")}
REVENUE = 9  # the column of the revenue won


def columns() -> list[Column]:
    return [
        Column(_("Assigned"), COUNT, _("Leads created in the period that the manager owns now.")),
        Column(_("Taken"), COUNT, _("Of those leads, how many were taken into work (by now).")),
        Column(_("In work"), COUNT, _("Of those leads, how many are in work now.")),
        Column(_("Converted"), COUNT, _("Of those leads, how many were converted (by now).")),
        Column(_("Junk"), COUNT, _("Of those leads, how many were closed as junk (by now).")),
        Column(
            _("Conversion"),
            PERCENT,
            _("Converted ÷ (converted + junk): the share of the closed leads that succeeded."),
        ),
        Column(
            _("Median first response"),
            MINUTES,
            _(
                "The median time from a lead's creation to its first response, in whole "
                "minutes, over those leads that have been answered."
            ),
            higher_is_better=False,
        ),
        Column(
            _("Overdue now"),
            COUNT,
            _(
                "Open leads of the manager (created any day) with an activity not done whose due "
                "time has passed: a snapshot of now, with no previous period."
            ),
            higher_is_better=False,
        ),
        Column(
            _("Deals won"),
            COUNT,
            _("Deals the manager owns that were won, closed in the period."),
        ),
        Column(_("Revenue won"), MONEY, _("The amounts of those won deals.")),
    ]


def _won_deals(params: Params, period: periods.Period) -> QuerySet[Deal]:
    return params.deals().filter(
        outcome=Outcome.WON, closed_at__gte=period.start, closed_at__lt=period.end
    )


def _overdue(params: Params) -> dict[Hashable, dict]:
    return grouped(params.overdue_leads(), ["owner_id"], overdue=Rows())


def _row(
    label: str,
    figures: Callable[[str, bool], Any],
    leads: Callable[..., str],
    deals: Callable[..., str],
) -> Row:
    def count(name: str, **more: Any) -> Cell:
        return Cell(figures(name, False), figures(name, True), leads(**more))

    won_link = deals(outcome=Outcome.WON)
    conversion = [
        share(figures("converted", before), figures("converted", before) + figures("junk", before))
        for before in (False, True)
    ]
    return Row(
        label=label,
        url=leads(),
        cells=[
            count("assigned"),
            count("taken", taken=1),
            count("in_work", state=LeadState.IN_PROGRESS),
            count("converted", state=LeadState.CONVERTED),
            count("junk", state=LeadState.JUNK),
            Cell(*conversion, leads(state=LeadState.CONVERTED)),
            count("response", responded=1),
            Cell(figures("overdue", False), None, leads(preset="overdue", created=False)),
            Cell(figures("won", False), figures("won", True), won_link),
            Cell(figures("revenue", False) or 0, figures("revenue", True) or 0, won_link),
        ],
    )


def build(params: Params) -> Report:
    # By owner and for the whole cohort — its median: a median of medians is not one — in
    # one scan of both periods (grouping sets on PostgreSQL): medians by owner are never
    # rolled up (decision 011), and beside their scan the whole cohort's figures are
    # nearly free (lead_groups, split=False).
    (whole, whole_before), (leads, leads_before) = lead_groups(
        params, [[], ["owner_id"]], LEAD_COUNTS, durations=LEAD_MEDIANS, split=False
    )
    deals, deals_before = two_periods(
        params,
        lambda p: _won_deals(params, p),
        ["owner_id"],
        field="closed_at",
        **DEAL_AGGREGATES,
    )
    overdue = _overdue(params)
    response = {
        False: whole.get(None, {}).get("response"),
        True: whole_before.get(None, {}).get("response"),
    }
    closed = {
        "closed_after": params.period.first.isoformat(),
        "closed_before": params.period.last.isoformat(),
    }

    def groups(name: str, before: bool) -> dict[Hashable, dict]:
        if name == "overdue":
            return overdue
        if name in DEAL_AGGREGATES:
            return deals_before if before else deals
        return leads_before if before else leads

    def figures_of(key: Hashable) -> Callable[[str, bool], Any]:
        def figures(name: str, before: bool) -> Any:
            return value(groups(name, before), key, name, None if name == "response" else 0)

        return figures

    keys = set(leads) | set(leads_before) | set(deals) | set(deals_before) | set(overdue)
    labels = member_labels(keys)
    order = sorted(
        keys,
        key=lambda k: (
            k is None,  # the shared inbox last
            -value(leads, k, "assigned"),
            -value(leads_before, k, "assigned"),
            labels.get(k, ""),
        ),
    )
    table = Table(key="managers", title=_("By manager"), head=_("Manager"), columns=columns())
    for key in order:
        owner = "none" if key is None else key
        table.rows.append(
            _row(
                labels.get(key, f"#{key}"),
                figures_of(key),
                lambda owner=owner, **more: params.lead_link(owner=owner, **more),
                lambda owner=owner, **more: params.deal_link(owner=owner, **closed, **more),
            )
        )

    def total(name: str, before: bool) -> Any:
        if name == "response":
            return response[before]
        return sum(g[name] or 0 for g in groups(name, before).values())

    table.total = _row(
        _("Total"),
        total,
        lambda **more: params.lead_link(**more),
        lambda **more: params.deal_link(**closed, **more),
    )
    charts = [
        Chart(
            id="chart-managers-leads",
            title=_("Assigned and converted leads by manager"),
            kind="bar",
            labels=[row.label for row in table.rows],
            datasets=[
                Dataset(
                    label=table.columns[index].label,
                    data=table.column(index),
                    urls=[row.cells[index].url for row in table.rows],
                )
                for index in (0, 3)
            ],
        ),
        chart_of(
            table,
            REVENUE,
            chart_id="chart-managers-revenue",
            kind="hbar",
            title=_("Revenue won by manager"),
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Leads created in the period by the manager who owns them now: what became of "
            "them, how fast they were answered, what is overdue now, and the deals won."
        ),
        tables=[table],
        charts=charts,
    )


SPEC = ReportSpec(slug="managers", title=gettext_lazy("Leads by manager"), build=build)
