"""The deal list as a report's drill-down target: each report filter narrows it to exactly
the deals behind a number, and ?total=1 shows that number (one COUNT query)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Tenant
from crm.tenancy import tenant_context
from deals.models import Deal, LossReason
from leads.models import Lead
from tests.deals.factories import make_deal
from tests.factories import TeamFactory, add_member
from tests.leads.factories import make_lead

UTC = dt.UTC


@pytest.fixture
def url(tenant):
    return lambda: f"/{tenant.slug}/deals/"


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


def _deal(actor, title: str, owner="actor", lead: dict | None = None, **columns) -> Deal:
    """A deal made by the service, then given the facts a report reads; with `lead`, a
    source lead made with those columns."""
    deal = make_deal(actor, customer=False, data={"title": title}, **_owner(owner))
    if lead is not None:
        data = {k: lead.pop(k) for k in ("utm_source", "utm_campaign", "source") if k in lead}
        source_lead = make_lead(actor, title=f"Лид {title}", **data)
        if lead:
            Lead.objects.filter(pk=source_lead.pk).update(**lead)
        columns["source_lead"] = source_lead
    if columns:
        Deal.objects.filter(pk=deal.pk).update(**columns)
    return deal


def _owner(owner) -> dict:
    return {} if owner == "actor" else {"owner": owner}


def _titles(response) -> set[str]:
    return {deal.title for deal in response.context["page"].rows}


def _shows(client, url, params: dict, titles: set[str]):
    """The list with `params` and total=1 lists exactly `titles` and says how many."""
    response = client.get(url(), {**params, "total": "1"})
    assert response.status_code == 200
    assert _titles(response) == titles
    assert response.context["total"] == len(titles)
    assert f"Found: {len(titles)}" in response.content.decode()
    return response


def _refused(client, url, params: dict) -> None:
    """A value the filter cannot read: no 500, a form error, no count of unfiltered rows."""
    response = client.get(url(), {**params, "total": "1"})
    assert response.status_code == 200
    assert response.context["filters"].errors
    assert response.context["total"] is None
    assert "not understood" in response.content.decode()


def test_created_and_closed_days_are_the_workspaces_days(client_for, bogota, admin, url):
    late = dt.datetime(2025, 3, 11, 3, 0, tzinfo=UTC)  # 22:00 on the 10th in Bogotá
    next_day = dt.datetime(2025, 3, 11, 5, 0, tzinfo=UTC)  # 00:00 on the 11th
    with tenant_context(bogota):
        _deal(admin, "Создана 10-го", created_at=late)
        _deal(admin, "Создана 11-го", created_at=next_day)
        _deal(admin, "Выиграна 10-го", outcome="won", closed_at=late)
        _deal(admin, "Проиграна 11-го", outcome="lost", closed_at=next_day)
        assert Deal.objects.filter(outcome="won", closed_at__lt=next_day).count() == 1
    client = client_for(admin)
    day = {"created_after": "2025-03-10", "created_before": "2025-03-10"}
    _shows(client, url, day, {"Создана 10-го"})
    _shows(
        client,
        url,
        {"created_after": "2025-03-11", "created_before": "2025-03-11"},
        {"Создана 11-го"},
    )
    _shows(client, url, {"closed_before": "2025-03-10"}, {"Выиграна 10-го"})
    _shows(client, url, {"closed_after": "2025-03-11"}, {"Проиграна 11-го"})
    closed_10 = {"closed_after": "2025-03-10", "closed_before": "2025-03-11", "outcome": "won"}
    _shows(client, url, closed_10, {"Выиграна 10-го"})
    for name in ("created_after", "closed_before", "lead_created_after"):
        _refused(client, url, {name: "2025-13-01"})


def test_loss_reason_ids_and_none(client_for, tenant, other_tenant, admin, other_admin, url):
    with tenant_context(tenant):
        price, competitor = LossReason.objects.order_by("position")[:2]
        _deal(admin, "Дорого", outcome="lost", loss_reason=price)
        _deal(admin, "Конкурент", outcome="lost", loss_reason=competitor)
        _deal(admin, "Без причины", outcome="lost")
        _deal(admin, "Открыта")
    with tenant_context(other_tenant):
        theirs = LossReason.objects.order_by("position").first()
    client = client_for(admin)
    response = _shows(client, url, {"loss_reason": str(price.pk)}, {"Дорого"})
    assert f"Loss reason: {price.name}" in response.content.decode()
    _shows(client, url, {"loss_reason": [price.pk, competitor.pk]}, {"Дорого", "Конкурент"})
    _shows(client, url, {"loss_reason": "none", "outcome": "lost"}, {"Без причины"})
    _shows(client, url, {"loss_reason": str(theirs.pk)}, set())  # another workspace's
    _refused(client, url, {"loss_reason": "x" * 201})


def test_team_of_the_owner(client_for, tenant, admin, url):
    member = add_member(tenant, "manager")
    outsider = add_member(tenant, "manager")
    with tenant_context(tenant):
        team = TeamFactory()
        member.team = team
        member.save()
        _deal(admin, "Командная", owner=member)
        _deal(admin, "Чужая", owner=outsider)
    client = client_for(admin)
    response = _shows(client, url, {"team": team.pk}, {"Командная"})
    assert f"Team: {team.name}" in response.content.decode()
    _refused(client, url, {"team": "x"})
    _refused(client, url, {"team": "999999"})


def test_the_source_leads_source_channel_and_utm_tags(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _deal(
            admin, "С сайта", lead={"source": "web_form", "utm_source": "yandex", "channel_id": 3}
        )
        _deal(admin, "Звонок", lead={"source": "call", "channel_id": 5})
        _deal(admin, "Телеграм", lead={"source": "telegram", "utm_campaign": "spring"})
        _deal(admin, "Без лида")
    client = client_for(admin)
    _shows(client, url, {"source": "call"}, {"Звонок"})
    _shows(client, url, {"source": ["call", "web_form"]}, {"Звонок", "С сайта"})
    _shows(client, url, {"channel": "3"}, {"С сайта"})
    _shows(client, url, {"channel": ["3", "5"]}, {"С сайта", "Звонок"})
    # A deal without a source lead has no channel and no UTM tags either.
    _shows(client, url, {"channel": "none"}, {"Телеграм", "Без лида"})
    _shows(client, url, {"utm_source": "yandex"}, {"С сайта"})
    _shows(client, url, {"utm_source": "(none)"}, {"Звонок", "Телеграм", "Без лида"})
    _shows(client, url, {"utm_campaign": "spring"}, {"Телеграм"})
    _shows(client, url, {"utm_campaign": "(none)", "source": "web_form"}, {"С сайта"})
    _refused(client, url, {"source": "pigeon"})
    _refused(client, url, {"channel": "x"})


def test_lead_cohort_days_are_the_workspaces_days(client_for, bogota, admin, url):
    with tenant_context(bogota):
        _deal(admin, "Лид 10-го", lead={"created_at": dt.datetime(2025, 3, 11, 3, 0, tzinfo=UTC)})
        _deal(admin, "Лид 11-го", lead={"created_at": dt.datetime(2025, 3, 11, 5, 0, tzinfo=UTC)})
        _deal(admin, "Без лида")
    client = client_for(admin)
    cohort = {"lead_created_after": "2025-03-10", "lead_created_before": "2025-03-10"}
    _shows(client, url, cohort, {"Лид 10-го"})
    _shows(client, url, {"lead_created_after": "2025-03-11"}, {"Лид 11-го"})


def test_expected_close_days_under_both_names(client_for, tenant, admin, url):
    with tenant_context(tenant):
        _deal(admin, "Март", expected_close=dt.date(2025, 3, 31))
        _deal(admin, "Апрель", expected_close=dt.date(2025, 4, 1))
    client = client_for(admin)
    _shows(client, url, {"expected_before": "2025-03-31"}, {"Март"})
    _shows(client, url, {"close_before": "2025-03-31"}, {"Март"})
    _shows(client, url, {"expected_after": "2025-04-01"}, {"Апрель"})
    _refused(client, url, {"expected_after": "someday"})


def test_a_manager_counts_only_what_they_see(client_for, tenant, admin, manager, url):
    colleague = add_member(tenant, "manager")
    lead = {"source": "call"}
    with tenant_context(tenant):
        _deal(admin, "Моя", owner=manager, lead=dict(lead))
        _deal(admin, "Ничья", owner=None, lead=dict(lead))
        _deal(admin, "Коллеги", owner=colleague, lead=dict(lead))
    _shows(client_for(manager), url, {"source": "call"}, {"Моя", "Ничья"})
    _shows(client_for(admin), url, {"source": "call"}, {"Моя", "Ничья", "Коллеги"})


def test_another_workspaces_deals_are_never_counted(
    client_for, tenant, other_tenant, admin, other_admin, url
):
    with tenant_context(tenant):
        _deal(admin, "Наша", lead={"channel_id": 3})
    with tenant_context(other_tenant):
        for n in range(3):
            _deal(other_admin, f"Чужая {n}", lead={"channel_id": 3})
    _shows(client_for(admin), url, {"channel": "3"}, {"Наша"})


def test_the_report_filters_are_summed_up_with_a_link_that_drops_them(
    client_for, tenant, admin, url
):
    with tenant_context(tenant):
        _deal(admin, "Проиграна", outcome="lost", lead={"utm_source": "vk"})
    client = client_for(admin)
    params = {"utm_source": "vk", "outcome": "lost", "loss_reason": "none"}
    response = _shows(client, url, params, {"Проиграна"})
    page = response.content.decode()
    assert "Filtered from a report:" in page
    shown = re.findall(r'data-testid="report-filter">([^<]*)<', page)
    assert shown == ["Loss reason: none", "utm_source: vk"]
    assert response.context["filters"].report_clear_query == "outcome=lost"
    plain = client.get(url(), {"outcome": "lost"})
    assert "Filtered from a report" not in plain.content.decode()
    assert plain.context["total"] is None


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_no_count_query_without_total_and_one_with_it(
    client_for, tenant, admin, role, request, url, django_assert_num_queries
):
    client = client_for(request.getfixturevalue(role))
    params = {"source": "call", "channel": ["3", "none"], "lead_created_after": "2020-01-01"}
    with tenant_context(tenant):
        for _ in range(5):
            _deal(admin, "С", owner=None, lead={"source": "call", "channel_id": 3})
    client.get(url(), params)
    with CaptureQueriesContext(connection) as without:
        assert len(client.get(url(), params).context["page"].rows) == 5
    with CaptureQueriesContext(connection) as five:
        assert client.get(url(), {**params, "total": "1"}).context["total"] == 5
    assert len(five.captured_queries) == len(without.captured_queries) + 1
    with tenant_context(tenant):
        for _ in range(55):
            _deal(admin, "С", owner=None, lead={"source": "call", "channel_id": 3})
    with django_assert_num_queries(len(five.captured_queries)):
        response = client.get(url(), {**params, "total": "1"})
    assert len(response.context["page"].rows) == 50
    assert response.context["total"] == 60
