"""The lead list as a report's drill-down target: each report filter narrows it to exactly
the leads behind a number, and ?total=1 shows that number (one COUNT query)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import SavedFilter, Tenant
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead
from tests.deals.factories import make_deal
from tests.factories import add_member
from tests.leads.factories import make_lead

UTC = dt.UTC


@pytest.fixture
def url(tenant):
    return lambda path="": f"/{tenant.slug}/leads/{path}"


@pytest.fixture
def client_for(client_for):
    """Pages in English (the workspace speaks Russian): the texts asserted are msgids."""
    return lambda member: client_for(member, "en")


@pytest.fixture
def bogota(tenant: Tenant) -> Tenant:
    """The workspace runs on Bogotá time (UTC−5, no daylight saving)."""
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="America/Bogota")
    tenant.refresh_from_db()
    return tenant


def _lead(actor, title: str, owner="actor", **columns) -> Lead:
    """A lead made by the service, then given the facts a report reads (set by others)."""
    kwargs = {} if owner == "actor" else {"owner": owner}
    data = {k: columns.pop(k) for k in ("utm_source", "utm_campaign", "source") if k in columns}
    lead = make_lead(actor, title=title, **kwargs, **data)
    if columns:
        Lead.objects.filter(pk=lead.pk).update(**columns)
    return lead


def _titles(response) -> set[str]:
    return {row.title for row in response.context["page"].rows}


def _shows(client, url, params: dict, titles: set[str]):
    """The list with `params` and total=1 lists exactly `titles` and says how many."""
    response = client.get(url(), {**params, "total": "1"})
    assert response.status_code == 200
    assert _titles(response) == titles
    assert response.context["total"] == len(titles)
    assert f"Found: {len(titles)}" in response.content.decode()
    return response


def _refused(client, url, params: dict):
    """A value the filter cannot read: no 500, a form error, no count of unfiltered rows."""
    response = client.get(url(), {**params, "total": "1"})
    assert response.status_code == 200
    assert response.context["filters"].errors
    assert response.context["total"] is None
    assert "not understood" in response.content.decode()
    return response


def test_channel_ids_and_none(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _lead(admin, "Три", channel_id=3)
        _lead(admin, "Пять", channel_id=5)
        _lead(admin, "Семь", channel_id=7)
        _lead(admin, "Без канала")
        assert Lead.objects.filter(channel_id__in=[3, 5]).count() == 2
    client = client_for(admin)
    _shows(client, url, {"channel": "3"}, {"Три"})
    _shows(client, url, {"channel": ["3", "5"]}, {"Три", "Пять"})
    _shows(client, url, {"channel": "none"}, {"Без канала"})
    _shows(client, url, {"channel": ["none", "7"]}, {"Без канала", "Семь"})
    _shows(client, url, {"channel": "404"}, set())
    for bad in ("x", "-1", "3.5", "99999999999999999999"):
        _refused(client, url, {"channel": bad})


def test_utm_tags_match_exactly_and_none_means_blank(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _lead(admin, "Яндекс", utm_source="yandex", utm_campaign="spring")
        _lead(admin, "Яндекс осень", utm_source="yandex", utm_campaign="autumn")
        _lead(admin, "Гугл", utm_source="google")
        _lead(admin, "Прямой")
    client = client_for(admin)
    _shows(client, url, {"utm_source": "yandex"}, {"Яндекс", "Яндекс осень"})
    _shows(client, url, {"utm_source": "yandex", "utm_campaign": "spring"}, {"Яндекс"})
    _shows(client, url, {"utm_source": "(none)"}, {"Прямой"})
    _shows(client, url, {"utm_campaign": "(none)"}, {"Гугл", "Прямой"})
    _shows(client, url, {"utm_source": "yan"}, set())  # exact, not a prefix
    _refused(client, url, {"utm_source": "x" * 201})


def test_repeat_taken_responded_and_assigned_flags(client_for, tenant, admin, manager, url):
    now = timezone.now()
    with tenant_context(tenant):
        _lead(admin, "Повторный", is_repeat=True, taken_at=now, first_response_at=now)
        _lead(admin, "Взят", taken_at=now)
        _lead(admin, "Отвечен", owner=None, first_response_at=now)
        _lead(admin, "Ничего", owner=None)
    client = client_for(admin)
    _shows(client, url, {"repeat": "1"}, {"Повторный"})
    _shows(client, url, {"repeat": "0"}, {"Взят", "Отвечен", "Ничего"})
    _shows(client, url, {"taken": "1"}, {"Повторный", "Взят"})
    _shows(client, url, {"taken": "0"}, {"Отвечен", "Ничего"})
    _shows(client, url, {"responded": "1"}, {"Повторный", "Отвечен"})
    _shows(client, url, {"responded": "0"}, {"Взят", "Ничего"})
    _shows(client, url, {"assigned": "1"}, {"Повторный", "Взят"})
    _shows(client, url, {"assigned": "1", "taken": "0"}, set())
    for name in ("repeat", "taken", "responded", "assigned"):
        _refused(client, url, {name: "yes"})


def test_response_time_bounds_in_minutes(client_for, tenant, admin, url):
    created = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    with tenant_context(tenant):
        for title, after in (
            ("Ровно 5 минут", dt.timedelta(minutes=5)),
            ("5 минут и секунда", dt.timedelta(minutes=5, seconds=1)),
            ("Два часа", dt.timedelta(hours=2)),
        ):
            _lead(admin, title, created_at=created, first_response_at=created + after)
        _lead(admin, "Без ответа", created_at=created)
    client = client_for(admin)
    _shows(client, url, {"response_max": "5"}, {"Ровно 5 минут"})
    _shows(client, url, {"response_min": "5"}, {"5 минут и секунда", "Два часа"})
    _shows(client, url, {"response_min": "5", "response_max": "60"}, {"5 минут и секунда"})
    _shows(client, url, {"response_max": "120"}, {"Ровно 5 минут", "5 минут и секунда", "Два часа"})
    _shows(client, url, {"response_max": "0"}, set())
    _shows(client, url, {"response_min": "0"}, {"Ровно 5 минут", "5 минут и секунда", "Два часа"})
    for bad in ("abc", "-1", "1.5", "1e9", "99999999999999999999"):
        _refused(client, url, {"response_max": bad})
        _refused(client, url, {"response_min": bad})


def test_hour_is_the_workspaces_clock(client_for, bogota, admin, url):
    with tenant_context(bogota):
        # 04:30 UTC is 23:30 of the day before in Bogotá; 05:10 UTC is 00:10.
        _lead(admin, "Поздно вечером", created_at=dt.datetime(2025, 3, 11, 4, 30, tzinfo=UTC))
        _lead(admin, "После полуночи", created_at=dt.datetime(2025, 3, 11, 5, 10, tzinfo=UTC))
        _lead(admin, "Днём", created_at=dt.datetime(2025, 3, 11, 19, 59, tzinfo=UTC))
    client = client_for(admin)
    _shows(client, url, {"hour": "23"}, {"Поздно вечером"})
    _shows(client, url, {"hour": "0"}, {"После полуночи"})
    _shows(client, url, {"hour": "14"}, {"Днём"})
    _shows(client, url, {"hour": "4"}, set())  # the UTC hour is nobody's
    for bad in ("99", "24", "-1", "abc"):
        _refused(client, url, {"hour": bad})


def test_closed_days_are_the_workspaces_days(client_for, bogota, admin, url):
    with tenant_context(bogota):
        # 03:00 UTC on the 11th is 22:00 on the 10th in Bogotá.
        _lead(admin, "Закрыт 10-го", closed_at=dt.datetime(2025, 3, 11, 3, 0, tzinfo=UTC))
        _lead(admin, "Закрыт 11-го", closed_at=dt.datetime(2025, 3, 11, 5, 0, tzinfo=UTC))
        _lead(admin, "Открыт")
    client = client_for(admin)
    _shows(
        client, url, {"closed_after": "2025-03-10", "closed_before": "2025-03-10"}, {"Закрыт 10-го"}
    )
    _shows(client, url, {"closed_after": "2025-03-11"}, {"Закрыт 11-го"})
    _shows(client, url, {"closed_before": "2025-03-11"}, {"Закрыт 10-го", "Закрыт 11-го"})
    _refused(client, url, {"closed_after": "2025-02-30"})


def test_deal_outcome_of_the_leads_deal(client_for, tenant, admin, url):
    with tenant_context(tenant):
        won, lost, open_ = (make_deal(admin) for _ in range(3))
        Deal.objects.filter(pk=won.pk).update(outcome="won")
        Deal.objects.filter(pk=lost.pk).update(outcome="lost")
        _lead(admin, "Выигран", deal=won)
        _lead(admin, "Проигран", deal=lost)
        _lead(admin, "В работе", deal=open_)
        _lead(admin, "Без сделки")
    client = client_for(admin)
    _shows(client, url, {"deal_outcome": "won"}, {"Выигран"})
    _shows(client, url, {"deal_outcome": "lost"}, {"Проигран"})
    _shows(client, url, {"deal_outcome": "open"}, {"В работе"})
    _refused(client, url, {"deal_outcome": "maybe"})


def test_archive_all_counts_archived_leads_but_never_deleted_ones(client_for, tenant, admin, url):
    now = timezone.now()
    with tenant_context(tenant):
        _lead(admin, "Живой", utm_source="vk")
        _lead(admin, "В архиве", utm_source="vk", state="junk", archived_at=now)
        _lead(admin, "В корзине", utm_source="vk", deleted_at=now)
    client = client_for(admin)
    _shows(client, url, {"utm_source": "vk"}, {"Живой"})
    _shows(client, url, {"utm_source": "vk", "archive": "all"}, {"Живой", "В архиве"})
    _shows(client, url, {"archive": "all", "preset": "archived"}, {"В архиве"})
    _refused(client, url, {"archive": "everything"})


def test_a_manager_counts_only_what_they_see(client_for, tenant, admin, manager, url):
    colleague = add_member(tenant, "manager")
    with tenant_context(tenant):
        _lead(admin, "Мой", owner=manager, channel_id=3)
        _lead(admin, "Общий", owner=None, channel_id=3)
        _lead(admin, "Коллеги", owner=colleague, channel_id=3)
    client = client_for(manager)
    _shows(client, url, {"channel": "3"}, {"Мой", "Общий"})
    _shows(client, url, {"channel": "3", "assigned": "1"}, {"Мой"})
    _shows(client_for(admin), url, {"channel": "3", "assigned": "1"}, {"Мой", "Коллеги"})


def test_another_workspaces_leads_are_never_counted(
    client_for, tenant, other_tenant, admin, other_admin, url
):
    with tenant_context(tenant):
        _lead(admin, "Наш", channel_id=3, utm_source="yandex")
    with tenant_context(other_tenant):
        for n in range(3):
            _lead(other_admin, f"Чужой {n}", channel_id=3, utm_source="yandex")
    params = {"channel": "3", "utm_source": "yandex", "archive": "all"}
    _shows(client_for(admin), url, params, {"Наш"})


def test_the_report_filters_are_summed_up_with_a_link_that_drops_them(
    client_for, tenant, admin, url
):
    with tenant_context(tenant):
        _lead(admin, "Первый", channel_id=3, is_repeat=True)
    client = client_for(admin)
    params = {"channel": "3", "repeat": "1", "state": "new", "archive": "all"}
    response = _shows(client, url, params, {"Первый"})
    page = response.content.decode()
    assert "Filtered from a report:" in page
    shown = re.findall(r'data-testid="report-filter">([^<]*)<', page)
    assert shown == ["Channel: 3", "Repeat: repeat leads", "Archived: included"]
    only_report = client.get(url(), {"channel": "3", "hour": "5"})
    assert not only_report.context["filters"].panel_open  # the panel stays as it is
    assert response.context["filters"].report_clear_query == "state=new"
    plain = client.get(url(), {"state": "new"})
    assert "Filtered from a report" not in plain.content.decode()
    assert "Found:" not in plain.content.decode()
    assert plain.context.get("total") is None


def test_saved_filters_keep_the_report_filters(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _lead(admin, "Яндекс", utm_source="yandex", channel_id=3)
        _lead(admin, "Прочий", channel_id=3)
    client = client_for(admin)
    query = "channel=3&utm_source=yandex&archive=all&total=1&after=abc"
    saved = client.post(
        f"/{tenant.slug}/filters/",
        {"list_name": "leads:list", "name": "Из отчёта", "query": query},
    )
    assert saved.status_code == 302
    with tenant_context(tenant):
        stored = SavedFilter.objects.get(name="Из отчёта").query
    assert "after" not in stored
    response = client.get(f"{url()}?{stored}")
    assert _titles(response) == {"Яндекс"}
    assert response.context["total"] == 1


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_no_count_query_without_total_and_one_with_it(
    client_for, tenant, admin, role, request, url, django_assert_num_queries
):
    client = client_for(request.getfixturevalue(role))
    params = {"channel": ["3", "none"], "responded": "0", "archive": "all", "repeat": "0"}
    with tenant_context(tenant):
        for _ in range(5):
            _lead(admin, "Л", owner=None, channel_id=3)
    client.get(url(), params)
    with CaptureQueriesContext(connection) as without:
        assert len(client.get(url(), params).context["page"].rows) == 5
    with CaptureQueriesContext(connection) as five:
        assert client.get(url(), {**params, "total": "1"}).context["total"] == 5
    assert len(five.captured_queries) == len(without.captured_queries) + 1
    with tenant_context(tenant):
        for _ in range(55):
            _lead(admin, "Л", owner=None, channel_id=3)
    with django_assert_num_queries(len(five.captured_queries)):
        response = client.get(url(), {**params, "total": "1"})
    assert len(response.context["page"].rows) == 50
    assert response.context["total"] == 60


def test_the_htmx_rows_fragment_runs_no_count(client_for, tenant, admin, url):
    client = client_for(admin)
    response = client.get(url(), {"total": "1", "fragment": "rows"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context.get("total") is None


def test_the_export_of_a_drill_down_has_the_same_leads(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _lead(admin, "Живой", utm_source="vk")
        _lead(admin, "В архиве", utm_source="vk", state="junk", archived_at=timezone.now())
        _lead(admin, "Другой")
    client = client_for(admin)
    for params, count in (({"utm_source": "vk"}, 1), ({"utm_source": "vk", "archive": "all"}, 2)):
        # The export menu posts to the list's query string (transfer/views/exports.py).
        response = client.post(f"{url('export/')}?{urlencode(params)}", {"format": "csv"})
        assert response.status_code == 200
        lines = response.content.decode("utf-8-sig").strip().splitlines()
        assert len(lines) == 1 + count
