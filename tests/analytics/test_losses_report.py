"""The loss reasons report: junk leads by junk status and lost deals by reason, every
figure on a known data set in Vladivostok — period edges on the workspace's clock, the
previous period, scope, another tenant, the simple mode (no lead table), bad query
strings, and a constant number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.reports import REPORTS
from analytics.reports.losses import SPEC
from crm.models import Membership, Role, Tenant
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from deals.models import LossReason, Pipeline, Stage
from leads.models import Lead, LeadState, LeadStatus
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
from tests.leads.factories import make_lead


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def add_lead(actor: Membership, state: str, created: dt.datetime, status=None, **kwargs) -> Lead:
    """A lead in `state` (its default status unless `status`), created at `created`."""
    lead = make_lead(actor, **kwargs)
    status = status or LeadStatus.objects.get(state=state, is_default=True)
    Lead.objects.filter(pk=lead.pk).update(state=state, status=status, created_at=created)
    return lead


def _stage(kind: str, repeat: bool = False) -> Stage:
    return Stage.objects.get(pipeline=Pipeline.objects.get(is_repeat=repeat), kind=kind)


@pytest.fixture
def world(tenant, other_tenant):
    """February (the period) and January (the one before) of junk leads and lost deals;
    `manager` owns some of each. Another tenant has its own in the same days."""
    in_vladivostok(tenant)
    admin = add_member(tenant, Role.Kind.ADMIN)
    manager = add_member(tenant, Role.Kind.MANAGER)
    with tenant_context(tenant):
        junk = list(LeadStatus.objects.filter(state=LeadState.JUNK).order_by("position", "pk"))
        j1, j2, j3, _j4 = junk
        # February: 8 leads, 4 of them junk.
        add_lead(admin, LeadState.JUNK, local(2026, 2, 1, 0, 10), j1)  # first minutes
        add_lead(admin, LeadState.JUNK, local(2026, 2, 14), j1)
        add_lead(admin, LeadState.JUNK, local(2026, 2, 28, 23, 30), j1)  # last evening
        add_lead(manager, LeadState.JUNK, local(2026, 2, 20), j2, owner=manager)
        add_lead(admin, LeadState.CONVERTED, local(2026, 2, 3))
        add_lead(admin, LeadState.CONVERTED, local(2026, 2, 4))
        add_lead(admin, LeadState.NEW, local(2026, 2, 5))
        add_lead(manager, LeadState.IN_PROGRESS, local(2026, 2, 6), owner=manager)
        add_lead(admin, LeadState.JUNK, local(2026, 3, 1, 0, 10), j2)  # March: not counted
        # January: 4 leads, 2 of them junk.
        add_lead(admin, LeadState.JUNK, local(2026, 1, 31, 23, 30), j3)
        add_lead(admin, LeadState.JUNK, local(2026, 1, 10), j1)
        add_lead(admin, LeadState.NEW, local(2026, 1, 11))
        add_lead(admin, LeadState.NEW, local(2026, 1, 12))
        lost, repeat_lost, won = _stage("lost"), _stage("lost", repeat=True), _stage("won")
        # The workspace's loss reasons, in this order; "Went silent" was turned off after
        # January, "Obsolete" long ago (no deals).
        LossReason.objects.all().delete()
        for position, (name, active) in enumerate(
            [
                ("Too expensive", True),
                ("Chose a competitor", True),
                ("Went silent", False),
                ("Obsolete", False),
                ("Other", True),
            ]
        ):
            LossReason.objects.create(name=name, position=position, is_active=active)
        expensive = "Too expensive"
        created = local(2026, 1, 2)
        add_deal(admin, lost, 1500, created=created, closed=local(2026, 2, 15), reason=expensive)
        add_deal(
            admin, repeat_lost, 800, created=created, closed=local(2026, 2, 27), reason=expensive
        )
        add_deal(
            manager,
            lost,
            200,
            created=created,
            closed=local(2026, 2, 28, 23, 30),
            reason=expensive,
        )
        add_deal(admin, lost, 500, created=created, closed=local(2026, 2, 20))  # no reason
        add_deal(
            admin,
            lost,
            100,
            created=created,
            closed=local(2026, 2, 1, 0, 10),
            reason="Chose a competitor",
        )
        add_deal(
            admin, lost, 9999, created=created, closed=local(2026, 3, 1, 0, 10), reason=expensive
        )
        add_deal(admin, won, 7000, created=created, closed=local(2026, 2, 10))
        add_deal(
            admin,
            lost,
            400,
            created=created,
            closed=local(2026, 1, 31, 23, 30),
            reason=expensive,
        )
        add_deal(admin, lost, 300, created=created, closed=local(2026, 1, 10), reason="Went silent")
    other = add_member(other_tenant, Role.Kind.ADMIN)
    with tenant_context(other_tenant):
        add_lead(
            other,
            LeadState.JUNK,
            local(2026, 2, 10),
            LeadStatus.objects.filter(state=LeadState.JUNK).first(),
        )
        add_deal(
            other,
            _stage("lost"),
            55555,
            created=local(2026, 1, 2),
            closed=local(2026, 2, 10),
            reason=expensive,
        )
    return {
        "admin": admin,
        "manager": manager,
        "other": other,
        "tenant": tenant,
        "junk": junk,
    }


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _approx(pairs: list[tuple]) -> list[tuple]:
    return [tuple(None if v is None else pytest.approx(v) for v in pair) for pair in pairs]


def test_the_report_is_registered_for_both_modes():
    assert REPORTS["losses"] is SPEC
    assert SPEC.leads is False


def test_junk_leads_by_status_with_shares_of_the_junk_and_of_all_leads(world):
    junk = table(build(SPEC, world["admin"]), "junk")
    j1, j2, j3, j4 = world["junk"]
    assert [row.label for row in junk.rows] == [j1.name, j2.name, j3.name, j4.name]
    by_label = rows(junk)
    # (this period, previous): 4 junk of 8 leads in February, 2 of 4 in January.
    assert figures(by_label[j1.name]) == _approx([(3, 1), (75.0, 50.0), (37.5, 25.0)])
    assert figures(by_label[j2.name]) == _approx([(1, 0), (25.0, 0.0), (12.5, 0.0)])
    assert figures(by_label[j3.name]) == _approx([(0, 1), (0.0, 50.0), (0.0, 25.0)])
    assert figures(by_label[j4.name]) == _approx([(0, 0), (0.0, 0.0), (0.0, 0.0)])
    assert figures(junk.total) == _approx([(4, 2), (100.0, 100.0), (50.0, 50.0)])
    assert _query(by_label[j2.name].cells[0].url) == {
        "status": [str(j2.pk)],
        "state": ["junk"],
        "created_after": ["2026-02-01"],
        "created_before": ["2026-02-28"],
        "archive": ["all"],
        "total": ["1"],
    }
    assert _query(junk.total.url)["state"] == ["junk"]


def test_lost_deals_by_the_configured_reasons_in_the_workspace_days(world):
    lost = table(build(SPEC, world["admin"]), "lost")
    # The list's order: the reasons offered (even at zero), a turned-off one that has
    # deals, then the deals lost without a reason (before reasons were required).
    assert [row.label for row in lost.rows] == [
        "Too expensive",
        "Chose a competitor",
        "Went silent",
        "Other",
        "No reason given",
    ]
    by_label = rows(lost)
    assert figures(by_label["Too expensive"]) == _approx(
        [(3, 1), (60.0, 50.0), (Decimal(2500), Decimal(400))]
    )
    assert figures(by_label["No reason given"]) == _approx([(1, 0), (20.0, 0.0), (500, 0)])
    assert figures(by_label["Chose a competitor"]) == _approx([(1, 0), (20.0, 0.0), (100, 0)])
    assert figures(by_label["Went silent"]) == _approx([(0, 1), (0.0, 50.0), (0, 300)])
    assert figures(by_label["Other"]) == _approx([(0, 0), (0.0, 0.0), (0, 0)])
    assert figures(lost.total) == _approx([(5, 2), (100.0, 100.0), (3100, 700)])
    assert _query(by_label["No reason given"].cells[0].url) == {
        "outcome": ["lost"],
        "loss_reason": ["none"],
        "closed_after": ["2026-02-01"],
        "closed_before": ["2026-02-28"],
        "total": ["1"],
    }
    with tenant_context(world["tenant"]):
        expensive = LossReason.objects.get(name="Too expensive")
    assert _query(by_label["Too expensive"].url)["loss_reason"] == [str(expensive.pk)]
    assert "loss_reason" not in _query(lost.total.url)


def test_charts_show_both_tables_as_horizontal_bars(world):
    report = build(SPEC, world["admin"])
    assert [(c.id, c.kind) for c in report.charts] == [
        ("chart-losses-junk", "hbar"),
        ("chart-losses-deals", "hbar"),
    ]
    assert report.charts[1].datasets[0].data == [3, 1, 0, 0, 1]
    assert report.charts[1].datasets[1].data == [1, 0, 1, 0, 0]


def test_the_simple_mode_leaves_out_the_lead_table(world, client_for):
    tenant = world["tenant"]
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.SIMPLE)
    world["admin"].tenant.refresh_from_db()
    report = build(SPEC, world["admin"])
    assert [t.key for t in report.tables] == ["lost"]
    assert [c.id for c in report.charts] == ["chart-losses-deals"]
    url = tenant_reverse("analytics:report", tenant, slug="losses")
    response = client_for(world["admin"]).get(f"{url}?period=last_month&export=csv")
    assert response.status_code == 200
    assert "Junk" not in response.content.decode()


def test_the_status_filter_keeps_only_the_chosen_junk_statuses(world):
    j2 = world["junk"][1]
    junk = table(build(SPEC, world["admin"], f"period=last_month&status={j2.pk}"), "junk")
    assert [row.label for row in junk.rows] == [j2.name]
    assert figures(junk.rows[0]) == _approx([(1, 0), (100.0, None), (100.0, None)])
    assert _query(junk.rows[0].url)["status"] == [str(j2.pk)]


def test_a_manager_sees_only_own_leads_and_deals(world):
    report = build(SPEC, analyst(world["manager"]))
    j2 = world["junk"][1]
    junk = table(report, "junk")
    # Two own leads in February, one junk; none in January.
    assert figures(rows(junk)[j2.name]) == _approx([(1, 0), (100.0, None), (50.0, None)])
    assert figures(junk.total)[0] == (1, 0)
    assert _query(junk.total.url)["assigned"] == ["1"]
    assert figures(table(report, "lost").total) == _approx([(1, 0), (100.0, None), (200, 0)])


def test_a_team_scoped_director_sees_the_team(world):
    head = team_head(world["tenant"], world["manager"])
    report = build(SPEC, head)
    assert figures(table(report, "junk").total)[0] == (1, 0)
    assert figures(table(report, "lost").total)[0] == (1, 0)


def test_another_tenants_losses_never_count(world):
    report = build(SPEC, world["other"])
    assert figures(table(report, "junk").total)[0] == (1, 0)
    assert figures(table(report, "lost").total) == _approx([(1, 0), (100.0, None), (55555, 0)])


@pytest.mark.parametrize(
    "query",
    [
        "period=nonsense",
        "period=custom&date_from=2026-02-30&date_to=x",
        "period=custom&date_from=2026-03-01&date_to=2026-01-01",
        "status=abc&status=999999&owner=nobody&team=x&channel=-1",
        "utm_campaign=" + "x" * 500,
    ],
)
def test_bad_query_strings_fall_back_to_defaults(world, client_for, query):
    report = build(SPEC, world["admin"], query)
    assert [t.key for t in report.tables] == ["junk", "lost"]
    url = tenant_reverse("analytics:report", world["tenant"], slug="losses")
    response = client_for(world["admin"]).get(f"{url}?{query}&export=xlsx")
    assert response.status_code == 200


def test_a_member_without_the_analytics_right_is_refused(world, client_for):
    url = tenant_reverse("analytics:report", world["tenant"], slug="losses")
    assert client_for(world["manager"]).get(f"{url}?export=csv").status_code == 403


def test_the_number_of_queries_does_not_grow_with_the_data(world, django_assert_num_queries):
    admin = world["admin"]
    with CaptureQueriesContext(connection) as queries:
        build(SPEC, admin)
    with tenant_context(world["tenant"]):
        spam = world["junk"][1]
        for day in range(1, 11):
            add_lead(admin, LeadState.JUNK, local(2026, 2, day), spam)
            add_deal(
                admin,
                _stage("lost"),
                10,
                created=local(2026, 1, 2),
                closed=local(2026, 2, day),
                reason=f"Reason {day}",
            )
    with django_assert_num_queries(len(queries)):
        build(SPEC, admin)
