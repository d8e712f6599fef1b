"""The funnel's qualification steps and the report by temperature: every figure of a known
data set (tests/analytics/status_funnel_data.py, Bogotá, UTC−5) with qualification levels
(reached step by step, skipped on the way up, reached and demoted) and temperatures added;
the local day's edge; drill-down links whose lists count the figure; scope; exports; no
right → 403, another workspace → 404; and the rollup giving the raw figures.

Levels and temperatures added to the data set (current cohort 1–10 March, now 15 March):

    lead  state       source    owner  level reached (dates)          temperature  score
    L1    new         web_form  m1     MQL (service, now)             hot          40
    L2    in progress web_form  m1     SQL (service, MQL+SAL skipped) hot          80
    L3    in progress call      m2     MQL 04.03, SAL 05.03, demoted  warm         20
    L4    converted   call      m1     MQL, SAL, SQL, deal won        hot          90
    L5    converted   web_form  m2     MQL, SAL (deal lost)           cold          5
    L6    junk        web_form  —      —                              not set       0
    L7    junk        email     m2     MQL 11.03 01:00 (after period) warm         10
Outside: L8 (11.03 00:10 local) MQL hot; the deleted lead MQL hot; another tenant's MQL hot.
Previous cohort: L9 (converted, won) MQL+SAL+SQL hot 70; L10 (new) cold 0.
"""

from __future__ import annotations

import random
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analytics import rollups
from analytics.models import LeadDay, RollupMark
from analytics.params import params_for
from analytics.reports import REPORTS
from analytics.reports.funnel import SPEC as FUNNEL
from analytics.reports.temperature import SPEC as TEMPERATURE
from analytics.tables import COUNT, Report, Table
from crm.models import Role
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from deals.models import Deal
from leads.models import Lead
from leads.qualification import lead_set_level
from tests.analytics.status_funnel_data import NOW, QUERY, Data, build_data, local
from tests.analytics.test_rollups import (
    NOW as ROLLUP_NOW,
)
from tests.analytics.test_rollups import (
    build_world,
    refresh_all,
    rolled_and_raw,
)

pytestmark = pytest.mark.django_db


def _levels(lead: Lead, **dates) -> None:
    """A lead's level and the dates it reached levels, written directly (past dates)."""
    Lead.objects.filter(pk=lead.pk).update(**dates)


@pytest.fixture
def data(tenant, other_tenant) -> Data:
    with time_machine.travel(NOW, tick=False):
        built = build_data(tenant, other_tenant)
        with tenant_context(tenant):
            leads = built.leads
            # Through the service, now: MQL; straight to SQL (MQL and SAL dated the same).
            lead_set_level(actor=built.admin, lead=leads["L1"], level="mql")
            lead_set_level(actor=built.admin, lead=leads["L2"], level="sql")
            _levels(leads["L3"], level="", mql_at=local(4), sal_at=local(5))
            _levels(leads["L4"], level="sql", mql_at=local(4, 9), sal_at=local(4, 10),
                    sql_at=local(5))  # fmt: skip
            _levels(leads["L5"], level="sal", mql_at=local(5, 13), sal_at=local(5, 14))
            _levels(leads["L7"], level="mql", mql_at=local(11, 1))
            for name in ("L8", "deleted"):
                _levels(leads[name], level="mql", mql_at=local(11, 2))
            _levels(leads["L9"], level="sql", mql_at=local(1), sal_at=local(1), sql_at=local(2))
            temperatures = {
                "L1": ("hot", 40), "L2": ("hot", 80), "L3": ("warm", 20), "L4": ("hot", 90),
                "L5": ("cold", 5), "L6": ("", 0), "L7": ("warm", 10), "L8": ("hot", 50),
                "deleted": ("hot", 60), "L9": ("hot", 70), "L10": ("cold", 0),
            }  # fmt: skip
            for name, (temperature, score) in temperatures.items():
                Lead.objects.filter(pk=leads[name].pk).update(temperature=temperature, score=score)
            Deal.objects.filter(pk=leads["L4"].deal_id).update(amount=Decimal("1500.00"))
            Deal.objects.filter(pk=leads["L5"].deal_id).update(amount=Decimal("900.00"))
            Deal.objects.filter(pk=leads["L9"].deal_id).update(amount=Decimal("700.00"))
        with tenant_context(other_tenant):
            Lead.objects.update(mql_at=local(3, 14), level="mql", temperature="hot", score=99)
        yield built


def report(spec, data: Data, member, query: str = QUERY) -> Report:
    with tenant_context(data.tenant):
        return spec.build(params_for(member, QueryDict(query)))


def table(built: Report, key: str) -> Table:
    return next(t for t in built.tables if t.key == key)


def column(t: Table, index: int) -> list[tuple]:
    """(value, previous) of column `index`, row by row (the total row last), rounded."""
    rows = [*t.rows, *([t.total] if t.total else [])]
    pairs = [(r.cells[index].value, r.cells[index].previous) for r in rows]
    return [
        tuple(None if v is None else (round(v, 4) if isinstance(v, float) else v) for v in pair)
        for pair in pairs
    ]


def query_of(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query)


# The funnel's qualification ---------------------------------------------------------------


def test_the_service_dates_skipped_levels_at_the_same_moment(data):
    with tenant_context(data.tenant):
        l2 = Lead.objects.get(pk=data.leads["L2"].pk)
    assert l2.level == "sql"
    assert l2.mql_at == l2.sal_at == l2.sql_at is not None


def test_qualification_steps(data):
    t = table(report(FUNNEL, data, data.admin), "qualification")
    assert [r.label for r in t.rows] == ["Created", "MQL", "SAL", "SQL", "SQL, deal won"]
    assert column(t, 0) == [(7, 2), (6, 1), (4, 1), (2, 1), (1, 1)]
    # From the previous step, from MQL, from creation.
    assert column(t, 1) == [(None, None), (85.7143, 50.0), (66.6667, 100.0), (50.0, 100.0),
                            (50.0, 100.0)]  # fmt: skip
    assert column(t, 2) == [(None, None), (100.0, 100.0), (66.6667, 100.0), (33.3333, 100.0),
                            (16.6667, 100.0)]  # fmt: skip
    assert column(t, 3) == [(100.0, 100.0), (85.7143, 50.0), (57.1429, 50.0), (28.5714, 50.0),
                            (14.2857, 50.0)]  # fmt: skip
    assert column(t, 4) == [(None, None), (1, 1), (2, 0), (2, 0), (1, 0)]  # drop-off
    assert t.total is None


def test_the_existing_funnel_is_unchanged(data):
    t = table(report(FUNNEL, data, data.admin), "steps")
    assert column(t, 0) == [(7, 2), (5, 1), (2, 1), (1, 1)]


def test_qualification_links(data):
    t = table(report(FUNNEL, data, data.admin), "qualification")
    first = query_of(t.rows[0].cells[0].url)
    assert first["created_after"] == ["2026-03-01"]
    assert first["created_before"] == ["2026-03-10"]
    assert "reached" not in first
    assert [query_of(r.cells[0].url).get("reached") for r in t.rows[1:]] == [
        ["mql"], ["sal"], ["sql"], ["sql"],
    ]  # fmt: skip
    assert query_of(t.rows[4].cells[0].url)["deal_outcome"] == ["won"]
    assert all(r.cells[4].url is None for r in t.rows)  # "did not reach" is no list filter


def test_qualification_by_source(data):
    t = table(report(FUNNEL, data, data.admin), "qualification_sources")
    assert [r.label for r in t.rows] == ["Web form", "Call", "E-mail"]
    counts = [[(c.value, c.previous) for c in r.cells[:5]] for r in [*t.rows, t.total]]
    assert counts == [
        [(4, 1), (3, 0), (2, 0), (1, 0), (0, 0)],
        [(2, 1), (2, 1), (2, 1), (1, 1), (1, 1)],
        [(1, 0), (1, 0), (0, 0), (0, 0), (0, 0)],
        [(7, 2), (6, 1), (4, 1), (2, 1), (1, 1)],
    ]
    # Created → MQL, MQL → SQL, MQL → won.
    assert column(t, 5) == [(75.0, 0.0), (100.0, 100.0), (100.0, None), (85.7143, 50.0)]
    assert column(t, 6) == [(33.3333, None), (50.0, 100.0), (0.0, None), (33.3333, 100.0)]
    assert column(t, 7) == [(0.0, None), (50.0, 100.0), (0.0, None), (16.6667, 100.0)]
    won = query_of(t.rows[1].cells[4].url)
    assert won["source"] == ["call"]
    assert won["reached"] == ["sql"]
    assert won["deal_outcome"] == ["won"]


def test_qualification_by_manager(data):
    t = table(report(FUNNEL, data, data.admin), "qualification_managers")
    rows = {r.label: r for r in t.rows}
    m1, m2 = data.m1.user.full_name, data.m2.user.full_name

    def counts(label):
        return [(c.value, c.previous) for c in rows[label].cells[:5]]

    assert counts(m1) == [(3, 1), (3, 1), (2, 1), (2, 1), (1, 1)]
    assert counts(m2) == [(3, 1), (3, 0), (2, 0), (0, 0), (0, 0)]
    assert counts("Unassigned") == [(1, 0), (0, 0), (0, 0), (0, 0), (0, 0)]
    assert query_of(rows[m2].cells[2].url)["owner"] == [str(data.m2.pk)]
    assert query_of(rows["Unassigned"].cells[1].url)["owner"] == ["none"]


def test_qualification_chart(data):
    chart = report(FUNNEL, data, data.admin).charts[2]
    assert chart.id == "chart-funnel-qualification"
    assert chart.labels == ["Created", "MQL", "SAL", "SQL", "SQL, deal won"]
    assert [d.data for d in chart.datasets] == [[7, 6, 4, 2, 1], [2, 1, 1, 1, 1]]


def test_qualification_on_the_workspace_days(data):
    # L7 (23:30 local on the 10th) is the 10th's; L8 (00:10 on the 11th) the 11th's.
    day_10 = "period=custom&date_from=2026-03-10&date_to=2026-03-10"
    day_11 = "period=custom&date_from=2026-03-11&date_to=2026-03-11"
    assert column(table(report(FUNNEL, data, data.admin, day_10), "qualification"), 0)[:2] == [
        (1, 0), (1, 0),
    ]  # fmt: skip
    assert column(table(report(FUNNEL, data, data.admin, day_11), "qualification"), 0)[:2] == [
        (1, 1), (1, 1),
    ]  # fmt: skip


def test_qualification_scope(data):
    mine = table(report(FUNNEL, data, data.m1), "qualification")
    assert column(mine, 0) == [(3, 1), (3, 1), (2, 1), (2, 1), (1, 1)]
    managers = table(report(FUNNEL, data, data.m1), "qualification_managers")
    assert [r.label for r in managers.rows] == [data.m1.user.full_name]
    team = table(report(FUNNEL, data, data.director), "qualification")
    assert column(team, 0) == [(3, 1), (3, 0), (2, 0), (0, 0), (0, 0)]


def test_the_funnel_runs_as_many_queries_as_before(data):
    with tenant_context(data.tenant):
        params = params_for(data.admin, QueryDict(QUERY))
        with CaptureQueriesContext(connection) as queries:
            FUNNEL.build(params)
    # The qualification counts come in the same scan as the funnel's (see test_funnel_report).
    assert len(queries) == (4 if connection.vendor == "postgresql" else 6)


# Leads by temperature -----------------------------------------------------------------------


def test_temperature_figures(data):
    t = table(report(TEMPERATURE, data, data.admin), "temperatures")
    assert [r.label for r in t.rows] == ["Hot", "Warm", "Cold", "Not set"]
    assert t.total.label == "Total"
    assert column(t, 0) == [(3, 1), (2, 0), (1, 1), (1, 0), (7, 2)]  # leads
    assert column(t, 1) == [(42.8571, 50.0), (28.5714, 0.0), (14.2857, 50.0), (14.2857, 0.0),
                            (100.0, 100.0)]  # fmt: skip
    assert column(t, 2) == [(1, 1), (0, 0), (1, 0), (0, 0), (2, 1)]  # converted
    # Converted ÷ (converted + junk): hot L4; warm L7 junk; cold L5; not set L6 junk.
    assert column(t, 3) == [(100.0, 100.0), (0.0, None), (100.0, None), (0.0, None),
                            (50.0, 100.0)]  # fmt: skip
    assert column(t, 4) == [(1, 1), (0, 0), (0, 0), (0, 0), (1, 1)]  # deals won
    assert column(t, 5) == [(33.3333, 100.0), (0.0, None), (0.0, 0.0), (0.0, None),
                            (14.2857, 50.0)]  # fmt: skip
    assert column(t, 6) == [(Decimal("1500"), Decimal("700")), (0, 0), (0, 0), (0, 0),
                            (Decimal("1500"), Decimal("700"))]  # fmt: skip
    assert column(t, 7) == [(70.0, 70.0), (15.0, None), (5.0, 0.0), (0.0, None), (35.0, 35.0)]


def test_temperature_links(data):
    t = table(report(TEMPERATURE, data, data.admin), "temperatures")
    assert [query_of(r.url)["temperature"] for r in t.rows] == [
        ["hot"], ["warm"], ["cold"], ["none"],
    ]  # fmt: skip
    assert "temperature" not in query_of(t.total.url)
    hot = t.rows[0]
    assert query_of(hot.cells[2].url)["state"] == ["converted"]
    assert query_of(hot.cells[4].url)["deal_outcome"] == ["won"]
    assert query_of(hot.cells[0].url)["created_after"] == ["2026-03-01"]


def test_temperature_on_the_workspace_days(data):
    day_10 = "period=custom&date_from=2026-03-10&date_to=2026-03-10"
    t = table(report(TEMPERATURE, data, data.admin, day_10), "temperatures")
    assert column(t, 0) == [(0, 0), (1, 0), (0, 0), (0, 0), (1, 0)]  # L7 warm, not L8


def test_temperature_scope(data):
    mine = table(report(TEMPERATURE, data, data.m1), "temperatures")
    assert column(mine, 0) == [(3, 1), (0, 0), (0, 0), (0, 0), (3, 1)]  # L1, L2, L4; L9
    assert column(mine, 7)[0] == (70.0, 70.0)
    assert query_of(mine.rows[0].url)["assigned"] == ["1"]
    team = table(report(TEMPERATURE, data, data.director), "temperatures")
    assert column(team, 0) == [(0, 0), (2, 0), (1, 1), (0, 0), (3, 1)]  # L3, L7, L5; L10


def test_temperature_charts(data):
    leads, conversion = report(TEMPERATURE, data, data.admin).charts
    assert leads.labels == ["Hot", "Warm", "Cold", "Not set"]
    assert [d.data for d in leads.datasets] == [[3, 2, 1, 1], [1, 0, 1, 0]]
    assert conversion.unit == "percent"
    assert conversion.datasets[0].data == [100.0, 0.0, 100.0, 0.0]


def test_temperature_export_and_page(data, client_for):
    url = tenant_reverse("analytics:report", data.tenant, slug="temperature")
    client = client_for(data.admin, language="en")
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"{url}?{QUERY}")
        csv = client.get(f"{url}?{QUERY}&export=csv")
        xlsx = client.get(f"{url}?{QUERY}&export=xlsx")
    assert page.status_code == 200
    assert b'data-testid="table-temperatures"' in page.content
    assert b"chart-temperature-leads" in page.content
    lines = csv.content.decode().splitlines()
    assert "Hot;3;1;42.9 %;50.0 %;1;1;100.0 %;100.0 %;1;1;33.3 %;100.0 %;1,500;700;70.0;70.0" in [
        line.replace("\xa0", "").replace(" RUB", "") for line in lines
    ]
    assert xlsx.status_code == 200
    assert xlsx["Content-Disposition"].startswith('attachment; filename="temperature-20260301')


@pytest.mark.parametrize(
    "query",
    ["", "period=nonsense", "period=custom&date_from=2026-13-45&date_to=x", "owner=zzz&team=-1"],
)
def test_temperature_bad_query_strings_never_fail(data, client_for, query):
    url = tenant_reverse("analytics:report", data.tenant, slug="temperature")
    assert client_for(data.admin).get(f"{url}?{query}&export=csv").status_code == 200


@pytest.mark.parametrize("slug", ["temperature", "funnel"])
def test_without_the_right_or_outside_the_tenant(data, client_for, other_admin, slug):
    url = tenant_reverse("analytics:report", data.tenant, slug=slug)
    with tenant_context(data.tenant):
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=False)
    assert client_for(data.m1).get(url).status_code == 403
    assert client_for(data.m1).get(f"{url}?export=csv").status_code == 403
    assert client_for(other_admin).get(url).status_code == 404


def test_the_menu_lists_the_report(data, client_for):
    url = tenant_reverse("analytics:report", data.tenant, slug="sources")
    page = client_for(data.admin).get(url)
    assert tenant_reverse("analytics:report", data.tenant, slug="temperature").encode() in (
        page.content
    )


# Drill-down: the list counts what the figure says --------------------------------------------


def _drill(client, built: Report, keys: set[str]) -> int:
    checked = 0
    for t in built.tables:
        if t.key not in keys:
            continue
        for row in [*t.rows, *([t.total] if t.total else [])]:
            for cell, col in zip(row.cells, t.columns, strict=True):
                if col.kind == COUNT and cell.url:
                    response = client.get(cell.url)
                    assert response.status_code == 200, cell.url
                    assert response.context["total"] == cell.value, (t.key, row.label, col.label)
                    checked += 1
    return checked


QUALIFICATION_TABLES = {"qualification", "qualification_sources", "qualification_managers"}


@pytest.mark.parametrize("viewer", ["admin", "m1", "director"])
def test_every_count_links_to_a_list_of_exactly_that_many(data, client_for, viewer):
    member = getattr(data, viewer)
    client = client_for(member)
    with time_machine.travel(NOW, tick=False):
        funnel = report(FUNNEL, data, member)
        temperature = report(TEMPERATURE, data, member)
        checked = _drill(client, funnel, QUALIFICATION_TABLES)
        checked += _drill(client, temperature, {"temperatures"})
    assert checked > 25


def test_the_list_filters_leads_without_a_temperature(data, client_for):
    url = tenant_reverse("leads:list", data.tenant)
    client = client_for(data.admin)
    with time_machine.travel(NOW, tick=False):
        none = client.get(f"{url}?temperature=none&archive=all&total=1").context["total"]
        both = client.get(f"{url}?temperature=none&temperature=cold&archive=all&total=1")
        bad = client.get(f"{url}?temperature=boiling&archive=all&total=1")
    assert none == 1  # L6 (L8 hot, the deleted lead in the trash)
    assert both.context["total"] == 3  # L6, L5, L10
    assert bad.status_code == 200


# Rollups: the same figures as the raw computation -----------------------------------------


def _qualify_randomly(world, rng: random.Random) -> None:
    """Levels reached (some skipped, some demoted, some after the creation day) and
    temperatures and scores on a rollup test world's leads."""
    with tenant_context(world.tenant):
        for lead in Lead.objects.all():
            reached = rng.choice(["", "mql", "sal", "sql", "sql"])
            dates: dict = {"mql_at": None, "sal_at": None, "sql_at": None}
            at = lead.created_at
            for level in ("mql", "sal", "sql")[: ("", "mql", "sal", "sql").index(reached)]:
                if rng.random() < 0.7:  # else skipped: the same moment as the next
                    at = at + rollups.ONE_DAY * rng.random() * 3
                dates[f"{level}_at"] = at
            level = "" if rng.random() < 0.1 else reached
            Lead.objects.filter(pk=lead.pk).update(
                level=level,
                temperature=rng.choice(["", "hot", "warm", "cold"]),
                score=rng.randint(-10, 120),
                **dates,
            )


def test_rollups_give_the_raw_qualification_figures():
    with time_machine.travel(ROLLUP_NOW, tick=False):
        world = build_world("qual", "America/Bogota", seed=301)
        rng = random.Random(11)
        _qualify_randomly(world, rng)
        refresh_all()
        with tenant_context(world.tenant):
            assert RollupMark.objects.count() == 0
            assert LeadDay.objects.filter(mql__gt=0).exists()
            assert LeadDay.objects.filter(sql_won__gt=0).exists()
        queries = ["", "period=this_quarter", "source=call", f"owner={world.managers[0].pk}"]
        for viewer in (world.admin, world.director, world.managers[0]):
            for query in queries:
                rolled, raw, used = rolled_and_raw(world, viewer, query)
                assert rolled == raw, (viewer.role.kind, query)
        _, _, used = rolled_and_raw(world, world.admin, "period=this_quarter")
        assert "analytics_leadday" in used
        # A level reached a month after the lead came marks its day; the figures stay equal
        # before the worker has recomputed it and after.
        with tenant_context(world.tenant):
            old = (
                Lead.objects.filter(
                    deleted_at=None,
                    sql_at=None,
                    state__in=["new", "in_progress"],
                    created_at__lt=ROLLUP_NOW - rollups.ONE_DAY * 30,
                )
                .order_by("pk")
                .first()
            )
            lead_set_level(actor=world.admin, lead=old, level="sql")
            assert RollupMark.objects.filter(at=old.created_at).exists()
            Lead.objects.filter(pk=old.pk).update(temperature="hot", score=77)
        before = figures_of(world)
        refresh_all()
        with tenant_context(world.tenant):
            assert RollupMark.objects.count() == 0
        assert figures_of(world) == before


def figures_of(world) -> str:
    """The funnel's and the temperature report's figures, rolled and raw (asserted equal)."""
    rolled, raw, _used = rolled_and_raw(world, world.admin, "period=this_quarter")
    assert rolled == raw
    return rolled


def test_the_report_follows_the_sources_in_the_menu():
    assert list(REPORTS)[:3] == ["status", "sources", "temperature"]
