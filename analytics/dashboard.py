"""The key figures as tiles: a director's dashboard (the workspace, or what their role
sees) and a manager's own figures on their home page. Each tile has this period's value,
the previous period's, a small daily trend, the records behind it and the report it
summarizes. A handful of aggregate queries whatever the data's size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from analytics.models import Metric
from analytics.params import Params
from analytics.reports.rolled import lead_groups, leads_by_day
from analytics.sql import Rows
from analytics.tables import COUNT, MINUTES, MONEY, PERCENT, Cell, Chart, Column, Dataset, share
from crm import periods
from crm.urlnames import tenant_reverse
from deals.models import Outcome
from leads.models import LeadState

# A trend longer than this many days is drawn by week.
DAILY_DAYS = 62


@dataclass
class Tile:
    """One key figure: value and previous value (a Cell), what it is, where it leads."""

    key: str
    column: Column
    cell: Cell
    report_url: str | None = None
    trend: Chart | None = None
    note: str | Promise = ""


LEAD_MEASURES = {name: name for name in ("leads", "converted", "closed", "within_sla")}


def _lead_figures(params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cohort's figures of the period and of the previous one: leads, converted,
    closed, within the response time, and the median time to first response in whole
    minutes (from the rollup's days and histograms where it holds)."""
    median = {"median_response": (Metric.RESPONSE, 0.5)}
    ((current, previous),) = lead_groups(params, [[]], LEAD_MEASURES, durations=median)
    empty = {**dict.fromkeys(LEAD_MEASURES, 0), "median_response": None}
    return (
        {**empty, **current.get(None, {})},
        {**empty, **previous.get(None, {})},
    )


def _won(params: Params, period: periods.Period) -> dict[str, Any]:
    """Deals won in the period (closed then): how many and for how much."""
    return (
        params.deals()
        .filter(outcome=Outcome.WON, closed_at__gte=period.start, closed_at__lt=period.end)
        .aggregate(won=Rows(), revenue=Sum("amount"))
    )


def _forecast(params: Params) -> dict[str, Any]:
    """Open deals expected to close this month: their sum weighted by stage probability."""
    month = periods.preset("this_month")
    return (
        params.deals()
        .filter(
            outcome=Outcome.OPEN,
            expected_close__gte=month.first,
            expected_close__lte=month.last,
        )
        .aggregate(
            deals=Rows(),
            weighted=Sum(F("amount") * F("stage__probability") / Decimal(100)),
        )
    )


def _trend(params: Params, chart_id: str) -> Chart:
    """Leads per day (per week over a long period) of the period, as a sparkline."""
    period = params.period
    days = (period.last - period.first).days + 1
    counts = leads_by_day(params)
    step = 1 if days <= DAILY_DAYS else 7
    labels, data = [], []
    for offset in range(0, days, step):
        first = period.first + dt.timedelta(days=offset)
        last = min(first + dt.timedelta(days=step - 1), period.last)
        labels.append(first.isoformat())
        data.append(
            sum(counts.get(first + dt.timedelta(days=i), 0) for i in range((last - first).days + 1))
        )
    return Chart(
        id=chart_id,
        title=_("Leads per day") if step == 1 else _("Leads per week"),
        kind="sparkline",
        labels=labels,
        datasets=[Dataset(label=_("Leads"), data=data)],
    )


def tiles(
    params: Params, *, leads: bool = True, deals: bool = True, reports: bool = True
) -> list[Tile]:
    """The dashboard's tiles for the viewer's scope and the report filters: of leads and
    of deals (a workspace in the simple mode has no leads; a role may not see deals), each
    linking to its report when `reports` (the viewer may open them)."""
    tenant = params.actor.tenant

    def report(slug: str) -> str | None:
        if not reports:
            return None
        return tenant_reverse("analytics:report", tenant, slug=slug) + "?" + params.query()

    result = _lead_tiles(params, report) if leads else []
    if deals:
        result += _deal_tiles(params, report)
    return result


def _lead_tiles(params: Params, report: Any) -> list[Tile]:
    now, before = _lead_figures(params)
    today = periods.preset("today")
    yesterday = periods.preset("yesterday")
    today_n, yesterday_n = params.leads(today).count(), params.leads(yesterday).count()
    sla_minutes = params.actor.tenant.response_sla_minutes
    return [
        Tile(
            "leads",
            Column(_("Leads"), COUNT, _("Leads created in the period.")),
            Cell(now["leads"], before["leads"], params.lead_link()),
            report("sources"),
            trend=_trend(params, "trend-leads"),
        ),
        Tile(
            "today",
            Column(_("Leads today"), COUNT, _("Leads created today, against yesterday.")),
            Cell(today_n, yesterday_n, params.lead_link(period=today)),
            report("status"),
        ),
        Tile(
            "conversion",
            Column(
                _("Conversion"),
                PERCENT,
                _("Of the period's leads: converted ÷ (converted + junk)."),
            ),
            Cell(
                share(now["converted"], now["closed"]),
                share(before["converted"], before["closed"]),
                params.lead_link(state=LeadState.CONVERTED),
            ),
            report("funnel"),
        ),
        Tile(
            "response",
            Column(
                _("Median first response"),
                MINUTES,
                _("Half of the period's answered leads got a first response faster than this."),
                higher_is_better=False,
            ),
            Cell(
                now["median_response"],
                before["median_response"],
                params.lead_link(responded=1),
            ),
            report("speed"),
        ),
        Tile(
            "sla",
            Column(
                _("Answered in time"),
                PERCENT,
                _("Share of the period's leads answered within %(n)s min (the response time).")
                % {"n": sla_minutes},
            ),
            Cell(
                share(now["within_sla"], now["leads"]),
                share(before["within_sla"], before["leads"]),
                params.lead_link(response_max=sla_minutes),
            ),
            report("speed"),
        ),
        Tile(
            "overdue",
            Column(
                _("Leads with overdue activities"),
                COUNT,
                _("Open leads with an activity past its due time, now."),
                higher_is_better=False,
            ),
            Cell(
                params.overdue_leads().count(),
                None,
                params.lead_link(preset="overdue", created=False),
            ),
            report("managers"),
        ),
    ]


def _deal_tiles(params: Params, report: Any) -> list[Tile]:
    won, won_before = _won(params, params.period), _won(params, params.previous)
    forecast = _forecast(params)
    won_link = params.deal_link(
        outcome=Outcome.WON,
        closed_after=params.period.first.isoformat(),
        closed_before=params.period.last.isoformat(),
    )
    month = periods.preset("this_month")
    return [
        Tile(
            "revenue",
            Column(_("Revenue won"), MONEY, _("The amounts of the deals won in the period.")),
            Cell(won["revenue"] or 0, won_before["revenue"] or 0, won_link),
            report("deals"),
            note=_("%(n)s deals") % {"n": won["won"]},
        ),
        Tile(
            "forecast",
            Column(
                _("Forecast this month"),
                MONEY,
                _("Open deals expected to close this month × their stage's probability."),
            ),
            Cell(
                forecast["weighted"] or 0,
                None,
                params.deal_link(
                    outcome=Outcome.OPEN,
                    close_after=month.first.isoformat(),
                    close_before=month.last.isoformat(),
                ),
            ),
            report("deals"),
            note=_("%(n)s deals") % {"n": forecast["deals"]},
        ),
    ]
