"""Leads by status: where the leads created in the period stand now — by semantic state
(comparable between workspaces) and by the workspace's own statuses, first-time against
repeat inquiries, and how long the leads stayed in each status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.params import Params
from analytics.reports.base import ReportSpec
from analytics.reports.rolled import lead_groups, stay_groups
from analytics.tables import (
    COUNT,
    MINUTES,
    PERCENT,
    Cell,
    Column,
    Report,
    Row,
    Table,
    chart_of,
    share,
)
from leads.models import LeadState, LeadStatus

STATES = list(LeadState)
CLOSED = (LeadState.CONVERTED.value, LeadState.JUNK.value)


def _counts(params: Params) -> tuple[dict[Hashable, dict], dict[Hashable, dict]]:
    """The cohort's leads by (status, state, repeat), both periods in one GROUP BY (the
    rollup's days from it: analytics.reports.rolled)."""
    keys = ["status_id", "state", "is_repeat"]
    (groups,) = lead_groups(params, [keys], {"leads": "leads"})
    return groups


def _total(
    groups: dict[Hashable, dict],
    *,
    status: int | None = None,
    states: tuple[str, ...] | None = None,
    repeat: bool | None = None,
) -> int:
    """The leads of the groups matching a status, states and repeat (None: any): a sum over
    the handful of group rows, not over leads."""
    return sum(
        g["leads"]
        for (status_id, state, is_repeat), g in groups.items()
        if (status is None or status_id == status)
        and (states is None or state in states)
        and (repeat is None or is_repeat == repeat)
    )


def _share_columns(leads_help: str) -> list[Column]:
    return [
        Column(_("Leads"), COUNT, leads_help),
        Column(
            _("Share"),
            PERCENT,
            _("Those leads as a share of all the leads created in the period."),
        ),
    ]


def _share_row(label: str, current: int, previous: int, totals: tuple[int, int], url: str) -> Row:
    return Row(
        label=label,
        url=url,
        cells=[
            Cell(current, previous, url),
            Cell(share(current, totals[0]), share(previous, totals[1]), url),
        ],
    )


def _by_state(params: Params, current: dict, previous: dict) -> Table:
    totals = _total(current), _total(previous)
    table = Table(
        key="states",
        title=_("By state"),
        head=_("State"),
        columns=_share_columns(_("Leads created in the period that are in the state now.")),
    )
    for state in STATES:
        table.rows.append(
            _share_row(
                str(state.label),
                _total(current, states=(state.value,)),
                _total(previous, states=(state.value,)),
                totals,
                params.lead_link(state=state.value),
            )
        )
    table.total = _share_row(_("Total"), *totals, totals, params.lead_link())
    return table


def _by_status(params: Params, statuses: list[LeadStatus], current: dict, previous: dict) -> Table:
    totals = _total(current), _total(previous)
    table = Table(
        key="statuses",
        title=_("By status"),
        head=_("Status"),
        columns=_share_columns(_("Leads created in the period that are in the status now.")),
    )
    for status in statuses:
        table.rows.append(
            _share_row(
                status.name,
                _total(current, status=status.pk),
                _total(previous, status=status.pk),
                totals,
                params.lead_link(status=status.pk),
            )
        )
    table.total = _share_row(_("Total"), *totals, totals, params.lead_link())
    return table


def _by_repeat(params: Params, current: dict, previous: dict) -> Table:
    table = Table(
        key="repeat",
        title=_("All, first-time and repeat leads"),
        head=_("Leads"),
        columns=[
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
        ],
    )
    rows = [
        (_("All leads"), {}, {}),
        (_("First-time leads"), {"repeat": False}, {"repeat": 0}),
        (_("Repeat leads (known clients)"), {"repeat": True}, {"repeat": 1}),
    ]
    for label, match, link in rows:
        figures = [
            (
                _total(groups, **match),
                _total(groups, states=(LeadState.CONVERTED.value,), **match),
                _total(groups, states=CLOSED, **match),
            )
            for groups in (current, previous)
        ]
        (leads, converted, closed), (leads_before, converted_before, closed_before) = figures
        converted_url = params.lead_link(state=LeadState.CONVERTED.value, **link)
        table.rows.append(
            Row(
                label=label,
                url=params.lead_link(**link),
                cells=[
                    Cell(leads, leads_before, params.lead_link(**link)),
                    Cell(converted, converted_before, converted_url),
                    Cell(
                        share(converted, closed),
                        share(converted_before, closed_before),
                        converted_url,
                    ),
                ],
            )
        )
    return table


def average_minutes(sums: dict | None, now_s: int) -> int | None:
    """The average length of a group's stays, in whole minutes (floored), up to `now_s`
    (epoch seconds) for the open ones: (closed seconds + open × now − the open ones'
    entering instants) ÷ stays, in integers — the same whether the sums come from the
    rollup or from the stays."""
    if not sums:
        return None
    stays = sums["closed"] + sums["open"]
    if not stays:
        return None
    total = sums["closed_seconds"] + sums["open"] * now_s - sums["open_entered"]
    return total // (stays * 60)


def _now_s() -> int:
    """Now in whole epoch seconds (analytics.sql.EpochSeconds)."""
    return (timezone.now() - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(seconds=1)


def _time_in_status(params: Params, statuses: list[LeadStatus]) -> Table:
    # The stays of the cohort's leads by status, both periods (the rollup's days where it
    # holds: analytics.reports.rolled), and their averages up to now.
    current, previous = stay_groups(params)
    now_s = _now_s()
    table = Table(
        key="time",
        title=_("Average time in status"),
        head=_("Status"),
        columns=[
            Column(
                _("Average time"),
                MINUTES,
                _(
                    "The average length of a stay in the status of the leads created in the "
                    "period, in whole minutes; each stay counts (a lead that came back counts "
                    "twice); a stay still going counts up to now."
                ),
                higher_is_better=False,
            ),
            Column(
                _("Stays"),
                COUNT,
                _(
                    "How many times the leads created in the period entered the status (a "
                    "lead that came back counts again)."
                ),
            ),
        ],
    )
    for status in statuses:
        now, before = current.get(status.pk), previous.get(status.pk)
        table.rows.append(
            Row(
                label=status.name,
                cells=[
                    Cell(average_minutes(now, now_s), average_minutes(before, now_s)),
                    Cell(_stay_count(now), _stay_count(before)),
                ],
            )
        )
    table.note = _(
        "The lead lists show where leads are now, not where they have been, so these "
        "figures link to no list."
    )
    return table


def _stay_count(sums: dict | None) -> int:
    return sums["closed"] + sums["open"] if sums else 0


def build(params: Params) -> Report:
    order = {state.value: index for index, state in enumerate(STATES)}
    statuses = sorted(LeadStatus.objects.all(), key=lambda s: (order[s.state], s.position, s.pk))
    current, previous = _counts(params)
    by_state = _by_state(params, current, previous)
    by_status = _by_status(params, statuses, current, previous)
    charts = [
        chart_of(
            by_state,
            0,
            chart_id="chart-status-states",
            kind="doughnut",
            title=_("Leads by state"),
            previous=False,
        ),
        chart_of(by_status, 0, chart_id="chart-status-statuses", title=_("Leads by status")),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Where the leads created in the period stand now, and how long they stayed in "
            "each status."
        ),
        tables=[
            by_state,
            by_status,
            _by_repeat(params, current, previous),
            _time_in_status(params, statuses),
        ],
        charts=charts,
    )


SPEC = ReportSpec(slug="status", title=gettext_lazy("Leads by status"), build=build)
