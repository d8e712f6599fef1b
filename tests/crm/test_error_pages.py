"""Friendly error pages, and a crashing request leaves nothing half-written."""

from __future__ import annotations

from django.test import Client

from crm.models import Team
from crm.tenancy import tenant_context


def test_a_server_error_shows_the_friendly_page_and_rolls_back(tenant, admin, monkeypatch):
    def crash(*args, **kwargs):
        Team.objects.create(name="Half-written")
        raise RuntimeError("boom")

    monkeypatch.setattr("analytics.views.render", crash)  # the home page
    client = Client(raise_request_exception=False)
    client.force_login(admin.user)
    response = client.get(f"/{tenant.slug}/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    with tenant_context(tenant):
        assert not Team.objects.filter(name="Half-written").exists()


def test_forbidden_and_not_found_pages_are_friendly(client_for, tenant, manager):
    client = client_for(manager)
    forbidden = client.get(f"/{tenant.slug}/settings/general/")
    assert forbidden.status_code == 403
    assert "Доступ запрещён" in forbidden.content.decode()
    missing = client.get(f"/{tenant.slug}/settings/users/424242/")
    assert missing.status_code == 403  # the role check comes before the lookup
    not_found = client.get("/no/such/page/")
    assert not_found.status_code == 404
    assert "/no/such/page/" not in not_found.content.decode()
