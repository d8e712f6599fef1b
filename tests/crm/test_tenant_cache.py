"""Tenant rows reused for a few seconds per process: saved changes apply at once here, and
changes made elsewhere within TENANT_CACHE_SECONDS."""

from __future__ import annotations

from crm import middleware
from crm.models import Tenant


def test_a_saved_setting_applies_at_once_and_an_outside_change_after_the_ttl(
    tenant, admin, client_for, monkeypatch, settings
):
    settings.TENANT_CACHE_SECONDS = 10
    client = client_for(admin)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 200
    tenant.mode = Tenant.Mode.SIMPLE
    tenant.save()  # through the model: this process forgets its copy
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 404
    # Another process changes it (no signal here): seen once the copy expires.
    Tenant.objects.filter(pk=tenant.pk).update(mode=Tenant.Mode.CLASSIC)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 404
    now = middleware.time.monotonic()
    monkeypatch.setattr(middleware.time, "monotonic", lambda: now + 11)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 200


def test_membership_is_still_checked_on_every_request(tenant, admin, manager, client_for, settings):
    settings.TENANT_CACHE_SECONDS = 10
    client = client_for(manager)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 200
    from crm.services import member_set_active
    from crm.tenancy import tenant_context

    with tenant_context(tenant):
        member_set_active(actor=admin, member=manager, active=False)
    assert client.get(f"/{tenant.slug}/leads/inbox/").status_code == 404
