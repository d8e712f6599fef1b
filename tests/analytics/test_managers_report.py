"""The managers report: every figure of a known data set, exactly, in a Bogotá workspace
(UTC−5) — the period's edges on the local clock, the previous period, the overdue snapshot,
the won deals by closing day, the viewer's scope, the links and bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analytics.params import params_for
from analytics.reports import REPORTS
from analytics.reports.managers import SPEC
from crm.access import ENTITY_ACTIONS
from crm.models import Activity, Membership, Role, Team, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead, LeadState, LeadStatus
from tests.deals.factories import make_deal
from tests.factories import UserFactory, add_member, make_tenant
from tests.leads.factories import make_lead

BOGOTA = ZoneInfo("America/Bogota")
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=BOGOTA)
PERIOD = "period=custom&date_from=2026-03-01&date_to=2026-03-10"  # previous: Feb 19–28


def secs(value: float) -> int:
    """A duration of `value` seconds as the report shows it: whole minutes, floored (601 s
    is 10 min; 30 s is 0, shown "< 1 min"). Exact on both databases."""
    assert value < 86400  # from a day on, to the whole hour (analytics.sql.bucket)
    return int(value // 60)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BOGOTA)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def lead(
    admin: Membership,
    owner: Membership | None,
    created: dt.datetime,
    state: str = LeadState.NEW,
    *,
    taken: bool = False,
    response: int | None = None,
    **fields,
) -> Lead:
    """A lead created at `created`, in `state`, first answered `response` seconds later."""
    made = make_lead(admin, owner=owner, title="Lead")
    Lead.objects.filter(pk=made.pk).update(
        created_at=created,
        state=state,
        status=LeadStatus.objects.get(state=state, is_default=True),
        taken_at=created + dt.timedelta(seconds=30) if taken else None,
        first_response_at=None if response is None else created + dt.timedelta(seconds=response),
        **fields,
    )
    return made


def deal(admin: Membership, owner: Membership | None, outcome: str, closed, amount: int) -> Deal:
    made = make_deal(admin, owner=owner, data={"amount": Decimal(amount)})
    Deal.objects.filter(pk=made.pk).update(outcome=outcome, closed_at=closed)
    return made


def overdue(target: Lead, due: dt.datetime, *, done: bool = False) -> None:
    Activity.objects.create(
        target=target, subject="Call back", due_at=due, done_at=due if done else None
    )


@pytest.fixture
def world(db):
    """Acme in Bogotá with two managers and a director, plus Globex's own leads."""
    acme = make_tenant("acme")
    Tenant.objects.filter(pk=acme.pk).update(time_zone="America/Bogota")
    acme.refresh_from_db()
    anna = add_member(acme, Role.Kind.MANAGER, user=UserFactory(full_name="Anna Alpha"))
    boris = add_member(
        acme, Role.Kind.MANAGER, user=UserFactory(full_name="", email="boris@example.com")
    )
    dora = add_member(acme, Role.Kind.DIRECTOR, user=UserFactory(full_name="Dora Director"))
    with tenant_context(acme):
        admin = Membership.objects.select_related("user").get(role__kind=Role.Kind.ADMIN)
        # Anna, this period: the first minutes of Mar 1 and the last half hour of Mar 10.
        lead(admin, anna, local(2026, 3, 1, 0, 10))
        anna_in_work = lead(
            admin, anna, local(2026, 3, 5, 10), LeadState.IN_PROGRESS, taken=True, response=300
        )
        anna_converted = lead(
            admin, anna, local(2026, 3, 10, 23, 30), LeadState.CONVERTED, taken=True, response=600
        )
        lead(admin, anna, local(2026, 3, 6, 9), LeadState.CONVERTED, taken=True, response=1200)
        lead(admin, anna, local(2026, 3, 7, 9), LeadState.JUNK, taken=True, response=60)
        # Outside both periods: ten minutes into Mar 11, a minute before Feb 19.
        lead(admin, anna, local(2026, 3, 11, 0, 10), LeadState.CONVERTED, response=5)
        lead(admin, anna, local(2026, 2, 18, 23, 59), LeadState.JUNK, response=5)
        # Anna, the previous period (Feb 19–28).
        lead(admin, anna, local(2026, 2, 28, 23, 50), LeadState.CONVERTED, taken=True, response=120)
        lead(admin, anna, local(2026, 2, 19, 0, 0), LeadState.JUNK)
        # Boris (no name: shown by e-mail).
        boris_answered = lead(
            admin, boris, local(2026, 3, 2, 12), LeadState.IN_PROGRESS, taken=True, response=3600
        )
        boris_new = lead(admin, boris, local(2026, 3, 3, 12))
        boris_old = lead(admin, boris, local(2026, 1, 15, 12))  # not in the cohort
        # The shared inbox, and a lead in the trash.
        lead(admin, None, local(2026, 3, 4, 8), response=900)
        lead(admin, None, local(2026, 3, 4, 9), deleted_at=NOW)
        # Overdue now: only open leads, activities not done and due before now.
        overdue(anna_in_work, local(2026, 3, 14, 9))
        overdue(anna_converted, local(2026, 3, 14, 9))
        overdue(boris_old, local(2026, 3, 15, 11, 59))
        overdue(boris_new, local(2026, 3, 15, 12, 1))
        overdue(boris_answered, local(2026, 3, 14, 9), done=True)
        # Deals: won ones count by their closing day in the period.
        deal(admin, anna, "won", local(2026, 3, 10, 23, 30), 1000)
        deal(admin, anna, "won", local(2026, 3, 11, 0, 10), 500)
        deal(admin, anna, "lost", local(2026, 3, 5, 12), 700)
        deal(admin, anna, "open", None, 900)
        deal(admin, boris, "won", local(2026, 2, 25, 12), 250)
        deal(admin, dora, "won", local(2026, 3, 2, 12), 300)
    globex = make_tenant("globex")
    with tenant_context(globex):
        other = Membership.objects.get(role__kind=Role.Kind.ADMIN)
        theirs = lead(other, other, local(2026, 3, 5, 12), LeadState.CONVERTED, response=10)
        overdue(theirs, local(2026, 3, 1))
        deal(other, other, "won", local(2026, 3, 5, 12), 99999)
    return {"acme": acme, "admin": admin, "anna": anna, "boris": boris, "dora": dora}


def build(member: Membership, query: str = PERIOD):
    with tenant_context(member.tenant):
        return SPEC.build(params_for(member, QueryDict(query)))


def figures(row) -> list[tuple]:
    return [(cell.value, cell.previous) for cell in row.cells]


def rows_of(table) -> dict[str, list[tuple]]:
    return {row.label: figures(row) for row in table.rows}


def query_of(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


# assigned, taken, in work, converted, junk, conversion, median response, overdue, won, revenue
ANNA = [
    (5, 2),
    (4, 1),
    (1, 0),
    (2, 1),
    (1, 1),
    (pytest.approx(200 / 3), 50.0),
    (secs(300), secs(120)),
    (1, None),
    (1, 0),
    (Decimal(1000), 0),
]
BORIS = [
    (2, 0),
    (1, 0),
    (1, 0),
    (0, 0),
    (0, 0),
    (None, None),
    (secs(3600), None),
    (1, None),
    (0, 1),
    (0, Decimal(250)),
]
DORA = [(0, 0)] * 5 + [(None, None), (None, None), (0, None), (1, 0), (Decimal(300), 0)]
INBOX = [(1, 0)] + [(0, 0)] * 4 + [(None, None), (secs(900), None), (0, None), (0, 0), (0, 0)]
TOTAL = [
    (8, 2),
    (5, 1),
    (2, 0),
    (2, 1),
    (1, 1),
    (pytest.approx(200 / 3), 50.0),
    (secs(600), secs(120)),  # 60, 300, 600, 900, 1200, 3600: the third
    (2, None),
    (2, 1),
    (Decimal(1300), Decimal(250)),
]


def test_every_figure_for_a_viewer_who_sees_all(world):
    report = build(world["admin"])
    table = report.tables[0]
    assert [row.label for row in table.rows] == [
        "Anna Alpha",
        "boris@example.com",
        "Dora Director",
        "Unassigned (shared inbox)",
    ]
    for row, expected in zip(table.rows, [ANNA, BORIS, DORA, INBOX], strict=True):
        assert figures(row) == expected, row.label
    assert figures(table.total) == TOTAL
    assert REPORTS["managers"] is SPEC


def test_links_lead_to_the_records_of_each_figure(world):
    anna, boris = world["anna"], world["boris"]
    table = build(world["admin"]).tables[0]
    row = table.rows[0]
    period = {"created_after": ["2026-03-01"], "created_before": ["2026-03-10"]}
    base = {**period, "archive": ["all"], "total": ["1"], "owner": [str(anna.pk)]}
    assert query_of(row.url) == ("/acme/leads/", base)
    expected = [
        {},
        {"taken": ["1"]},
        {"state": ["in_progress"]},
        {"state": ["converted"]},
        {"state": ["junk"]},
        {"state": ["converted"]},
        {"responded": ["1"]},
    ]
    for cell, extra in zip(row.cells, expected, strict=False):
        assert query_of(cell.url) == ("/acme/leads/", {**base, **extra})
    assert query_of(row.cells[7].url) == (
        "/acme/leads/",
        {"archive": ["all"], "total": ["1"], "owner": [str(anna.pk)], "preset": ["overdue"]},
    )
    won = {
        "owner": [str(anna.pk)],
        "outcome": ["won"],
        "closed_after": ["2026-03-01"],
        "closed_before": ["2026-03-10"],
        "total": ["1"],
    }
    assert query_of(row.cells[8].url) == ("/acme/deals/", won)
    assert row.cells[9].url == row.cells[8].url
    assert query_of(table.rows[1].cells[0].url)[1]["owner"] == [str(boris.pk)]
    assert query_of(table.rows[3].cells[0].url)[1]["owner"] == ["none"]
    assert "owner" not in query_of(table.total.cells[0].url)[1]
    assert "owner" not in query_of(table.total.cells[8].url)[1]


def test_charts_compare_assigned_with_converted_and_show_revenue(world):
    report = build(world["admin"])
    grouped, revenue = report.charts
    assert grouped.kind == "bar"
    assert [d.label for d in grouped.datasets] == ["Assigned", "Converted"]
    assert [d.data for d in grouped.datasets] == [[5, 2, 0, 1], [2, 0, 0, 0]]
    assert revenue.kind == "hbar"
    assert revenue.datasets[0].data == [Decimal(1000), 0, Decimal(300), 0]
    assert revenue.datasets[1].data == [0, Decimal(250), 0, 0]


def test_the_overdue_snapshot_follows_the_clock_not_the_period(world):
    with time_machine.travel(local(2026, 3, 15, 12, 2), tick=False):
        report = build(world["admin"], "period=custom&date_from=2025-01-01&date_to=2025-01-02")
    table = report.tables[0]
    by_label = {row.label: row.cells[7].value for row in table.rows}
    assert by_label == {"Anna Alpha": 1, "boris@example.com": 2}  # Boris's 12:01 call is due
    assert table.total.cells[7].value == 3
    assert table.total.cells[0].value == 0


def test_a_manager_with_the_analytics_right_sees_only_their_own_figures(world):
    with tenant_context(world["acme"]):
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=True)
        anna = Membership.objects.select_related("role", "user", "tenant").get(pk=world["anna"].pk)
    table = build(anna).tables[0]
    assert [row.label for row in table.rows] == ["Anna Alpha"]
    assert figures(table.rows[0]) == ANNA
    assert figures(table.total) == ANNA
    assert "assigned=1" in table.rows[0].url


def test_a_team_scoped_director_sees_the_team(world):
    team_rights = {
        entity: dict.fromkeys(actions, "team") for entity, actions in ENTITY_ACTIONS.items()
    }
    with tenant_context(world["acme"]):
        role = Role.objects.create(
            name="Team director", rights=team_rights, can_view_analytics=True
        )
        team = Team.objects.create(name="North")
        Membership.objects.filter(pk__in=[world["dora"].pk, world["boris"].pk]).update(
            role=role, team=team
        )
        dora = Membership.objects.select_related("role", "user", "tenant").get(pk=world["dora"].pk)
    table = build(dora).tables[0]
    assert rows_of(table) == {"boris@example.com": BORIS, "Dora Director": DORA}
    assert figures(table.total)[0] == (2, 0)
    assert figures(table.total)[8:] == [(1, 1), (Decimal(300), Decimal(250))]


def test_report_filters_narrow_every_figure(world):
    table = build(world["admin"], f"{PERIOD}&owner={world['boris'].pk}").tables[0]
    assert rows_of(table) == {"boris@example.com": BORIS}


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&date_from=2026-13-01&date_to=x",
        "period=nonsense&owner=abc&team=zz&status=-1&source=nope",
        "period=custom&date_from=2026-03-10&date_to=2026-03-01",
        "owner=99999999999999999999&channel=1e9",
        "period=custom&date_from=1900-01-01&date_to=2026-01-01",
    ],
)
def test_bad_query_strings_fall_back_without_failing(world, query):
    report = build(world["admin"], query)
    assert report.tables[0].total is not None


def test_the_query_count_does_not_grow_with_the_data(world, django_assert_num_queries):
    admin = world["admin"]
    build(admin)  # warm the content type cache
    with CaptureQueriesContext(connection) as before:
        build(admin)
    acme = world["acme"]
    more = [add_member(acme, Role.Kind.MANAGER) for _ in range(3)]
    with tenant_context(acme):
        for index, member in enumerate(more):
            made = lead(admin, member, local(2026, 3, 2 + index, 9), taken=True, response=60)
            overdue(made, local(2026, 3, 14))
            deal(admin, member, "won", local(2026, 3, 3), 10)
    with django_assert_num_queries(len(before.captured_queries)):
        report = build(admin)
    assert len(report.tables[0].rows) == 7


def test_the_export_answers_analysts_and_refuses_others(world, client_for):
    admin = client_for(world["admin"])
    response = admin.get(f"/acme/analytics/managers/?{PERIOD}&export=csv")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Anna Alpha" in text
    assert "Без ответственного (общие входящие)" in text  # the workspace speaks Russian
    assert "Globex" not in text
    assert admin.get("/acme/analytics/managers/?period=zzz&export=csv").status_code == 200
    assert admin.post("/acme/analytics/managers/").status_code == 405
    assert client_for(world["anna"]).get("/acme/analytics/managers/").status_code == 403
    outsider = make_tenant("initech")
    with tenant_context(outsider):
        stranger = Membership.objects.get(role__kind=Role.Kind.ADMIN)
    assert client_for(stranger).get("/acme/analytics/managers/").status_code == 404


def test_the_page_shows_the_report(world, client_for):
    admin = client_for(world["admin"])
    response = admin.get(f"/acme/analytics/managers/?{PERIOD}")
    assert response.status_code == 200
    assert "Anna Alpha" in response.content.decode()
    assert admin.get("/acme/analytics/managers/?period=zzz&date_from=1").status_code == 200
