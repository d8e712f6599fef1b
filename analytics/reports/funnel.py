"""The funnel: of the leads created in the period (each counted once, wherever it is now),
how many went into work, were converted, and became a won deal — with the conversion and
the median time between the steps, and the same steps by source and by manager.

Its second part, the qualification: of the same leads, how many reached MQL, SAL and SQL
(at some time: the level's first date is set, `reached=` on the lead list) and how many of
the SQL leads became a won deal — by source and by manager too."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import Metric
from analytics.params import Params
from analytics.reports.base import ReportSpec, ordered_keys, value
from analytics.reports.rolled import lead_groups
from analytics.tables import (
    COUNT,
    MINUTES,
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
from crm.models import Membership
from deals.models import Outcome
from leads.models import LeadSource, LeadState, Level


@dataclass(frozen=True)
class Step:
    name: str  # the aggregate's name
    label: str | Promise
    link: dict[str, Any]  # the lead list parameters of the step's leads


STEPS = (
    Step("created", gettext_lazy("Created"), {}),
    Step("taken", gettext_lazy("In progress"), {"taken": 1}),
    Step("converted", gettext_lazy("Converted"), {"state": LeadState.CONVERTED.value}),
    Step("won", gettext_lazy("Deal won"), {"deal_outcome": Outcome.WON.value}),
)
# The steps' counts: measures of the leads (analytics.rollups.raw_measure).
COUNTS = {"created": "leads", "taken": "taken", "converted": "converted", "won": "won"}


# The qualification steps: the cohort, the levels reached (a level skipped on the way up is
# dated too, leads.qualification.lead_set_level, so each step's leads are among the
# previous step's), and the SQL leads whose deal is won.
QUALIFICATION = (
    Step("created", gettext_lazy("Created"), {}),
    Step("mql", gettext_lazy("MQL"), {"reached": Level.MQL.value}),
    Step("sal", gettext_lazy("SAL"), {"reached": Level.SAL.value}),
    Step("sql", gettext_lazy("SQL"), {"reached": Level.SQL.value}),
    Step(
        "sql_won",
        gettext_lazy("SQL, deal won"),
        {"reached": Level.SQL.value, "deal_outcome": Outcome.WON.value},
    ),
)
QUALIFICATION_COUNTS = {"mql": "mql", "sal": "sal", "sql": "sql", "sql_won": "sql_won"}


# The median time into each step from the one before, in whole minutes (a lead that did
# not reach the step has none): analytics.rollups.duration_of.
MEDIANS = {
    "taken_time": (Metric.TAKEN, 0.5),
    "converted_time": (Metric.CONVERTED, 0.5),
    "won_time": (Metric.WON, 0.5),
}


def _steps(params: Params, counts: tuple[dict, dict]) -> Table:
    """The four steps of the whole cohort: `counts` (both periods, from the scan of the
    splits) and the medians: from the rollup's histograms where the request allows, else
    in one more scan of both periods."""
    (medians,) = lead_groups(params, [[]], {}, durations=MEDIANS)
    current, previous = (
        {**(c.get(None) or dict.fromkeys(COUNTS, 0)), **(m.get(None) or dict.fromkeys(MEDIANS))}
        for c, m in zip(counts, medians, strict=True)
    )
    table = Table(
        key="steps",
        title=_("Funnel"),
        head=_("Step"),
        columns=[
            Column(
                _("Leads"),
                COUNT,
                _(
                    "Leads created in the period that reached the step by now: created; "
                    "taken into work; converted; converted into a deal that is won."
                ),
            ),
            Column(
                _("From the previous step"),
                PERCENT,
                _("The step's leads ÷ the previous step's leads."),
            ),
            Column(_("From creation"), PERCENT, _("The step's leads ÷ the leads created.")),
            Column(
                _("Drop-off"),
                COUNT,
                _("The previous step's leads that did not reach this step (previous − this)."),
                higher_is_better=False,
            ),
            Column(
                _("Median time from the previous step"),
                MINUTES,
                _(
                    "Of the step's leads, the median time from creation to going into work; "
                    "from going into work to conversion; from conversion to the deal's win "
                    "(in whole minutes)."
                ),
                higher_is_better=False,
            ),
        ],
    )
    for index, step in enumerate(STEPS):
        url = params.lead_link(**step.link)
        now, before = current[step.name], previous[step.name]
        if index == 0:
            cells = [
                Cell(now, before, url),
                Cell(None),
                Cell(share(now, now), share(before, before), url),
                Cell(None),
                Cell(None),
            ]
        else:
            last = STEPS[index - 1].name
            # Only the first drop-off is one list (not taken); later ones would need negations.
            drop_url = params.lead_link(taken=0) if index == 1 else None
            cells = [
                Cell(now, before, url),
                Cell(share(now, current[last]), share(before, previous[last]), url),
                Cell(share(now, current["created"]), share(before, previous["created"]), url),
                Cell(current[last] - now, previous[last] - before, drop_url),
                Cell(current[f"{step.name}_time"], previous[f"{step.name}_time"], url),
            ]
        table.rows.append(Row(label=str(step.label), cells=cells, url=url))
    return table


def _split_columns() -> list[Column]:
    return [
        Column(_("Created"), COUNT, _("Leads created in the period.")),
        Column(_("In progress"), COUNT, _("Of those leads, how many went into work (by now).")),
        Column(_("Converted"), COUNT, _("Of those leads, how many were converted (by now).")),
        Column(_("Deals won"), COUNT, _("Of those leads, how many became a deal that is won.")),
        Column(_("Created → converted"), PERCENT, _("Converted ÷ created.")),
        Column(_("Created → won"), PERCENT, _("Deals won ÷ created.")),
    ]


def _qualification_split_columns() -> list[Column]:
    return [
        Column(_("Created"), COUNT, _("Leads created in the period.")),
        Column(_("MQL"), COUNT, _("Of those leads, how many reached MQL (by now).")),
        Column(_("SAL"), COUNT, _("Of those leads, how many reached SAL (by now).")),
        Column(_("SQL"), COUNT, _("Of those leads, how many reached SQL (by now).")),
        Column(
            _("SQL, deals won"),
            COUNT,
            _("Of the leads that reached SQL, how many became a deal that is won."),
        ),
        Column(_("Created → MQL"), PERCENT, _("MQL ÷ created.")),
        Column(_("MQL → SQL"), PERCENT, _("SQL ÷ MQL.")),
        Column(_("MQL → won"), PERCENT, _("SQL leads with a won deal ÷ MQL.")),
    ]


# The shares of a split's rows: (the step counted, the step it is a share of), by index.
SPLIT_SHARES = ((2, 0), (3, 0))
QUALIFICATION_SHARES = ((1, 0), (3, 1), (4, 1))


def _split_row(
    label: str,
    key: Hashable,
    current: dict,
    previous: dict,
    link: Callable[..., str],
    steps: tuple[Step, ...] = STEPS,
    shares: tuple[tuple[int, int], ...] = SPLIT_SHARES,
) -> Row:
    cells = []
    for step in steps:
        cells.append(
            Cell(value(current, key, step.name), value(previous, key, step.name), link(**step.link))
        )
    for part, whole in shares:
        step, of = steps[part].name, steps[whole].name
        cells.append(
            Cell(
                share(value(current, key, step), value(current, key, of)),
                share(value(previous, key, step), value(previous, key, of)),
                link(**steps[part].link),
            )
        )
    return Row(label=label, url=link(), cells=cells)


def _split(
    params: Params,
    *,
    key: str,
    title: str,
    head: str,
    groups: tuple[dict[Hashable, dict], dict[Hashable, dict]],
    labels: Callable[[list[Hashable]], dict[Hashable, str]],
    link_params: Callable[[Hashable], dict[str, Any]],
    steps: tuple[Step, ...] = STEPS,
    shares: tuple[tuple[int, int], ...] = SPLIT_SHARES,
    columns: Callable[[], list[Column]] = _split_columns,
) -> Table:
    """The steps per group (`groups`: both periods), biggest first."""
    current, previous = groups
    keys = ordered_keys(current, previous, "created")
    names = labels(keys)
    table = Table(key=key, title=title, head=head, columns=columns())
    for group in keys:
        extra = link_params(group)
        table.rows.append(
            _split_row(
                names[group],
                group,
                current,
                previous,
                lambda extra=extra, **more: params.lead_link(**extra, **more),
                steps,
                shares,
            )
        )
    totals = (
        {"all": {s.name: sum(g[s.name] for g in current.values()) for s in steps}},
        {"all": {s.name: sum(g[s.name] for g in previous.values()) for s in steps}},
    )
    table.total = _split_row(
        _("Total"), "all", *totals, lambda **more: params.lead_link(**more), steps, shares
    )
    return table


def _source_labels(keys: list[Hashable]) -> dict[Hashable, str]:
    sources = dict(LeadSource.choices)
    return {k: str(sources.get(k, k)) for k in keys}


def _manager_labels(keys: list[Hashable]) -> dict[Hashable, str]:
    """Members by their full name or e-mail (one query); the unassigned leads' row."""
    rows = Membership.objects.filter(pk__in=[k for k in keys if k is not None]).values_list(
        "pk", "user__full_name", "user__email"
    )
    names: dict[Hashable, str] = {pk: full_name or email for pk, full_name, email in rows}
    return {
        k: _("Unassigned") if k is None else names.get(k) or _("Member #%(id)s") % {"id": k}
        for k in keys
    }


def _stops_by_source(table: Table) -> Chart:
    """Where each source's leads stopped: four parts that add up to the leads created."""
    parts = [
        (_("Not taken into work"), lambda c: c[0].value - c[1].value),
        (_("Stopped in work"), lambda c: c[1].value - c[2].value),
        (_("Converted, no deal won"), lambda c: c[2].value - c[3].value),
        (_("Deal won"), lambda c: c[3].value),
    ]
    return Chart(
        id="chart-funnel-sources",
        title=_("Where the leads of each source stopped"),
        kind="bar",
        labels=[row.label for row in table.rows],
        datasets=[
            Dataset(label=name, data=[part(row.cells) for row in table.rows])
            for name, part in parts
        ],
        stacked=True,
    )


def _qualification(params: Params, counts: tuple[dict, dict]) -> Table:
    """The qualification steps of the whole cohort (`counts`: both periods): created, MQL,
    SAL, SQL, SQL with a won deal — each step's leads among the previous step's."""
    names = [step.name for step in QUALIFICATION]
    current, previous = (c.get(None) or dict.fromkeys(names, 0) for c in counts)
    table = Table(
        key="qualification",
        title=_("Qualification"),
        head=_("Step"),
        columns=[
            Column(
                _("Leads"),
                COUNT,
                _(
                    "Leads created in the period that reached the step by now: created; "
                    "reached MQL; SAL; SQL (a level skipped on the way up counts as reached); "
                    "reached SQL and became a deal that is won."
                ),
            ),
            Column(
                _("From the previous step"),
                PERCENT,
                _("The step's leads ÷ the previous step's leads."),
            ),
            Column(_("From MQL"), PERCENT, _("The step's leads ÷ the leads that reached MQL.")),
            Column(_("From creation"), PERCENT, _("The step's leads ÷ the leads created.")),
            Column(
                _("Drop-off"),
                COUNT,
                _("The previous step's leads that did not reach this step (previous − this)."),
                higher_is_better=False,
            ),
        ],
    )
    for index, step in enumerate(QUALIFICATION):
        url = params.lead_link(**step.link)
        now, before = current[step.name], previous[step.name]
        if index == 0:
            cells = [
                Cell(now, before, url),
                Cell(None),
                Cell(None),
                Cell(share(now, now), share(before, before), url),
                Cell(None),
            ]
        else:
            last = QUALIFICATION[index - 1].name
            # Drop-offs are unlinked: "did not reach" is no list filter (a negation).
            cells = [
                Cell(now, before, url),
                Cell(share(now, current[last]), share(before, previous[last]), url),
                Cell(share(now, current["mql"]), share(before, previous["mql"]), url),
                Cell(share(now, current["created"]), share(before, previous["created"]), url),
                Cell(current[last] - now, previous[last] - before),
            ]
        table.rows.append(Row(label=str(step.label), cells=cells, url=url))
    return table


def build(params: Params) -> Report:
    # One scan of both periods for the whole cohort and both splits (grouping sets), or
    # the rollup's days from it where it holds (analytics.reports.rolled).
    whole, sources, managers = lead_groups(
        params, [[], ["source"], ["owner_id"]], {**COUNTS, **QUALIFICATION_COUNTS}
    )
    steps = _steps(params, whole)
    # Both tables by manager name the same members: one query.
    manager_names = _manager_labels(list(set(managers[0]) | set(managers[1])))
    by_source = _split(
        params,
        key="sources",
        title=_("By source"),
        head=_("Source"),
        groups=sources,
        labels=_source_labels,
        link_params=lambda s: {"source": s},
    )
    by_manager = _split(
        params,
        key="managers",
        title=_("By manager"),
        head=_("Responsible"),
        groups=managers,
        labels=lambda keys: manager_names,
        link_params=lambda m: {"owner": "none" if m is None else m},
    )
    qualification = _qualification(params, whole)
    qualification_splits = [
        _split(
            params,
            key=f"qualification_{key}",
            title=title,
            head=head,
            groups=groups,
            labels=labels,
            link_params=link_params,
            steps=QUALIFICATION,
            shares=QUALIFICATION_SHARES,
            columns=_qualification_split_columns,
        )
        for key, title, head, groups, labels, link_params in (
            (
                "sources",
                _("Qualification by source"),
                _("Source"),
                sources,
                _source_labels,
                lambda s: {"source": s},
            ),
            (
                "managers",
                _("Qualification by manager"),
                _("Responsible"),
                managers,
                lambda keys: manager_names,
                lambda m: {"owner": "none" if m is None else m},
            ),
        )
    ]
    charts = [
        chart_of(steps, 0, chart_id="chart-funnel-steps", kind="hbar", title=_("Funnel")),
        _stops_by_source(by_source),
        chart_of(
            qualification,
            0,
            chart_id="chart-funnel-qualification",
            kind="hbar",
            title=_("Qualification"),
        ),
    ]
    return Report(
        slug=SPEC.slug,
        title=SPEC.title,
        description=_(
            "The leads created in the period, each counted once wherever it is now: how many "
            "went into work, were converted and became a won deal; and how many reached MQL, "
            "SAL and SQL."
        ),
        tables=[steps, by_source, by_manager, qualification, *qualification_splits],
        charts=charts,
    )


SPEC = ReportSpec(slug="funnel", title=gettext_lazy("Funnel"), build=build)
