"""The speed of first response report: every figure of a known data set, exactly, in a
Bogotá workspace (UTC−5) with a 10-minute limit — the hour of arrival on the local clock,
the period's edges, the limit itself, the previous period, scope, links and bad input."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analytics.params import params_for
from analytics.reports import REPORTS
from analytics.reports.speed import SPEC
from channels.models import Message
from crm.access import ENTITY_ACTIONS
from crm.models import Membership, Role, Team, Tenant
from crm.tenancy import tenant_context
from leads.models import Lead, LeadSource
from tests.factories import UserFactory, add_member, make_tenant
from tests.leads.factories import make_lead

BOGOTA = ZoneInfo("America/Bogota")
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=BOGOTA)
PERIOD = "period=custom&date_from=2026-03-01&date_to=2026-03-10"  # previous: Feb 19–28
WEB, TELEGRAM, CALL = LeadSource.WEB_FORM, LeadSource.TELEGRAM, LeadSource.CALL


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BOGOTA)


def secs(value: float) -> int:
    """A duration of `value` seconds as the report shows it: whole minutes, floored (601 s
    is 10 min; 30 s is 0, shown "< 1 min"). Exact on both databases."""
    assert value < 86400  # from a day on, to the whole hour (analytics.sql.bucket)
    return int(value // 60)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def lead(admin, owner, source, created: dt.datetime, response: int | None = None, **fields):
    made = make_lead(admin, owner=owner, title="Lead", source=source)
    Lead.objects.filter(pk=made.pk).update(
        created_at=created,
        first_response_at=None if response is None else created + dt.timedelta(seconds=response),
        **fields,
    )
    return made


@pytest.fixture
def world(db):
    acme = make_tenant("acme")
    Tenant.objects.filter(pk=acme.pk).update(time_zone="America/Bogota", response_sla_minutes=10)
    acme.refresh_from_db()
    anna = add_member(acme, Role.Kind.MANAGER, user=UserFactory(full_name="Anna Alpha"))
    boris = add_member(acme, Role.Kind.MANAGER, user=UserFactory(full_name="Boris Beta"))
    dora = add_member(acme, Role.Kind.DIRECTOR, user=UserFactory(full_name="Dora Director"))
    with tenant_context(acme):
        admin = Membership.objects.select_related("user").get(role__kind=Role.Kind.ADMIN)
        # This period: 00:10 on Mar 1 (hour 0) answered at the limit itself; 23:30 on Mar 10
        # (hour 23 in Bogotá, 04:30 UTC) a second late.
        lead(admin, anna, WEB, local(2026, 3, 1, 0, 10), 600)
        lead(admin, anna, WEB, local(2026, 3, 10, 23, 30), 601)
        lead(admin, boris, WEB, local(2026, 3, 5, 9, 15), 120)
        lead(admin, boris, WEB, local(2026, 3, 5, 9, 45))
        lead(admin, None, TELEGRAM, local(2026, 3, 6, 14), 3600)
        lead(admin, anna, TELEGRAM, local(2026, 3, 6, 14, 30), 30)
        # Outside both periods, and the trash.
        lead(admin, anna, WEB, local(2026, 3, 11, 0, 10), 5)
        lead(admin, anna, WEB, local(2026, 2, 18, 23, 59), 5)
        lead(admin, anna, WEB, local(2026, 3, 2, 10), 5, deleted_at=NOW)
        # The previous period.
        lead(admin, anna, WEB, local(2026, 2, 28, 23, 50), 300)
        lead(admin, boris, CALL, local(2026, 2, 19, 0, 0))
    globex = make_tenant("globex")
    with tenant_context(globex):
        other = Membership.objects.get(role__kind=Role.Kind.ADMIN)
        lead(other, other, WEB, local(2026, 3, 5, 9), 1)
    return {"acme": acme, "admin": admin, "anna": anna, "boris": boris, "dora": dora}


def build(member: Membership, query: str = PERIOD):
    with tenant_context(member.tenant):
        return SPEC.build(params_for(member, QueryDict(query)))


def figures(row) -> list[tuple]:
    return [(cell.value, cell.previous) for cell in row.cells]


def query_of(url: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert parts.path == "/acme/leads/"
    return parts.query and parse_qs(parts.query)


EMPTY = [(0, 0), (0, 0), (None, None), (None, None), (0, 0), (None, None)]


# leads, answered, median, 90th percentile, within the limit, share within
TOTAL = [(6, 2), (5, 1), (secs(600), secs(300)), (secs(3600), secs(300)), (3, 1), (50.0, 50.0)]
SOURCES = {
    "Web form": [
        (4, 1),
        (3, 1),
        (secs(600), secs(300)),
        (secs(601), secs(300)),
        (2, 1),
        (50.0, 100.0),
    ],
    "Telegram": [(2, 0), (2, 0), (secs(30), None), (secs(3600), None), (1, 0), (50.0, None)],
    "Call": [(0, 1), (0, 0), (None, None), (None, None), (0, 0), (None, 0.0)],
}
MANAGERS = {
    "Anna Alpha": [
        (3, 1),
        (3, 1),
        (secs(600), secs(300)),
        (secs(601), secs(300)),
        (2, 1),
        (pytest.approx(200 / 3), 100.0),
    ],
    "Boris Beta": [(2, 1), (1, 0), (secs(120), None), (secs(120), None), (1, 0), (50.0, 0.0)],
    "Unassigned (shared inbox)": [
        (1, 0),
        (1, 0),
        (secs(3600), None),
        (secs(3600), None),
        (0, 0),
        (0.0, None),
    ],
}
HOURS = {
    0: [(1, 1), (1, 0), (secs(600), None), (secs(600), None), (1, 0), (100.0, 0.0)],
    9: [(2, 0), (1, 0), (secs(120), None), (secs(120), None), (1, 0), (50.0, None)],
    14: [(2, 0), (2, 0), (secs(30), None), (secs(3600), None), (1, 0), (50.0, None)],
    23: [(1, 1), (1, 1), (secs(601), secs(300)), (secs(601), secs(300)), (0, 1), (0.0, 100.0)],
}


def test_every_figure_by_source_manager_and_hour(world):
    report = build(world["admin"])
    by_source, by_manager, by_hour, _answers = report.tables
    assert {row.label: figures(row) for row in by_source.rows} == SOURCES
    assert [row.label for row in by_source.rows] == ["Web form", "Telegram", "Call"]
    assert [row.label for row in by_manager.rows] == list(MANAGERS)
    for row, expected in zip(by_manager.rows, MANAGERS.values(), strict=True):
        assert figures(row) == expected, row.label
    assert [row.label for row in by_hour.rows] == [f"{h:02d}:00–{h:02d}:59" for h in range(24)]
    for hour, row in enumerate(by_hour.rows):
        assert figures(row) == HOURS.get(hour, EMPTY), hour
    for table in (by_source, by_manager, by_hour):
        assert figures(table.total) == TOTAL
    assert figures(_answers.total) == [(0, 0), (None, None), (None, None), (None, None)]
    assert REPORTS["speed"] is SPEC
    assert "10 minutes" in str(by_source.columns[4].help)
    assert "not within" in str(by_source.columns[5].help)


def test_the_hour_is_the_workspaces_and_follows_its_zone(world):
    """The same instants in a UTC workspace land in other hours (and the 23:30 lead of
    Mar 10 in Bogotá is Mar 11 there, out of the period)."""
    acme = world["acme"]
    Tenant.objects.filter(pk=acme.pk).update(time_zone="UTC")
    with tenant_context(acme):
        admin = Membership.objects.select_related("tenant", "role", "user").get(
            pk=world["admin"].pk
        )
    by_hour = build(admin).tables[2]
    leads = {
        hour: row.cells[0].value for hour, row in enumerate(by_hour.rows) if row.cells[0].value
    }
    # Bogotá 00:10 Mar 1 → 05:10 UTC; 09:15, 09:45 → 14; 14:00, 14:30 → 19; 23:30 Mar 10 is
    # 04:30 UTC on Mar 11; 23:50 Feb 28 in Bogotá is 04:50 UTC on Mar 1.
    assert leads == {4: 1, 5: 1, 14: 2, 19: 2}


def test_links_lead_to_the_records_of_each_figure(world):
    report = build(world["admin"])
    by_source, by_manager, by_hour, _answers = report.tables
    base = {
        "created_after": ["2026-03-01"],
        "created_before": ["2026-03-10"],
        "archive": ["all"],
        "total": ["1"],
    }
    web = by_source.rows[0]
    assert query_of(web.url) == {**base, "source": ["web_form"]}
    answered = {**base, "source": ["web_form"], "responded": ["1"]}
    within = {**base, "source": ["web_form"], "response_max": ["10"]}
    assert [query_of(cell.url) for cell in web.cells] == [
        {**base, "source": ["web_form"]},
        answered,
        answered,
        answered,
        within,
        within,
    ]
    assert query_of(by_manager.rows[0].cells[0].url) == {**base, "owner": [str(world["anna"].pk)]}
    assert query_of(by_manager.rows[2].cells[4].url) == {
        **base,
        "owner": ["none"],
        "response_max": ["10"],
    }
    assert query_of(by_hour.rows[23].cells[1].url) == {**base, "hour": ["23"], "responded": ["1"]}
    assert query_of(by_hour.rows[0].url) == {**base, "hour": ["0"]}
    assert query_of(by_source.total.cells[4].url) == {**base, "response_max": ["10"]}


def test_charts_show_the_median_by_hour_and_the_share_by_source(world):
    by_hour, by_source = build(world["admin"]).charts
    assert by_hour.kind == "line"
    assert by_hour.unit == "minutes"
    median = [None] * 24
    median[0], median[9], median[14], median[23] = secs(600), secs(120), secs(30), secs(601)
    assert by_hour.datasets[0].data == median
    assert by_source.kind == "bar"
    assert by_source.labels == ["Web form", "Telegram", "Call"]
    assert by_source.datasets[0].data == [50.0, 50.0, None]
    assert by_source.datasets[1].data == [100.0, None, 0.0]


def test_a_manager_with_the_analytics_right_sees_only_their_own_figures(world):
    with tenant_context(world["acme"]):
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=True)
        anna = Membership.objects.select_related("role", "user", "tenant").get(pk=world["anna"].pk)
    by_source, by_manager, _by_hour, _answers = build(anna).tables
    assert [row.label for row in by_manager.rows] == ["Anna Alpha"]
    assert figures(by_manager.rows[0]) == MANAGERS["Anna Alpha"]
    assert figures(by_source.total) == MANAGERS["Anna Alpha"]
    assert [row.label for row in by_source.rows] == ["Web form", "Telegram"]
    assert "assigned=1" in by_source.rows[0].url


def test_a_team_scoped_director_sees_the_team(world):
    rights = {entity: dict.fromkeys(actions, "team") for entity, actions in ENTITY_ACTIONS.items()}
    with tenant_context(world["acme"]):
        role = Role.objects.create(name="Team director", rights=rights, can_view_analytics=True)
        team = Team.objects.create(name="North")
        Membership.objects.filter(pk__in=[world["dora"].pk, world["boris"].pk]).update(
            role=role, team=team
        )
        dora = Membership.objects.select_related("role", "user", "tenant").get(pk=world["dora"].pk)
    by_manager = build(dora).tables[1]
    assert [row.label for row in by_manager.rows] == ["Boris Beta"]
    assert figures(by_manager.total) == MANAGERS["Boris Beta"]


def test_report_filters_narrow_every_figure(world):
    report = build(world["admin"], f"{PERIOD}&source=telegram")
    assert figures(report.tables[0].total) == SOURCES["Telegram"]
    assert [row.label for row in report.tables[1].rows] == [
        "Anna Alpha",
        "Unassigned (shared inbox)",
    ]


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
    assert len(report.tables[2].rows) == 24


def test_the_query_count_does_not_grow_with_the_data(world, django_assert_num_queries):
    admin = world["admin"]
    with CaptureQueriesContext(connection) as before:
        build(admin)
    acme = world["acme"]
    more = [add_member(acme, Role.Kind.MANAGER) for _ in range(3)]
    with tenant_context(acme):
        for index, member in enumerate(more):
            lead(admin, member, LeadSource.VK, local(2026, 3, 2, index), 60)
            lead(admin, member, LeadSource.EMAIL, local(2026, 2, 20, index))
    with django_assert_num_queries(len(before.captured_queries)):
        report = build(admin)
    assert len(report.tables[1].rows) == 6


def test_the_export_answers_analysts_and_refuses_others(world, client_for):
    admin = client_for(world["admin"])
    response = admin.get(f"/acme/analytics/speed/?{PERIOD}&export=csv")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Anna Alpha" in text
    assert "23:00–23:59" in text
    assert admin.get("/acme/analytics/speed/?period=zzz&hour=99&export=xlsx").status_code == 200
    assert admin.post("/acme/analytics/speed/").status_code == 405
    assert client_for(world["anna"]).get("/acme/analytics/speed/").status_code == 403
    outsider = make_tenant("initech")
    with tenant_context(outsider):
        stranger = Membership.objects.get(role__kind=Role.Kind.ADMIN)
    assert client_for(stranger).get("/acme/analytics/speed/").status_code == 404


def test_the_page_shows_the_report(world, client_for):
    admin = client_for(world["admin"])
    response = admin.get(f"/acme/analytics/speed/?{PERIOD}")
    assert response.status_code == 200
    assert "Anna Alpha" in response.content.decode()
    assert admin.get("/acme/analytics/speed/?period=zzz&date_from=1").status_code == 200


def answer(author: Membership, at: dt.datetime, waited: int | None, target: Lead) -> None:
    """A reply from a card sent at `at` (local) to a client who had waited `waited` s."""
    made = Message.objects.create(
        channel_kind="telegram",
        direction="out",
        status="delivered",
        lead=target,
        author=author,
        address="1",
        text="Ответ",
        waited_seconds=waited,
    )
    Message.objects.filter(pk=made.pk).update(created_at=at)


@pytest.fixture
def answers(world):
    anna, boris = world["anna"], world["boris"]
    with tenant_context(world["acme"]):
        target = Lead.objects.order_by("pk").first()
        # This period (Bogotá days Mar 1–10): the first minute of Mar 1 and the last of Mar 10.
        answer(anna, local(2026, 3, 1, 0, 0), 600, target)  # at the limit itself
        answer(anna, local(2026, 3, 10, 23, 59), 601, target)  # a second late
        answer(anna, local(2026, 3, 5, 12), 59, target)
        answer(boris, local(2026, 3, 6, 9), 7200, target)
        answer(boris, local(2026, 3, 6, 10), None, target)  # nobody was waiting: not counted
        # Outside: the hour before Mar 1 in Bogotá (still Mar 1 in UTC), after Mar 10.
        answer(anna, local(2026, 2, 28, 23, 59), 5, target)  # the previous period
        answer(anna, local(2026, 3, 11, 0, 0), 5, target)
    globex = Tenant.objects.get(slug="globex")
    with tenant_context(globex):
        other = Membership.objects.get(role__kind=Role.Kind.ADMIN)
        elsewhere = Lead.objects.first()
        answer(other, local(2026, 3, 5, 9), 30, elsewhere)
    return world


def test_answers_in_conversations_by_who_answered(answers):
    table = build(answers["admin"]).tables[-1]
    assert table.key == "conversations"
    # answers, median wait, 90th percentile (whole minutes), share within the 10-minute limit
    assert figures(table.total) == [(4, 1), (10, 0), (120, 0), (50.0, 100.0)]
    assert [row.label for row in table.rows] == ["Anna Alpha", "Boris Beta"]
    anna, boris = table.rows
    assert figures(anna) == [(3, 1), (10, 0), (10, 0), (pytest.approx(200 / 3), 100.0)]
    assert figures(boris) == [(1, 0), (120, None), (120, None), (0.0, None)]


def test_a_manager_sees_only_their_own_answers(answers):
    with tenant_context(answers["acme"]):
        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=True)
        boris = Membership.objects.select_related("role", "user", "tenant").get(
            pk=answers["boris"].pk
        )
    table = build(boris).tables[-1]
    assert [row.label for row in table.rows] == ["Boris Beta"]
    assert figures(table.total) == [(1, 0), (120, None), (120, None), (0.0, None)]
