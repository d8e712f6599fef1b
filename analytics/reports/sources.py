"""Leads by source, by channel and by UTM campaign: which ways in bring customers, not
only inquiries. The leads are those created in the period; what they became is counted
whatever day it happened (a cohort)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.params import BLANK, Params
from analytics.reports.base import ReportSpec, ordered_keys, value
from analytics.reports.rolled import lead_groups
from analytics.tables import (
    COUNT,
    MONEY,
    PERCENT,
    Cell,
    Column,
    Report,
    Row,
    Table,
    chart_of,
    share,
)
from channels.models import Channel
from deals.models import Outcome
from leads.models import LeadSource, LeadState

# The figures of each row: measures of the row's leads (analytics.rollups.raw_measure —
# leads, converted, converted + junk, with a won deal, the won deals' amounts).
MEASURES = {name: name for name in ("leads", "converted", "closed", "won", "revenue")}
UTM_ROWS = 50  # the campaigns shown: the biggest by leads


def columns() -> list[Column]:
    return [
        Column(_("Leads"), COUNT, _("Leads created in the period.")),
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
        Column(_("Revenue won"), MONEY, _("The amounts of those won deals.")),
    ]


def _row(
    label: str,
    key: Hashable,
    current: dict,
    previous: dict,
    link: Callable[..., str],
) -> Row:
    def get(groups: dict, name: str) -> Any:
        return value(groups, key, name)

    conversion = share(get(current, "converted"), get(current, "closed"))
    conversion_before = share(get(previous, "converted"), get(previous, "closed"))
    won_link = link(deal_outcome=Outcome.WON)
    return Row(
        label=label,
        url=link(),
        cells=[
            Cell(get(current, "leads"), get(previous, "leads"), link()),
            Cell(
                get(current, "converted"),
                get(previous, "converted"),
                link(state=LeadState.CONVERTED),
            ),
            Cell(conversion, conversion_before, link(state=LeadState.CONVERTED)),
            Cell(get(current, "won"), get(previous, "won"), won_link),
            Cell(get(current, "revenue") or 0, get(previous, "revenue") or 0, won_link),
        ],
    )


def _table(
    params: Params,
    *,
    key: str,
    title: str,
    head: str,
    groups: tuple[dict[Hashable, dict], dict[Hashable, dict]],
    label: Callable[[Hashable], str],
    link_params: Callable[[Hashable], dict[str, Any]],
    limit: int | None = None,
) -> Table:
    current, previous = groups
    keys = ordered_keys(current, previous, "leads")[:limit]
    table = Table(key=key, title=title, head=head, columns=columns())
    for group in keys:
        extra = link_params(group)
        table.rows.append(
            _row(
                label(group),
                group,
                current,
                previous,
                lambda extra=extra, **more: params.lead_link(**extra, **more),
            )
        )
    totals = {"all": _sum(current)}, {"all": _sum(previous)}
    table.total = _row(_("Total"), "all", *totals, lambda **more: params.lead_link(**more))
    return table


def _sum(groups: dict[Hashable, dict]) -> dict[str, Any]:
    return {name: sum(g[name] or 0 for g in groups.values()) for name in MEASURES}


def build(params: Params) -> Report:
    sources = dict(LeadSource.choices)
    channels = dict(Channel.objects.values_list("pk", "name"))
    # One scan of the period's leads for the three tables (grouping sets on PostgreSQL).
    # The rollup's days from it where it holds (analytics.reports.rolled).
    groups = lead_groups(
        params, [["source"], ["channel_id"], ["utm_source", "utm_campaign"]], MEASURES
    )
    by_source = _table(
        params,
        key="sources",
        title=_("By source"),
        head=_("Source"),
        groups=groups[0],
        label=lambda s: str(sources.get(s, s)),
        link_params=lambda s: {"source": s},
    )
    by_channel = _table(
        params,
        key="channels",
        title=_("By channel"),
        head=_("Channel"),
        groups=groups[1],
        label=lambda c: (
            _("Without a channel (by hand, API)")
            if c is None
            else channels.get(c, _("Deleted channel #%(id)s") % {"id": c})
        ),
        link_params=lambda c: {"channel": "none" if c is None else c},
    )
    by_campaign = _table(
        params,
        key="campaigns",
        title=_("By UTM source and campaign"),
        head=_("utm_source / utm_campaign"),
        groups=groups[2],
        label=lambda k: f"{k[0] or BLANK} / {k[1] or BLANK}",
        link_params=lambda k: {"utm_source": k[0] or BLANK, "utm_campaign": k[1] or BLANK},
        limit=UTM_ROWS,
    )
    by_campaign.note = _("The %(n)s biggest campaigns by leads.") % {"n": UTM_ROWS}
    charts = [
        chart_of(by_source, 0, chart_id="chart-sources-leads", title=_("Leads by source")),
        chart_of(
            by_source,
            4,
            chart_id="chart-sources-revenue",
            kind="hbar",
            title=_("Revenue won by source"),
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Leads created in the period by where they came from, and what they became by now."
        ),
        tables=[by_source, by_channel, by_campaign],
        charts=charts,
    )


SPEC = ReportSpec(slug="sources", title=gettext_lazy("Leads by source"), build=build)
