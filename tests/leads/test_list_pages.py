"""What a lead list page reads: only what it shows (decision 006)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import CustomField
from crm.tenancy import tenant_context
from tests.leads.factories import make_lead


@pytest.fixture
def city(tenant):
    with tenant_context(tenant):
        return CustomField.objects.create(
            entity="lead", key="city", label="Город", field_type="text", position=1
        )


def _tables(client, url: str, params: dict | None = None) -> str:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return " ".join(q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("path", ["inbox/", ""])
def test_custom_field_filters_are_read_only_when_the_panel_can_show(
    client_for, tenant, manager, city, path
):
    client = client_for(manager)
    url = f"/{tenant.slug}/leads/{path}"
    assert "crm_customfield" not in _tables(client, url)
    assert "crm_customfield" in _tables(client, url, {"filters": "1"})
    panel = client.get(url, {"filters": "1"}).content.decode()
    assert 'name="cf_city"' in panel
    fragment = client.get(url, {"filters": "1", "fragment": "filters"}, HTTP_HX_REQUEST="true")
    assert 'name="cf_city"' in fragment.content.decode()


def test_a_custom_field_filter_still_filters(client_for, tenant, admin, city):
    with tenant_context(tenant):
        make_lead(admin, title="Казань", custom={"city": "Казань"})
        make_lead(admin, title="Омск", custom={"city": "Омск"})
    response = client_for(admin).get(f"/{tenant.slug}/leads/", {"cf_city": "Омск"})
    assert [row.title for row in response.context["page"].rows] == ["Омск"]


def test_pages_do_not_read_the_tenant_switcher(client_for, tenant, manager):
    sql = _tables(client_for(manager), f"/{tenant.slug}/leads/inbox/")
    assert '"crm_tenant"."name"' in sql  # the tenant itself, by the middleware
    assert 'INNER JOIN "crm_tenant"' not in sql  # but not the memberships with their tenants


def _field_renders(response) -> int:
    return sum(t.name == "components/_form_field.html" for t in response.templates)


def test_unbound_search_and_quick_lead_fields_are_rendered_once_per_language(
    client_for, tenant, manager
):
    client = client_for(manager)
    url = f"/{tenant.slug}/leads/inbox/"
    client.get(url)  # rendered (or already cached by an earlier test in this process)
    again = client.get(url)
    page = again.content.decode()
    assert _field_renders(again) == 0  # the search row and the quick-lead fields: cached
    assert "_form" not in vars(again.context["filters"])  # nor is the filter form built
    assert 'name="q"' in page
    assert 'name="preset"' in page
    assert 'name="name"' in page
    assert 'name="contact"' in page
    assert "Телефон или e-mail" in page
    assert "Поиск" in page
    client.post("/i18n/setlang/", {"language": "en", "next": url})
    english = client.get(url).content.decode()
    assert "Phone or e-mail" in english
    assert "Search" in english
    assert "Телефон или e-mail" not in english
    assert "Поиск" not in english


def test_a_bound_search_and_a_refused_quick_lead_are_rendered_with_their_values(
    client_for, tenant, manager
):
    client = client_for(manager)
    client.get(f"/{tenant.slug}/leads/inbox/")  # the unbound fragments are cached
    searched = client.get(f"/{tenant.slug}/leads/inbox/", {"q": "8 912", "preset": "mine"})
    page = searched.content.decode()
    assert 'value="8 912"' in page
    assert '<option value="mine" selected>' in page
    refused = client.post(f"/{tenant.slug}/leads/quick/", {"name": "Без связи", "contact": "нет@"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'value="Без связи"' in page
    assert 'value="нет@"' in page
    assert "is-invalid" in page
    assert 'class="invalid-feedback d-block"' in page
