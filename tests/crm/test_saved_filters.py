"""Saved filters of the lead lists: save, apply, share, remove; other people's stay theirs."""

from __future__ import annotations

import pytest

from crm.models import SavedFilter
from crm.tenancy import tenant_context
from tests.leads.factories import make_lead


@pytest.fixture
def leads_url(tenant):
    return f"/{tenant.slug}/leads/"


def _save(client, tenant, **data):
    body = {"list_name": "leads:list", "name": "Горячие", "query": "temperature=hot", **data}
    return client.post(f"/{tenant.slug}/filters/", body)


def _names(tenant) -> list[tuple[str, bool]]:
    with tenant_context(tenant):
        return list(SavedFilter.objects.order_by("name").values_list("name", "shared"))


def test_a_manager_saves_the_current_filters_and_gets_them_back(
    client_for, tenant, admin, manager, leads_url
):
    with tenant_context(tenant):
        make_lead(admin, owner=manager, title="Горячий", temperature="hot")
        make_lead(admin, owner=manager, title="Холодный", temperature="cold")
    client = client_for(manager)
    page = client.get(leads_url, {"temperature": "hot", "after": "x"}).content.decode()
    # The save form carries the filters, not the page position.
    assert 'name="query" value="temperature=hot"' in page
    response = _save(client, tenant, query="temperature=hot&after=abc&fragment=rows")
    assert response.status_code == 302
    assert response["Location"] == f"{leads_url}?temperature=hot"
    assert _names(tenant) == [("Горячие", False)]
    listed = client.get(leads_url).content.decode()
    assert 'href="?temperature=hot" data-testid="saved-filter">Горячие</a>' in listed
    assert [
        lead.title for lead in client.get(leads_url, {"temperature": "hot"}).context["page"].rows
    ] == ["Горячий"]


def _errors(response) -> list[str]:
    return [m.message for m in response.wsgi_request._messages if m.level_tag == "error"]


@pytest.mark.parametrize(
    "data",
    [
        {"name": "  "},
        {"query": "after=abc&fragment=rows"},  # no filters in it
        {"list_name": "crm:members"},  # not a list with saved filters
        {"shared": "on"},  # a manager may not share with everyone
    ],
)
def test_bad_input_saves_nothing_and_says_why(client_for, tenant, manager, data):
    response = _save(client_for(manager), tenant, **data)
    assert response.status_code == 302
    assert _names(tenant) == []
    assert len(_errors(response)) == 1


def test_the_same_name_twice_is_refused(client_for, tenant, manager):
    client = client_for(manager)
    _save(client, tenant)
    response = _save(client, tenant, query="state=new")
    assert _names(tenant) == [("Горячие", False)]
    assert _errors(response) == ["У вас уже есть фильтр «Горячие»."]


def test_shared_filters_are_seen_by_everyone_and_removed_only_by_managers_of_settings(
    client_for, tenant, admin, manager, leads_url
):
    _save(client_for(admin), tenant, name="Для всех", shared="on")
    _save(client_for(manager), tenant, name="Только мой")
    assert _names(tenant) == [("Для всех", True), ("Только мой", False)]
    with tenant_context(tenant):
        shared = SavedFilter.objects.get(name="Для всех")
        own = SavedFilter.objects.get(name="Только мой")
    manager_page = client_for(manager).get(leads_url).content.decode()
    assert "Для всех" in manager_page
    # The admin does not see the manager's personal filter.
    assert "Только мой" not in client_for(admin).get(leads_url).content.decode()
    # A manager cannot remove the shared one (404: as if missing), nor the admin theirs.
    assert (
        client_for(manager).post(f"/{tenant.slug}/filters/{shared.pk}/delete/").status_code == 404
    )
    assert client_for(admin).post(f"/{tenant.slug}/filters/{own.pk}/delete/").status_code == 404
    assert client_for(manager).post(f"/{tenant.slug}/filters/{own.pk}/delete/").status_code == 302
    assert client_for(admin).post(f"/{tenant.slug}/filters/{shared.pk}/delete/").status_code == 302
    assert _names(tenant) == []


def test_another_tenants_filter_is_missing(client_for, tenant, other_tenant, admin, other_admin):
    _save(client_for(other_admin), other_tenant, name="Чужой")
    with tenant_context(other_tenant):
        theirs = SavedFilter.objects.get()
    response = client_for(admin).post(f"/{tenant.slug}/filters/{theirs.pk}/delete/")
    assert response.status_code == 404
    assert _names(other_tenant) == [("Чужой", False)]
    assert "Чужой" not in client_for(admin).get(f"/{tenant.slug}/leads/").content.decode()
