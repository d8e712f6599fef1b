"""Leads by temperature: of the leads created in the period, how many are hot, warm, cold or
without a temperature now, and what each became — converted, deals won, revenue — with
their average score: whether hot leads really buy.

Read from the leads (one scan of both periods), not from the daily rollups: a lead's
temperature and score move every night with the score's decay (leads.scoring), so rolled-up
days would be marked and recomputed nightly — no gain over the scan."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.params import Params
from analytics.reports.base import ReportSpec, two_periods, value
from analytics.rollups import measures
from analytics.tables import (
    COUNT,
    MONEY,
    NUMBER,
    PERCENT,
    Cell,
    Column,
    Report,
    Row,
    Table,
    chart_of,
    share,
)
from deals.models import Outcome
from leads.models import LeadState, Temperature

# Measures of each row's leads (analytics.rollups.raw_measure) and the sum of their scores.
MEASURES = {name: name for name in ("leads", "converted", "closed", "won", "revenue")}
SUMS = (*MEASURES, "score_sum")
# The rows, hottest first; "" (not set) last, "none" on the lead list.
ROWS = (Temperature.HOT, Temperature.WARM, Temperature.COLD, "")


def columns() -> list[Column]:
    return [
        Column(_("Leads"), COUNT, _("Leads created in the period with this temperature now.")),
        Column(_("Share"), PERCENT, _("The temperature's leads ÷ all leads of the period.")),
        Column(
            _("Converted"),
            COUNT,
            _("Of those leads, how many were converted into a deal or a customer (by now)."),
        ),
        Column(
            _("Conversion"),
            PERCENT,
            _("Converted ÷ (converted + junk): the share of the closed leads that succeeded."),
        ),
        Column(_("Deals won"), COUNT, _("Of those leads, how many became a deal that is won.")),
        Column(_("Leads → won"), PERCENT, _("Deals won ÷ leads.")),
        Column(_("Revenue won"), MONEY, _("The amounts of those won deals.")),
        Column(
            _("Average score"),
            NUMBER,
            _("The leads' average score now (fit and engagement points)."),
        ),
    ]


def _row(
    params: Params,
    label: str,
    key: Hashable,
    groups: tuple[dict, dict],
    totals: tuple[dict, dict],
    link: dict[str, Any],
) -> Row:
    current, previous = groups

    def both(name: str) -> tuple[Any, Any]:
        return value(current, key, name), value(previous, key, name)

    def ratio(part: str, whole: str) -> tuple[float | None, float | None]:
        return (
            share(value(current, key, part), value(current, key, whole)),
            share(value(previous, key, part), value(previous, key, whole)),
        )

    def average(groups: dict) -> float | None:
        leads = value(groups, key, "leads")
        return value(groups, key, "score_sum") / leads if leads else None

    leads_url = params.lead_link(**link)
    converted_url = params.lead_link(**link, state=LeadState.CONVERTED.value)
    won_url = params.lead_link(**link, deal_outcome=Outcome.WON.value)
    leads, leads_before = both("leads")
    revenue, revenue_before = both("revenue")
    return Row(
        label=label,
        url=leads_url,
        cells=[
            Cell(leads, leads_before, leads_url),
            Cell(
                share(leads, totals[0]["leads"]), share(leads_before, totals[1]["leads"]), leads_url
            ),
            Cell(*both("converted"), converted_url),
            Cell(*ratio("converted", "closed"), converted_url),
            Cell(*both("won"), won_url),
            Cell(*ratio("won", "leads"), won_url),
            Cell(revenue or 0, revenue_before or 0, won_url),
            Cell(average(current), average(previous), leads_url),
        ],
    )


def build(params: Params) -> Report:
    sla = params.actor.tenant.response_sla_minutes
    groups = two_periods(
        params, params.leads, ["temperature"], **measures(sla, **MEASURES), score_sum=Sum("score")
    )
    totals = tuple(
        {name: sum(g[name] or 0 for g in side.values()) for name in SUMS} for side in groups
    )
    names = dict(Temperature.choices)
    table = Table(
        key="temperatures", title=_("By temperature"), head=_("Temperature"), columns=columns()
    )
    for temperature in ROWS:
        label = str(names[temperature]) if temperature else _("Not set")
        link = {"temperature": temperature or "none"}
        table.rows.append(_row(params, label, temperature, groups, totals, link))
    table.total = _row(
        params, _("Total"), "all", ({"all": totals[0]}, {"all": totals[1]}), totals, {}
    )
    charts = [
        chart_of(table, 0, chart_id="chart-temperature-leads", title=_("Leads by temperature")),
        chart_of(
            table, 3, chart_id="chart-temperature-conversion", title=_("Conversion by temperature")
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Leads created in the period by their temperature now, and what they became: "
            "do hot leads really buy?"
        ),
        tables=[table],
        charts=charts,
    )


SPEC = ReportSpec(slug="temperature", title=gettext_lazy("Leads by temperature"), build=build)
