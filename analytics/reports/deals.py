"""Deals and forecast: the deals of each pipeline stage (open now, won and lost in the
period), the period's wins and losses with the win rate, deal size and sales cycle, and
the open deals weighted by their stage's probability by expected close month. Works in
both modes: it reads deals only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Case,
    CharField,
    DecimalField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.params import Params
from analytics.reports.base import ReportSpec, grouped, value
from analytics.sql import Percentile, Rows, Seconds
from analytics.tables import (
    COUNT,
    MONEY,
    PERCENT,
    SECONDS,
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
from deals.models import Deal, Outcome, Pipeline, Stage

CLOSED = (Outcome.WON, Outcome.LOST)


def _closed_in(period: periods.Period, outcome: str) -> Q:
    """Deals of `outcome` closed in `period`'s workspace days."""
    return Q(outcome=outcome, closed_at__gte=period.start, closed_at__lt=period.end)


def _closed_link(params: Params, outcome: str, **extra: Any) -> str:
    return params.deal_link(
        outcome=outcome,
        closed_after=params.period.first,
        closed_before=params.period.last,
        **extra,
    )


# By pipeline and stage --------------------------------------------------------------------


def stage_table(params: Params, stages: list[Stage]) -> Table:
    """One row per stage: its open deals now (created by the period's end) and the deals
    won and lost in the period that stand in it."""
    # Two scans, each of its own index (deals_open, deals_closed): the open deals now, and
    # the deals closed in either period.
    open_now = params.deals().filter(outcome=Outcome.OPEN, created_at__lt=params.period.end)
    figures: dict[str, Any] = {"open": Rows(), "open_amount": Sum("amount")}
    groups = grouped(open_now, ["stage_id"], **figures)
    closed_figures: dict[str, Any] = {}
    for name, q in (
        ("won", _closed_in(params.period, Outcome.WON)),
        ("lost", _closed_in(params.period, Outcome.LOST)),
        ("won_before", _closed_in(params.previous, Outcome.WON)),
        ("lost_before", _closed_in(params.previous, Outcome.LOST)),
    ):
        closed_figures[name] = Rows(q)
        closed_figures[f"{name}_amount"] = Sum("amount", filter=q)
    closed = params.deals().filter(
        outcome__in=CLOSED, closed_at__gte=params.previous.start, closed_at__lt=params.period.end
    )
    for stage, found in grouped(closed, ["stage_id"], **closed_figures).items():
        groups.setdefault(stage, {}).update(found)
    figures.update(closed_figures)
    table = Table(
        key="stages",
        title=_("By pipeline and stage"),
        head=_("Pipeline · stage"),
        columns=[
            Column(
                _("Open deals"),
                COUNT,
                _("Deals open now in this stage, created by the period's end (not compared)."),
            ),
            Column(_("Open amount"), MONEY, _("The sum of the amounts of those open deals.")),
            Column(
                _("Won"),
                COUNT,
                _("Deals won in the period (by the day they were closed), by their stage."),
            ),
            Column(_("Won amount"), MONEY, _("The sum of the amounts of those won deals.")),
            Column(
                _("Lost"),
                COUNT,
                _("Deals lost in the period (by the day they were closed), by their stage."),
                higher_is_better=False,
            ),
            Column(
                _("Lost amount"),
                MONEY,
                _("The sum of the amounts of those lost deals."),
                higher_is_better=False,
            ),
        ],
        note=_(
            "Open deals are a snapshot: those open now, created by the period's end. Won "
            "and lost deals are those closed in the period."
        ),
    )
    for stage in stages:
        table.rows.append(
            _stage_row(
                params,
                f"{stage.pipeline.name} · {stage.name}",
                {k: value(groups, stage.pk, k) for k in figures},
                stage=stage.pk,
            )
        )
    totals = {k: sum(g.get(k) or 0 for g in groups.values()) for k in figures}
    table.total = _stage_row(params, _("All pipelines"), totals)
    return table


def _stage_row(params: Params, label: str, figures: dict[str, Any], **where: Any) -> Row:
    def get(name: str) -> Any:
        return figures[name] or 0

    opened = params.deal_link(outcome=Outcome.OPEN, created_before=params.period.last, **where)
    won = _closed_link(params, Outcome.WON, **where)
    lost = _closed_link(params, Outcome.LOST, **where)
    return Row(
        label=label,
        url=params.deal_link(**where) if where else None,
        cells=[
            Cell(get("open"), None, opened),
            Cell(get("open_amount"), None, opened),
            Cell(get("won"), get("won_before"), won),
            Cell(get("won_amount"), get("won_before_amount"), won),
            Cell(get("lost"), get("lost_before"), lost),
            Cell(get("lost_amount"), get("lost_before_amount"), lost),
        ],
    )


def stage_chart(table: Table) -> Chart:
    """The open, won and lost amounts of each stage, stacked."""
    datasets = [
        Dataset(
            label=table.columns[index].label,
            data=[row.cells[index].value for row in table.rows],
            urls=[row.cells[index].url for row in table.rows],
        )
        for index in (1, 3, 5)
    ]
    return Chart(
        id="chart-deals-stages",
        title=_("Open, won and lost amounts by stage"),
        kind="bar",
        labels=[row.label for row in table.rows],
        datasets=datasets,
        unit=MONEY,
        stacked=True,
    )


# Summary ----------------------------------------------------------------------------------


def _summary_figures() -> dict[str, Any]:
    won, lost = Q(outcome=Outcome.WON), Q(outcome=Outcome.LOST)
    # The won deals' cycles; NULL for the lost ones, which both aggregates skip.
    cycle = Case(When(won, then=Seconds("closed_at", "created_at")))
    return {
        "won": Rows(won),
        "won_amount": Sum("amount", filter=won),
        "lost": Rows(lost),
        "lost_amount": Sum("amount", filter=lost),
        "cycle_median": Percentile(cycle, 0.5),
        "cycle_average": Avg(cycle),
    }


def _closed_deals(params: Params, period: periods.Period) -> QuerySet[Deal]:
    """The deals in scope won or lost in `period`'s workspace days."""
    return params.deals().filter(
        outcome__in=CLOSED, closed_at__gte=period.start, closed_at__lt=period.end
    )


def summary_table(params: Params, pipelines: list[Pipeline]) -> Table:
    """The period's wins and losses per pipeline and in all: win rate, average deal size
    and sales cycle, against the previous period."""
    figures = _summary_figures()
    current = grouped(_closed_deals(params, params.period), ["pipeline_id"], **figures)
    previous = grouped(_closed_deals(params, params.previous), ["pipeline_id"], **figures)
    table = Table(
        key="summary",
        title=_("Summary"),
        head=_("Pipeline"),
        columns=[
            Column(_("Won"), COUNT, _("Deals won in the period (by the day they were closed).")),
            Column(_("Won amount"), MONEY, _("The sum of the amounts of those won deals.")),
            Column(
                _("Lost"),
                COUNT,
                _("Deals lost in the period (by the day they were closed)."),
                higher_is_better=False,
            ),
            Column(
                _("Lost amount"),
                MONEY,
                _("The sum of the amounts of those lost deals."),
                higher_is_better=False,
            ),
            Column(
                _("Win rate"),
                PERCENT,
                _("Won ÷ (won + lost): the share of the deals closed in the period that were won."),
            ),
            Column(
                _("Average deal size"),
                MONEY,
                _("Won amount ÷ won deals."),
            ),
            Column(
                _("Median sales cycle"),
                SECONDS,
                _(
                    "The median time from a deal's creation to its closing, of the deals "
                    "won in the period (the middle one: half took no longer)."
                ),
                higher_is_better=False,
            ),
            Column(
                _("Average sales cycle"),
                SECONDS,
                _(
                    "The average time from a deal's creation to its closing, of the deals "
                    "won in the period."
                ),
                higher_is_better=False,
            ),
        ],
    )
    for pipeline in pipelines:
        table.rows.append(
            _summary_row(
                params,
                pipeline.name,
                current.get(pipeline.pk, {}),
                previous.get(pipeline.pk, {}),
                pipeline=pipeline.pk,
            )
        )
    table.total = _summary_row(
        params,
        _("All pipelines"),
        _closed_deals(params, params.period).aggregate(**figures),
        _closed_deals(params, params.previous).aggregate(**figures),
    )
    return table


def _summary_row(
    params: Params, label: str, now: dict[str, Any], before: dict[str, Any], **where: Any
) -> Row:
    def both(name: str, default: Any = 0) -> tuple[Any, Any]:
        first, second = now.get(name), before.get(name)
        return (default if first is None else first, default if second is None else second)

    won, lost = (
        _closed_link(params, Outcome.WON, **where),
        _closed_link(params, Outcome.LOST, **where),
    )
    (won_now, won_before), (lost_now, lost_before) = both("won"), both("lost")
    amounts = both("won_amount")
    return Row(
        label=label,
        url=params.deal_link(**where) if where else None,
        cells=[
            Cell(won_now, won_before, won),
            Cell(*amounts, won),
            Cell(lost_now, lost_before, lost),
            Cell(*both("lost_amount"), lost),
            Cell(
                share(won_now, won_now + lost_now), share(won_before, won_before + lost_before), won
            ),
            Cell(_average(amounts[0], won_now), _average(amounts[1], won_before), won),
            Cell(*both("cycle_median", None), won),
            Cell(*both("cycle_average", None), won),
        ],
    )


def _average(amount: Any, count: int) -> Decimal | None:
    return None if not count else Decimal(amount) / count


# Forecast ---------------------------------------------------------------------------------

OVERDUE, LATER, NO_DATE = "overdue", "later", "none"
MONTHS = 3  # this month and the next two


def _month_after(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def forecast_buckets(today: dt.date) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """The forecast's rows as (key, first, last expected close day; None: open-ended):
    overdue, the rest of this month, the next two months, later, and no date."""
    one = dt.timedelta(days=1)
    buckets: list[tuple[str, dt.date | None, dt.date | None]] = [(OVERDUE, None, today - one)]
    first = today.replace(day=1)
    for index in range(MONTHS):
        following = _month_after(first)
        buckets.append((first.isoformat(), today if index == 0 else first, following - one))
        first = following
    buckets.append((LATER, first, None))
    return buckets


def forecast_table(params: Params) -> Table:
    """The open deals now by expected close month: their amounts and the amounts weighted
    by their stage's probability."""
    today = periods.today()
    buckets = forecast_buckets(today)
    whens = [
        When(
            Q(
                **({"expected_close__gte": first} if first else {}),
                **({"expected_close__lte": last} if last else {}),
            ),
            then=Value(key),
        )
        for key, first, last in buckets
    ]
    rows = params.deals().filter(outcome=Outcome.OPEN)
    rows = rows.annotate(bucket=Case(*whens, default=Value(NO_DATE), output_field=CharField()))
    groups = grouped(
        rows,
        ["bucket"],
        deals=Rows(),
        # Not named "amount": F("amount") below would read this aggregate instead.
        total=Sum("amount"),
        # Σ amount × probability in SQL; ÷ 100 below, in exact decimals (SQLite would
        # divide integers).
        weighted=Sum(
            F("amount") * F("stage__probability"),
            output_field=DecimalField(max_digits=20, decimal_places=2),
        ),
    )
    table = Table(
        key="forecast",
        title=_("Forecast"),
        head=_("Expected close"),
        compare=False,
        columns=[
            Column(_("Open deals"), COUNT, _("Deals open now expected to close then.")),
            Column(_("Amount"), MONEY, _("The sum of the amounts of those deals.")),
            Column(
                _("Weighted amount"),
                MONEY,
                _(
                    "The sum of each deal's amount × its stage's probability ÷ 100: what "
                    "those deals should bring."
                ),
            ),
        ],
        note=_(
            "The deals open now, whatever the period, by their expected close date in the "
            "workspace's calendar. The deals without a date have no list link: the deal "
            "list cannot select them."
        ),
    )
    labels = {
        OVERDUE: _("Overdue (expected before today)"),
        LATER: _("Later"),
        NO_DATE: _("No date"),
    }
    for key, first, last in [*buckets, (NO_DATE, None, None)]:
        if key in labels:
            label = labels[key]
        else:
            label = date_format(dt.date.fromisoformat(key), "YEAR_MONTH_FORMAT")
        link = (
            None
            if key == NO_DATE
            else params.deal_link(outcome=Outcome.OPEN, close_after=first, close_before=last)
        )
        table.rows.append(_forecast_row(label, groups.get(key, {}), link))
    totals = {k: sum(g[k] or 0 for g in groups.values()) for k in ("deals", "total", "weighted")}
    table.total = _forecast_row(_("All open deals"), totals, params.deal_link(outcome=Outcome.OPEN))
    return table


def _forecast_row(label: str, figures: dict[str, Any], link: str | None) -> Row:
    weighted = Decimal(figures.get("weighted") or 0) / 100
    return Row(
        label=label,
        url=link,
        cells=[
            Cell(figures.get("deals") or 0, None, link),
            Cell(figures.get("total") or 0, None, link),
            Cell(weighted, None, link),
        ],
    )


# The report -------------------------------------------------------------------------------


def build(params: Params) -> Report:
    """The report: stages, summary and forecast, with their charts."""
    stages = list(
        Stage.objects.select_related("pipeline").order_by(
            "pipeline__position", "pipeline__pk", "position", "pk"
        )
    )
    pipelines = list({stage.pipeline.pk: stage.pipeline for stage in stages}.values())
    by_stage = stage_table(params, stages)
    summary = summary_table(params, pipelines)
    forecast = forecast_table(params)
    months = forecast.rows[1 : 1 + MONTHS]
    charts = [
        stage_chart(by_stage),
        chart_of(
            forecast,
            2,
            chart_id="chart-deals-forecast",
            title=_("Weighted forecast by month"),
            rows=months,
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "Deals by pipeline stage, the period's wins and losses, and the open deals "
            "weighted by their stage's probability by expected close month."
        ),
        tables=[by_stage, summary, forecast],
        charts=charts,
    )


SPEC = ReportSpec(slug="deals", title=gettext_lazy("Deals and forecast"), build=build, leads=False)
