"""The deals report: every figure of its stage, summary and forecast tables on a known data
set in Vladivostok — period edges on the workspace's clock, the previous period, scope,
another tenant, simple mode, bad query strings, and a constant number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.reports import REPORTS
from analytics.reports.deals import SPEC
from crm.models import Role, Tenant
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from deals.models import Pipeline, Stage
from tests.analytics.deal_facts import (
    NOW,
    add_deal,
    analyst,
    build,
    figures,
    in_vladivostok,
    local,
    rows,
    table,
    team_head,
)
from tests.factories import add_member

DAY = 86400


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def _stages(pipeline: Pipeline) -> dict[str, Stage]:
    """A pipeline's stages by the English names the tests use (positions of the seed)."""
    ordered = list(
        Stage.objects.filter(pipeline=pipeline)
        .select_related("pipeline")
        .order_by("position", "pk")
    )
    if pipeline.is_default:
        names = ["new", "qualification", "negotiation", "invoice", "won", "lost"]
    else:
        names = ["new", "proposal", "invoice", "won", "lost"]
    return dict(zip(names, ordered, strict=True))


@pytest.fixture
def world(tenant, other_tenant):
    """Deals of two pipelines around February (the period) and January (the one before);
    `manager` owns two of them. Another tenant has deals of its own in the same days."""
    in_vladivostok(tenant)
    admin = add_member(tenant, Role.Kind.ADMIN)
    manager = add_member(tenant, Role.Kind.MANAGER)
    with tenant_context(tenant):
        sales = Pipeline.objects.get(is_default=True)
        repeat = Pipeline.objects.get(is_repeat=True)
        s, r = _stages(sales), _stages(repeat)
        # Open deals (the forecast is seen on 15 March).
        add_deal(admin, s["new"], 1000, created=local(2026, 2, 10), expected=dt.date(2026, 3, 15))
        add_deal(
            admin,
            s["negotiation"],
            2000,
            created=local(2026, 2, 28, 23, 30),  # the period's last day, local
            expected=dt.date(2026, 4, 5),
        )
        add_deal(
            admin,
            s["negotiation"],
            3000,
            created=local(2026, 3, 1, 0, 10),  # after the period: not in the stage table
            expected=dt.date(2026, 3, 14),  # yesterday: overdue
        )
        add_deal(admin, r["proposal"], 1001, created=local(2026, 1, 5), expected=None)
        add_deal(
            manager, s["invoice"], 500, created=local(2026, 2, 1), expected=dt.date(2026, 5, 31)
        )
        add_deal(admin, s["new"], 700, created=local(2026, 2, 2), expected=dt.date(2026, 6, 1))
        # Won.
        add_deal(
            admin,
            s["won"],
            5000,
            created=local(2026, 1, 20, 10),
            closed=local(2026, 2, 28, 23, 30),  # the period's last evening: counts
        )
        add_deal(
            manager, s["won"], 3000, created=local(2026, 2, 1, 0), closed=local(2026, 2, 11, 0)
        )
        add_deal(admin, s["won"], 4000, created=local(2026, 2, 1), closed=local(2026, 3, 1, 0, 10))
        add_deal(admin, r["won"], 2500, created=local(2026, 1, 1, 0), closed=local(2026, 1, 31))
        add_deal(
            admin,
            s["won"],
            1000,
            created=local(2026, 1, 30, 23, 30),
            closed=local(2026, 1, 31, 23, 30),  # the previous period's last evening
        )
        add_deal(
            admin,
            s["won"],
            2000,
            created=local(2026, 1, 31, 0, 10),
            closed=local(2026, 2, 1, 0, 10),  # the period's first minutes
        )
        # Lost.
        add_deal(admin, s["lost"], 1500, created=local(2026, 1, 3), closed=local(2026, 2, 15))
        add_deal(admin, s["lost"], 500, created=local(2026, 1, 3), closed=local(2026, 2, 20))
        add_deal(admin, r["lost"], 800, created=local(2026, 1, 3), closed=local(2026, 2, 27))
        add_deal(admin, s["lost"], 300, created=local(2026, 1, 3), closed=local(2026, 1, 10))
        add_deal(admin, s["lost"], 9999, created=local(2026, 1, 3), closed=local(2026, 3, 1, 0, 10))
        add_deal(
            admin, s["lost"], 200, created=local(2026, 1, 3), closed=local(2026, 2, 28, 23, 30)
        )
    other = add_member(other_tenant, Role.Kind.ADMIN)
    with tenant_context(other_tenant):
        o = _stages(Pipeline.objects.get(is_default=True))
        add_deal(other, o["won"], 77777, created=local(2026, 2, 1), closed=local(2026, 2, 5))
        add_deal(other, o["lost"], 66666, created=local(2026, 2, 1), closed=local(2026, 2, 5))
        add_deal(other, o["new"], 55555, created=local(2026, 2, 1), expected=dt.date(2026, 3, 20))
    return {"admin": admin, "manager": manager, "tenant": tenant, "sales": s, "repeat": r}


def _label(stage: Stage) -> str:
    return f"{stage.pipeline.name} · {stage.name}"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_report_is_registered_for_both_modes():
    assert REPORTS["deals"] is SPEC
    assert SPEC.leads is False


def test_stage_table_counts_open_deals_now_and_the_periods_closed_ones(world):
    stages = table(build(SPEC, world["admin"]), "stages")
    s, r = world["sales"], world["repeat"]
    by_label = rows(stages)
    assert list(by_label) == [_label(x) for x in (*s.values(), *r.values())]
    # (value, previous): open deals have no previous value (a snapshot).
    assert figures(by_label[_label(s["new"])]) == [
        (2, None),
        (Decimal(1700), None),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    assert figures(by_label[_label(s["negotiation"])])[:2] == [(1, None), (Decimal(2000), None)]
    assert figures(by_label[_label(s["invoice"])])[:2] == [(1, None), (Decimal(500), None)]
    assert figures(by_label[_label(s["qualification"])]) == [
        (0, None),
        (0, None),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    assert figures(by_label[_label(s["won"])]) == [
        (0, None),
        (0, None),
        (3, 1),
        (Decimal(10000), Decimal(1000)),
        (0, 0),
        (0, 0),
    ]
    assert figures(by_label[_label(s["lost"])])[4:] == [(3, 1), (Decimal(2200), Decimal(300))]
    assert figures(by_label[_label(r["proposal"])])[:2] == [(1, None), (Decimal(1001), None)]
    assert figures(by_label[_label(r["won"])])[2:4] == [(0, 1), (0, Decimal(2500))]
    assert figures(by_label[_label(r["lost"])])[4:] == [(1, 0), (Decimal(800), 0)]
    assert figures(stages.total) == [
        (5, None),
        (Decimal(5201), None),
        (3, 2),
        (Decimal(10000), Decimal(3500)),
        (4, 1),
        (Decimal(3000), Decimal(300)),
    ]


def test_stage_table_links_to_the_deals_of_each_figure(world):
    stages = table(build(SPEC, world["admin"]), "stages")
    new = world["sales"]["new"]
    row = rows(stages)[_label(new)]
    assert _query(row.cells[0].url) == {
        "stage": [str(new.pk)],
        "outcome": ["open"],
        "created_before": ["2026-02-28"],
        "total": ["1"],
    }
    assert _query(row.cells[2].url) == {
        "stage": [str(new.pk)],
        "outcome": ["won"],
        "closed_after": ["2026-02-01"],
        "closed_before": ["2026-02-28"],
        "total": ["1"],
    }
    assert _query(stages.total.cells[5].url) == {
        "outcome": ["lost"],
        "closed_after": ["2026-02-01"],
        "closed_before": ["2026-02-28"],
        "total": ["1"],
    }
    assert row.url.startswith(tenant_reverse("deals:list", world["tenant"]))


def test_summary_gives_win_rate_deal_size_and_sales_cycle(world):
    summary = table(build(SPEC, world["admin"]), "summary")
    by_label = rows(summary)
    sales, repeat = world["sales"]["new"].pipeline, world["repeat"]["new"].pipeline
    assert list(by_label) == [sales.name, repeat.name]
    # Sales: won in February after 1 day, 10 days and 39 days 13.5 hours.
    cycles = [DAY, 10 * DAY, 39 * DAY + 13.5 * 3600]
    assert figures(by_label[sales.name]) == [
        (3, 1),
        (Decimal(10000), Decimal(1000)),
        (3, 1),
        (Decimal(2200), Decimal(300)),
        (pytest.approx(50.0), pytest.approx(50.0)),
        (pytest.approx(Decimal(10000) / 3), Decimal(1000)),
        (pytest.approx(10 * DAY), pytest.approx(DAY)),
        (pytest.approx(sum(cycles) / 3), pytest.approx(DAY)),
    ]
    assert figures(by_label[repeat.name]) == [
        (0, 1),
        (0, Decimal(2500)),
        (1, 0),
        (Decimal(800), 0),
        (pytest.approx(0.0), pytest.approx(100.0)),
        (None, Decimal(2500)),
        (None, pytest.approx(30.5 * DAY)),
        (None, pytest.approx(30.5 * DAY)),
    ]
    # All pipelines: the median is a deal's own cycle (the smaller of two, as PostgreSQL's
    # percentile_disc gives it), not an average of two.
    assert figures(summary.total) == [
        (3, 2),
        (Decimal(10000), Decimal(3500)),
        (4, 1),
        (Decimal(3000), Decimal(300)),
        (pytest.approx(300 / 7), pytest.approx(200 / 3)),
        (pytest.approx(Decimal(10000) / 3), Decimal(1750)),
        (pytest.approx(10 * DAY), pytest.approx(DAY)),
        (pytest.approx(sum(cycles) / 3), pytest.approx((DAY + 30.5 * DAY) / 2)),
    ]
    assert _query(by_label[sales.name].cells[2].url) == {
        "pipeline": [str(sales.pk)],
        "outcome": ["lost"],
        "closed_after": ["2026-02-01"],
        "closed_before": ["2026-02-28"],
        "total": ["1"],
    }


def test_forecast_weights_open_deals_by_stage_probability_per_close_month(world):
    forecast = table(build(SPEC, world["admin"]), "forecast")
    assert forecast.compare is False
    labels = [row.label for row in forecast.rows]
    assert labels == [
        "Overdue (expected before today)",
        "March 2026",
        "April 2026",
        "May 2026",
        "Later",
        "No date",
    ]
    assert [[cell.value for cell in row.cells] for row in forecast.rows] == [
        [1, Decimal(3000), Decimal(1500)],  # negotiation 50 %
        [1, Decimal(1000), Decimal(100)],  # new 10 %, expected today
        [1, Decimal(2000), Decimal(1000)],
        [1, Decimal(500), Decimal(400)],  # invoice sent 80 %
        [1, Decimal(700), Decimal(70)],
        [1, Decimal(1001), Decimal("600.6")],  # repeat sales proposal 60 %
    ]
    assert [cell.value for cell in forecast.total.cells] == [
        6,
        Decimal(8201),
        Decimal("3670.6"),
    ]
    links = [row.url and _query(row.url) for row in forecast.rows]
    assert links[0] == {"outcome": ["open"], "close_before": ["2026-03-14"], "total": ["1"]}
    assert links[1] == {
        "outcome": ["open"],
        "close_after": ["2026-03-15"],
        "close_before": ["2026-03-31"],
        "total": ["1"],
    }
    assert links[3] == {
        "outcome": ["open"],
        "close_after": ["2026-05-01"],
        "close_before": ["2026-05-31"],
        "total": ["1"],
    }
    assert links[4] == {"outcome": ["open"], "close_after": ["2026-06-01"], "total": ["1"]}
    assert links[5] is None  # the deal list cannot select deals without a date
    assert all(cell.url is None for cell in forecast.rows[5].cells)


def test_forecast_months_follow_the_workspace_calendar(world):
    # 31 March 23:30 in Vladivostok is still 31 March there (13:30 UTC), so March is
    # "this month"; ten minutes after midnight it is April's forecast.
    with time_machine.travel(local(2026, 3, 31, 23, 30), tick=False):
        labels = [r.label for r in table(build(SPEC, world["admin"]), "forecast").rows]
    assert labels[1:4] == ["March 2026", "April 2026", "May 2026"]
    with time_machine.travel(local(2026, 4, 1, 0, 10), tick=False):
        labels = [r.label for r in table(build(SPEC, world["admin"]), "forecast").rows]
    assert labels[1:4] == ["April 2026", "May 2026", "June 2026"]


def test_charts_stack_stage_amounts_and_show_the_weighted_months(world):
    report = build(SPEC, world["admin"])
    stacked, forecast = report.charts
    assert stacked.stacked is True
    assert [d.label for d in stacked.datasets] == ["Open amount", "Won amount", "Lost amount"]
    assert sum(stacked.datasets[0].data) == Decimal(5201)
    assert sum(stacked.datasets[1].data) == Decimal(10000)
    assert forecast.labels == ["March 2026", "April 2026", "May 2026"]
    assert forecast.datasets[0].data == [Decimal(100), Decimal(1000), Decimal(400)]


def test_a_manager_sees_only_own_deals(world):
    manager = analyst(world["manager"])
    report = build(SPEC, manager)
    assert figures(table(report, "stages").total)[:4] == [
        (1, None),
        (Decimal(500), None),
        (1, 0),
        (Decimal(3000), 0),
    ]
    assert [c.value for c in table(report, "forecast").total.cells] == [
        1,
        Decimal(500),
        Decimal(400),
    ]


def test_a_team_scoped_director_sees_the_team(world):
    head = team_head(world["tenant"], world["manager"])
    summary = table(build(SPEC, head), "summary")
    assert figures(summary.total)[:2] == [(1, 0), (Decimal(3000), 0)]


def test_another_tenants_deals_never_count(world, other_tenant):
    with tenant_context(other_tenant):
        other = type(world["admin"]).objects.filter(role__kind=Role.Kind.ADMIN).first()
    report = build(SPEC, other)
    assert figures(table(report, "stages").total)[2:] == [
        (1, 0),
        (Decimal(77777), 0),
        (1, 0),
        (Decimal(66666), 0),
    ]
    assert [c.value for c in table(report, "forecast").total.cells][:2] == [1, Decimal(55555)]


@pytest.mark.parametrize(
    "query",
    [
        "period=nonsense",
        "period=custom&date_from=2026-02-30&date_to=x",
        "period=custom&date_from=2026-03-01&date_to=2026-01-01",
        "period=custom&date_from=0001-01-01&date_to=9999-12-31",
        "owner=abc&team=999999&channel=x&source=nope&status=zz",
        "utm_source=" + "x" * 500,
    ],
)
def test_bad_query_strings_fall_back_to_defaults(world, client_for, query):
    report = build(SPEC, world["admin"], query)
    assert [t.key for t in report.tables] == ["stages", "summary", "forecast"]
    url = tenant_reverse("analytics:report", world["tenant"], slug="deals")
    response = client_for(world["admin"]).get(f"{url}?{query}&export=csv")
    assert response.status_code == 200


def test_a_member_without_the_analytics_right_is_refused(world, client_for):
    url = tenant_reverse("analytics:report", world["tenant"], slug="deals")
    response = client_for(world["manager"]).get(f"{url}?export=csv")
    assert response.status_code == 403


def test_the_report_works_in_the_simple_mode(world, client_for):
    tenant = world["tenant"]
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.SIMPLE)
    url = tenant_reverse("analytics:report", tenant, slug="deals")
    response = client_for(world["admin"]).get(f"{url}?period=last_month&export=csv")
    assert response.status_code == 200
    # The forecast's total row, in the workspace's (Russian) number format.
    assert ";6;8\xa0201;3\xa0671\r\n" in response.content.decode()


def test_the_number_of_queries_does_not_grow_with_the_deals(world, django_assert_num_queries):
    admin = world["admin"]

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            build(SPEC, admin)
        return len(queries)

    before = count()
    with tenant_context(world["tenant"]):
        for day in range(1, 11):
            add_deal(
                admin,
                world["sales"]["won"],
                100,
                created=local(2026, 1, day),
                closed=local(2026, 2, day),
            )
            add_deal(
                admin,
                world["repeat"]["new"],
                100,
                created=local(2026, 2, day),
                expected=dt.date(2026, 4, day),
            )
    with django_assert_num_queries(before):
        build(SPEC, admin)
