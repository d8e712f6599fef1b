"""The status report: every figure of a known data set (tests/analytics/status_funnel_data.py),
the period's edges in the workspace's zone, the previous period, scope, bad input."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analytics.params import params_for
from analytics.reports.status import SPEC
from analytics.tables import Report, Table
from crm.tenancy import tenant_context
from crm.urlnames import tenant_reverse
from leads.models import LeadStatus, StatusStay
from tests.analytics.status_funnel_data import (
    CLARIFYING,
    IN_PROGRESS,
    NEW,
    NOW,
    QUERY,
    Data,
    add_lead,
    build_data,
    local,
    stay,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tenant, other_tenant) -> Data:
    with time_machine.travel(NOW, tick=False):
        yield build_data(tenant, other_tenant)


def report(data: Data, member, query: str = QUERY) -> Report:
    with tenant_context(data.tenant):
        return SPEC.build(params_for(member, QueryDict(query)))


def table(built: Report, key: str) -> Table:
    return next(t for t in built.tables if t.key == key)


def figures(t: Table, index: int) -> dict[str, tuple]:
    """{row label: (value, previous)} of column `index`."""
    rows = [*t.rows, *([t.total] if t.total else [])]
    return {r.label: (r.cells[index].value, r.cells[index].previous) for r in rows}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_by_state_counts_the_cohort_with_the_previous_period(data):
    t = table(report(data, data.admin), "states")
    assert figures(t, 0) == {
        "New": (1, 1),
        "In progress": (2, 0),
        "Converted": (2, 1),
        "Junk": (2, 0),
        "Total": (7, 2),
    }
    shares = figures(t, 1)
    assert shares["New"] == pytest.approx((100 / 7, 50.0))
    assert shares["In progress"] == pytest.approx((200 / 7, 0.0))
    assert shares["Converted"] == pytest.approx((200 / 7, 50.0))
    assert shares["Junk"] == pytest.approx((200 / 7, 0.0))
    assert shares["Total"] == (100.0, 100.0)
    link = query_of(t.rows[2].cells[0].url)
    assert link["state"] == ["converted"]
    assert link["created_after"] == ["2026-03-01"]
    assert link["created_before"] == ["2026-03-10"]
    assert link["archive"] == ["all"]
    assert t.rows[2].cells[1].url == t.rows[2].cells[0].url


def test_by_status_lists_every_status_in_state_order_with_zeros(data):
    t = table(report(data, data.admin), "statuses")
    names = [s.name for s in data.statuses]
    assert [r.label for r in t.rows] == names  # the default set is already in state order
    counts = [(r.cells[0].value, r.cells[0].previous) for r in t.rows]
    assert counts == [(1, 1), (1, 0), (1, 0), (2, 1), (1, 0), (1, 0), (0, 0), (0, 0)]
    assert (t.total.cells[0].value, t.total.cells[0].previous) == (7, 2)
    assert t.rows[3].cells[1].value == pytest.approx(200 / 7)
    assert t.rows[3].cells[1].previous == pytest.approx(50.0)
    assert t.rows[6].cells[1].value == 0.0
    assert query_of(t.rows[2].cells[0].url)["status"] == [str(data.statuses[CLARIFYING].pk)]


def test_statuses_follow_the_states_then_their_positions(data):
    with tenant_context(data.tenant):
        LeadStatus.objects.create(name="Callback", state="new", position=99)
    labels = [r.label for r in table(report(data, data.admin), "statuses").rows]
    assert labels.index("Callback") == 1  # after the other new status, before in progress


def test_all_first_time_and_repeat_leads(data):
    t = table(report(data, data.admin), "repeat")
    assert figures(t, 0) == {
        "All leads": (7, 2),
        "First-time leads": (5, 2),
        "Repeat leads (known clients)": (2, 0),
    }
    assert figures(t, 1) == {
        "All leads": (2, 1),
        "First-time leads": (1, 1),
        "Repeat leads (known clients)": (1, 0),
    }
    conversion = figures(t, 2)
    assert conversion["All leads"] == (50.0, 100.0)
    assert conversion["First-time leads"] == pytest.approx((100 / 3, 100.0))
    assert conversion["Repeat leads (known clients)"] == (100.0, None)
    assert "repeat" not in query_of(t.rows[0].cells[0].url)
    assert query_of(t.rows[1].cells[0].url)["repeat"] == ["0"]
    repeat_converted = query_of(t.rows[2].cells[1].url)
    assert repeat_converted["repeat"] == ["1"]
    assert repeat_converted["state"] == ["converted"]


def test_time_in_status_is_per_stay_with_open_stays_up_to_now(data):
    with time_machine.travel(NOW, tick=False):
        t = table(report(data, data.admin), "time")
    by_status = {r.label: r for r in t.rows}
    names = [s.name for s in data.statuses]

    def row(index):
        r = by_status[names[index]]
        return [(c.value, c.previous) for c in r.cells]

    # In whole minutes (floored). New: L1 still there (14 d 12 h), L2 1 h, L3 30 min, L4
    # 2 h (316,350 s on average); L9 4 h before.
    assert row(NEW) == [(316350 // 60, 4 * 60), (4, 1)]
    # In progress: L2 still there (13 d 1 h), L3 3 h, L4 24 h.
    assert row(IN_PROGRESS)[0][0] == 408000 // 60
    assert row(IN_PROGRESS)[1] == (3, 0)
    assert row(IN_PROGRESS)[0][1] is None
    # Clarifying: two stays of L3, 1 h and still there (11 d 22 h 30 min).
    assert row(CLARIFYING)[0][0] == 517500 // 60
    assert row(CLARIFYING)[1] == (2, 0)
    # Converted: L4 still there (10 d 2 h); no stays in the junk statuses.
    assert row(3)[0][0] == 242 * 60
    assert row(3)[1] == (1, 0)
    assert row(5) == [(None, None), (0, 0)]
    assert all(c.url is None for r in t.rows for c in r.cells)
    assert t.columns[0].higher_is_better is False


def test_open_stays_grow_with_now(data):
    with time_machine.travel(local(16, 12), tick=False):
        t = table(report(data, data.admin), "time")
    converted = next(r for r in t.rows if r.label == data.statuses[3].name)
    assert converted.cells[0].value == 266 * 60


def test_period_edges_are_local_days(data):
    """L1 at 00:00 on the 1st and L7 at 23:30 on the 10th count; L8 at 00:10 on the 11th
    (05:10 UTC) does not; the previous period holds L9 at 23:50 on 28 February."""
    t = table(report(data, data.admin, "period=custom&date_from=2026-03-10&date_to=2026-03-10"),
              "states")  # fmt: skip
    assert figures(t, 0)["Total"] == (1, 0)  # L7; the day before has no leads
    t = table(report(data, data.admin, "period=custom&date_from=2026-03-11&date_to=2026-03-11"),
              "states")  # fmt: skip
    assert figures(t, 0)["Total"] == (1, 1)  # L8; the previous day L7


def test_manager_sees_only_own_figures(data):
    built = report(data, data.m1)
    assert figures(table(built, "states"), 0) == {
        "New": (1, 0),
        "In progress": (1, 0),
        "Converted": (1, 1),
        "Junk": (0, 0),
        "Total": (3, 1),
    }
    assert figures(table(built, "repeat"), 0)["Repeat leads (known clients)"] == (1, 0)
    time = {r.label: r.cells[1].value for r in table(built, "time").rows}
    assert time[data.statuses[NEW].name] == 3  # L1, L2, L4
    assert time[data.statuses[CLARIFYING].name] == 0
    assert query_of(table(built, "states").rows[0].cells[0].url)["assigned"] == ["1"]


def test_team_director_sees_the_team(data):
    built = report(data, data.director)
    assert figures(table(built, "states"), 0) == {
        "New": (0, 1),
        "In progress": (1, 0),
        "Converted": (1, 0),
        "Junk": (1, 0),
        "Total": (3, 1),
    }


def test_filters_narrow_the_cohort(data):
    built = report(data, data.admin, f"{QUERY}&source=call")
    assert figures(table(built, "states"), 0)["Total"] == (2, 1)
    built = report(data, data.admin, f"{QUERY}&owner=none")
    assert figures(table(built, "states"), 0)["Junk"] == (1, 0)


def test_charts(data):
    built = report(data, data.admin)
    doughnut, bars = built.charts
    assert doughnut.kind == "doughnut"
    assert doughnut.labels == ["New", "In progress", "Converted", "Junk"]
    assert [d.data for d in doughnut.datasets] == [[1, 2, 2, 2]]
    assert bars.kind == "bar"
    assert [d.data for d in bars.datasets] == [
        [1, 1, 1, 2, 1, 1, 0, 0],
        [1, 0, 0, 1, 0, 0, 0, 0],
    ]


def test_the_number_of_queries_does_not_grow_with_the_data(data):
    def count() -> int:
        with tenant_context(data.tenant):
            params = params_for(data.admin, QueryDict(QUERY))
            with CaptureQueriesContext(connection) as queries:
                SPEC.build(params)
        return len(queries)

    before = count()
    with tenant_context(data.tenant):
        for n in range(5):
            add_lead(data, f"more{n}", created=local(2 + n), source="call", owner=data.m2,
                     status=IN_PROGRESS, taken=local(2 + n, 5))  # fmt: skip
            stay(data, f"more{n}", IN_PROGRESS, local(2 + n, 5), None)
        assert StatusStay.objects.count() == 18
    # The statuses, the rolled-up days (none here), the counts, the stays (both periods).
    assert count() == before == 4


@pytest.mark.parametrize(
    "query",
    [
        "",
        QUERY,
        "period=nonsense",
        "period=custom&date_from=2026-13-45&date_to=x",
        "period=custom&date_from=2026-03-10&date_to=2026-03-01",
        "period=custom&date_from=1900-01-01&date_to=1900-01-02",
        "status=abc&owner=zzz&channel=x&team=-1&source=nowhere",
        "date_from=%00&utm_source=" + "x" * 500,
    ],
)
def test_bad_query_strings_never_fail(data, client_for, query):
    url = tenant_reverse("analytics:report", data.tenant, slug="status")
    response = client_for(data.admin).get(f"{url}?{query}&export=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


def test_export_holds_the_figures(data, client_for):
    url = tenant_reverse("analytics:report", data.tenant, slug="status")
    response = client_for(data.admin, language="en").get(f"{url}?{QUERY}&export=csv")
    lines = response.content.decode().splitlines()
    assert "By state · 01.03.2026–10.03.2026" in lines
    assert "Repeat leads (known clients);2;0;1;0;100.0 %;" in lines
    assert f"{data.statuses[IN_PROGRESS].name};4 d 17 h;;3;0" in lines


def test_without_the_right_or_outside_the_tenant(data, client_for, other_admin):
    url = tenant_reverse("analytics:report", data.tenant, slug="status")
    with tenant_context(data.tenant):
        from crm.models import Role

        Role.objects.filter(kind=Role.Kind.MANAGER).update(can_view_analytics=False)
    assert client_for(data.m1).get(f"{url}?export=csv").status_code == 403
    assert client_for(other_admin).get(f"{url}?export=csv").status_code == 404
