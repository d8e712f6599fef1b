"""Speed of first response: how long the leads created in the period waited for their
first answer (first_response_at − created_at, in whole minutes as shown), by source, by
manager and by the hour of the workspace's day they arrived, and how many were answered
within the workspace's response time limit (its SLA). Counts and percentiles come from the
daily rollups where the request allows (analytics.reports.rolled). A reply in the channel
is a first response; the answers in conversations (a client who wrote and waited, answered
from a card) have a table of their own, by who answered, from the messages themselves."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db.models import F, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import Metric
from analytics.params import Params
from analytics.reports.base import (
    ReportSpec,
    member_labels,
    ordered_keys,
    value,
)
from analytics.reports.rolled import lead_groups
from analytics.sql import Percentile, Rows
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
from channels.models import Message
from leads.models import LeadSource

HOURS = range(24)
MEDIAN, SLA_SHARE = 2, 5  # the columns charted


# The counts of a group of leads (analytics.rollups measures: "within" compares instants,
# exact at the limit itself) and its percentiles of the first response (whole minutes).
COUNTS = {"leads": "leads", "answered": "answered", "within": "within_sla"}
PERCENTILES = {"median": (Metric.RESPONSE, 0.5), "p90": (Metric.RESPONSE, 0.9)}


def columns(sla_minutes: int) -> list[Column]:
    return [
        Column(_("Leads"), COUNT, _("Leads created in the period.")),
        Column(_("Answered"), COUNT, _("Of those leads, how many have had a first response.")),
        Column(
            _("Median response time"),
            MINUTES,
            _(
                "The median time from creation to the first response, in whole minutes, over "
                "the answered leads."
            ),
            higher_is_better=False,
        ),
        Column(
            _("90th percentile"),
            MINUTES,
            _("Nine in ten answered leads had their first response within this time."),
            higher_is_better=False,
        ),
        Column(
            _("Within the limit"),
            COUNT,
            _(
                "Leads answered within %(minutes)s minutes of their creation (the workspace's "
                "response time limit), the limit itself included."
            )
            % {"minutes": sla_minutes},
        ),
        Column(
            _("Share within the limit"),
            PERCENT,
            _(
                "Answered within the limit ÷ all the leads: a lead not answered yet counts as "
                "not within."
            ),
        ),
    ]


def _row(
    label: str,
    figures: Callable[[str, bool], Any],
    link: Callable[..., str],
    sla_minutes: int,
) -> Row:
    def cell(name: str, url: str) -> Cell:
        return Cell(figures(name, False), figures(name, True), url)

    answered = link(responded=1)
    within = link(response_max=sla_minutes)
    return Row(
        label=label,
        url=link(),
        cells=[
            cell("leads", link()),
            cell("answered", answered),
            cell("median", answered),
            cell("p90", answered),
            cell("within", within),
            Cell(
                share(figures("within", False), figures("leads", False)),
                share(figures("within", True), figures("leads", True)),
                within,
            ),
        ],
    )


def _figures(current: dict, previous: dict, key: Hashable) -> Callable[[str, bool], Any]:
    def figures(name: str, before: bool) -> Any:
        default = None if name in ("median", "p90") else 0
        return value(previous if before else current, key, name, default)

    return figures


def _table(
    params: Params,
    sla: int,
    groups: tuple[dict, dict],
    total: Row,
    *,
    key: str,
    title: str,
    head: str,
    keys: list[Hashable],
    label: Callable[[Hashable], str],
    link_params: Callable[[Hashable], dict[str, Any]],
) -> Table:
    table = Table(key=key, title=title, head=head, columns=columns(sla), total=total)
    for group in keys:
        extra = link_params(group)
        table.rows.append(
            _row(
                label(group),
                _figures(*groups, group),
                lambda extra=extra, **more: params.lead_link(**extra, **more),
                sla,
            )
        )
    return table


def _answers(params: Params, before: bool) -> dict[Hashable, dict[str, Any]]:
    """Per member who answered (and None: all of them): the replies sent in the period to
    a client who was waiting, and the percentiles of that wait in whole minutes."""
    period = params.previous if before else params.period
    rows = Message.objects.filter(
        direction=Message.Direction.OUT,
        waited_seconds__isnull=False,
        created_at__gte=period.start,
        created_at__lt=period.end,
    ).exclude(status=Message.Status.FAILED)  # never reached the client
    if params.lead_owners is not None:
        rows = rows.filter(author_id__in=params.lead_owners)
    owner, team = params.data.get("owner"), params.data.get("team")
    if owner == "me":
        rows = rows.filter(author=params.actor)
    elif owner == "none":
        rows = rows.none()
    elif owner:
        rows = rows.filter(author_id=int(owner) if str(owner).isdigit() else 0)
    if team is not None:
        rows = rows.filter(author__team=team)
    sla_seconds = params.actor.tenant.response_sla_minutes * 60
    minutes = F("waited_seconds") / 60
    figures = {
        "answers": Rows(),
        "median": Percentile(minutes, 0.5),
        "p90": Percentile(minutes, 0.9),
        "within": Rows(Q(waited_seconds__lte=sla_seconds)),
    }
    groups: dict[Hashable, dict[str, Any]] = {
        row["author_id"]: row for row in rows.values("author_id").annotate(**figures)
    }
    whole = rows.aggregate(**figures)
    return {"all": whole, **groups} if whole["answers"] else groups


def _answers_table(params: Params, sla: int) -> Table:
    current, previous = _answers(params, False), _answers(params, True)
    columns = [
        Column(
            _("Answers"),
            COUNT,
            _(
                "Replies sent from a card in the period to a client who had written and was "
                "waiting for an answer."
            ),
        ),
        Column(
            _("Median wait"),
            MINUTES,
            _("The median time from the client's oldest unanswered message to the answer."),
            higher_is_better=False,
        ),
        Column(
            _("90th percentile"),
            MINUTES,
            _("Nine in ten clients got the answer within this time."),
            higher_is_better=False,
        ),
        Column(
            _("Share within the limit"),
            PERCENT,
            _("Answers given within %(minutes)s minutes (the response time limit) ÷ answers.")
            % {"minutes": sla},
        ),
    ]

    def row(label: str, key: Hashable) -> Row:
        def cell(name: str) -> Cell:
            default = None if name in ("median", "p90") else 0
            return Cell(value(current, key, name, default), value(previous, key, name, default))

        return Row(
            label=label,
            cells=[
                cell("answers"),
                cell("median"),
                cell("p90"),
                Cell(
                    share(value(current, key, "within"), value(current, key, "answers")),
                    share(value(previous, key, "within"), value(previous, key, "answers")),
                ),
            ],
        )

    authors = [k for k in ordered_keys(current, previous, "answers") if k != "all"]
    labels = member_labels(authors)
    table = Table(
        key="conversations",
        title=_("Answers in conversations"),
        head=_("Who answered"),
        columns=columns,
        total=row(_("Total"), "all"),
    )
    table.rows = [row(labels.get(k, f"#{k}"), k) for k in authors if k is not None]
    table.note = _(
        "Telegram, WhatsApp, VK and e-mail answers sent from the cards; a reply is also the "
        "lead's first response above when it had none."
    )
    return table


def build(params: Params) -> Report:
    sla = params.actor.tenant.response_sla_minutes
    # Every table and the whole cohort — the total row of each (percentiles do not add
    # up): from the rollup's counts and histograms where the request allows, else one scan
    # of both periods (grouping sets on PostgreSQL).
    whole_groups, source_groups, owner_groups, hour_groups = lead_groups(
        params, [[], ["source"], ["owner_id"], ["hour"]], COUNTS, durations=PERCENTILES
    )
    empty = {**dict.fromkeys(COUNTS, 0), **dict.fromkeys(PERCENTILES)}
    whole = {False: whole_groups[0].get(None, empty), True: whole_groups[1].get(None, empty)}
    total = _row(
        _("Total"),
        lambda name, before: whole[before][name],
        lambda **more: params.lead_link(**more),
        sla,
    )
    sources = dict(LeadSource.choices)
    by_source = _table(
        params,
        sla,
        source_groups,
        total,
        key="sources",
        title=_("By source"),
        head=_("Source"),
        keys=ordered_keys(*source_groups, "leads"),
        label=lambda s: str(sources.get(s, s)),
        link_params=lambda s: {"source": s},
    )
    owners = sorted(ordered_keys(*owner_groups, "leads"), key=lambda k: k is None)  # inbox last
    labels = member_labels(owners)
    by_manager = _table(
        params,
        sla,
        owner_groups,
        total,
        key="managers",
        title=_("By manager"),
        head=_("Manager"),
        keys=owners,
        label=lambda k: labels.get(k, f"#{k}"),
        link_params=lambda k: {"owner": "none" if k is None else k},
    )
    groups = hour_groups
    by_hour = _table(
        params,
        sla,
        groups,
        total,
        key="hours",
        title=_("By hour of arrival"),
        head=_("Hour"),
        keys=list(HOURS),
        label=lambda h: f"{h:02d}:00–{h:02d}:59",
        link_params=lambda h: {"hour": h},
    )
    by_hour.note = _("Hours of the workspace's clock (%(zone)s).") % {
        "zone": params.actor.tenant.time_zone
    }
    charts = [
        chart_of(
            by_hour,
            MEDIAN,
            chart_id="chart-speed-hours",
            kind="line",
            title=_("Median response time by hour of arrival"),
        ),
        chart_of(
            by_source,
            SLA_SHARE,
            chart_id="chart-speed-sources",
            title=_("Share answered within the limit by source"),
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "How long the leads created in the period waited for their first response, "
            "and how many were answered within the workspace's limit of %(minutes)s minutes."
        )
        % {"minutes": sla},
        tables=[by_source, by_manager, by_hour, _answers_table(params, sla)],
        charts=charts,
    )


SPEC = ReportSpec(slug="speed", title=gettext_lazy("Speed of first response"), build=build)
