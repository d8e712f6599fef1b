"""The analytics pages over HTTP: the dashboard as a director's home, a manager's own
figures, a report with its saved views and exports; rights, other tenants, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from crm.models import SavedFilter
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.factories import add_member
from tests.leads.factories import make_lead

ZONE = zoneinfo.ZoneInfo("Asia/Vladivostok")  # UTC+10
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=ZONE)


def _url(tenant, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kwargs})


@pytest.fixture
def data(tenant, admin, manager):
    """Vladivostok: four leads in the last 30 days (one at 00:10 local today, one the
    manager's), one just before the period (a previous-period lead)."""
    tenant.time_zone = "Asia/Vladivostok"
    tenant.save()
    other = add_member(tenant, "manager")
    with tenant_context(tenant), time_machine.travel(NOW, tick=False):
        times = {
            "today": dt.datetime(2026, 11, 20, 0, 10, tzinfo=ZONE),
            "mine": dt.datetime(2026, 11, 10, 9, 0, tzinfo=ZONE),
            "theirs": dt.datetime(2026, 11, 1, 9, 0, tzinfo=ZONE),
            "first_day": dt.datetime(2026, 10, 22, 0, 0, tzinfo=ZONE),
            "before": dt.datetime(2026, 10, 21, 23, 30, tzinfo=ZONE),
        }
        owners = {"mine": manager, "theirs": other}
        leads = {}
        for key, when in times.items():
            lead = make_lead(admin, owner=owners.get(key), title=key, utm_source="=cmd|x")
            Lead.objects.filter(pk=lead.pk).update(created_at=when)
            leads[key] = lead
    return leads


@time_machine.travel(NOW, tick=False)
def test_a_director_home_is_the_dashboard_with_exact_tiles(data, director, client_for):
    response = client_for(director).get(_url(director.tenant, "crm:home"))
    assert response.status_code == 200
    tiles = response.context["tiles"]
    by_key = {t.key: t.cell for t in tiles}
    # last 30 days in Vladivostok: 22.10–20.11 → four leads; before: one (21.10 23:30).
    assert by_key["leads"].value == 4
    assert by_key["leads"].previous == 1
    assert by_key["today"].value == 1
    assert b'data-testid="tile-report"' in response.content


@time_machine.travel(NOW, tick=False)
def test_a_manager_home_shows_only_their_own_figures(data, manager, client_for):
    response = client_for(manager).get(_url(manager.tenant, "crm:home"))
    assert response.status_code == 200
    assert response.context["own_figures"] is True
    by_key = {t.key: t.cell for t in response.context["tiles"]}
    assert by_key["leads"].value == 1  # "mine" only: not the colleague's, not unassigned
    # No link to a report the manager may not open.
    assert b'data-testid="tile-report"' not in response.content
    assert b'data-testid="report-menu"' not in response.content


@time_machine.travel(NOW, tick=False)
def test_reports_need_the_analytics_right(data, director, manager, marketer, client_for):
    url = _url(director.tenant, "analytics:report", slug="sources")
    assert client_for(director).get(url).status_code == 200
    assert client_for(marketer).get(url).status_code == 200
    assert client_for(manager).get(url).status_code == 403
    assert client_for(manager).get(_url(manager.tenant, "analytics:dashboard")).status_code == 403
    assert client_for(director).get(url.replace("sources", "nope")).status_code == 404


def test_another_workspace_reports_are_not_found(data, other_admin, tenant, client_for):
    url = _url(tenant, "analytics:report", slug="sources")
    assert client_for(other_admin).get(url).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&date_from=2026-13-01&date_to=x",
        "period=custom&date_from=2026-11-10&date_to=2026-11-01",
        "period=custom&date_from=0001-01-01&date_to=9999-12-31",
        "period=nope&channel=abc&owner=%00&team=x&status=-1&cf_x=1",
        "owner=99999999999999999999&source=zzz&utm_source=" + "a" * 500,
    ],
)
@time_machine.travel(NOW, tick=False)
def test_bad_query_strings_fall_back_without_an_error(data, director, client_for, query):
    for name, kwargs in (("analytics:report", {"slug": "sources"}), ("analytics:dashboard", {})):
        response = client_for(director).get(_url(director.tenant, name, **kwargs) + "?" + query)
        assert response.status_code == 200


@time_machine.travel(NOW, tick=False)
def test_a_custom_period_in_local_days(data, director, client_for):
    url = _url(director.tenant, "analytics:dashboard")
    query = "?period=custom&date_from=2026-10-21&date_to=2026-10-21"
    response = client_for(director).get(url + query)
    by_key = {t.key: t.cell for t in response.context["tiles"]}
    assert by_key["leads"].value == 1  # 21.10 23:30 local, 13:30 UTC
    assert by_key["leads"].previous == 0  # 20.10


@time_machine.travel(NOW, tick=False)
def test_report_tables_export_to_csv_and_xlsx_neutralized(data, director, client_for):
    url = _url(director.tenant, "analytics:report", slug="sources")
    response = client_for(director).get(url + "?period=last_30_days&export=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="sources-20261022')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    flat = [cell for row in rows for cell in row]
    assert "'=cmd|x" in " ".join(flat)  # the UTM campaign, neutralized
    assert not any(cell.startswith("=") for cell in flat)
    response = client_for(director).get(url + "?export=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    values = [c.value for row in book.active.iter_rows() for c in row if c.value]
    assert any("'=cmd|x" in v for v in values)


@time_machine.travel(NOW, tick=False)
def test_saved_views_private_and_shared(data, director, manager, client_for):
    create = _url(director.tenant, "crm:saved_filter_create")
    query = "period=this_month&source=web"
    response = client_for(director).post(
        create, {"list_name": "analytics:sources", "name": "Web", "query": query, "shared": "on"}
    )
    report = _url(director.tenant, "analytics:report", slug="sources")
    assert response.status_code == 302
    assert response["Location"] == f"{report}?{query}"
    with tenant_context(director.tenant):
        saved = SavedFilter.objects.get()
    assert saved.shared
    assert saved.list_name == "analytics:sources"
    other_director = add_member(director.tenant, "director")
    page = client_for(other_director).get(report)
    assert [v.name for v in page.context["saved_views"]] == ["Web"]
    # A manager cannot open the reports, so cannot save or share their views either.
    response = client_for(manager).post(
        create, {"list_name": "analytics:sources", "name": "Mine", "query": query}
    )
    assert response.status_code == 403
    with tenant_context(director.tenant):
        assert SavedFilter.objects.count() == 1
