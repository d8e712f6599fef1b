"""Channel settings pages over HTTP: set up, see deliveries, rotate, delete; rights."""

from __future__ import annotations

from channels.models import Channel, ChannelRoute, InboundEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of


def _base(tenant) -> str:
    return f"/{tenant.slug}/settings/channels/"


def test_admin_creates_an_api_channel_and_sees_its_endpoint_and_token(tenant, admin, client_for):
    client = client_for(admin)
    assert client.get(_base(tenant) + "new/api/").status_code == 200
    response = client.post(
        _base(tenant) + "new/api/",
        {"name": "1С", "enabled": "on", "config-rate_limit": "100"},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        channel = Channel.objects.get(name="1С")
    assert channel.config == {"rate_limit": 100}
    assert ChannelRoute.objects.get(token=channel.token).tenant_id == tenant.pk
    page = client.get(response["Location"]).content.decode()
    assert f"/in/{channel.token}/" in page
    assert channel.secret in page
    listing = client.get(_base(tenant)).content.decode()
    assert "1С" in listing


def test_bad_channel_input_shows_errors_and_creates_nothing(tenant, admin, client_for, api_channel):
    client = client_for(admin)
    response = client.post(_base(tenant) + "new/api/", {"name": api_channel.name})
    assert response.status_code == 400
    response = client.post(_base(tenant) + "new/api/", {"name": "", "config-rate_limit": "0"})
    assert response.status_code == 400
    assert client.get(_base(tenant) + "new/fax/").status_code == 404
    with tenant_context(tenant):
        assert Channel.objects.count() == 1


def test_rotating_the_secret_locks_out_the_old_token(
    tenant, admin, client_for, api_channel, deliver
):
    old = api_channel.secret
    assert client_for(admin).post(f"{_base(tenant)}{api_channel.pk}/rotate/").status_code == 302
    with tenant_context(tenant):
        api_channel.refresh_from_db()
    assert api_channel.secret != old
    assert deliver(api_channel, {"phone": "+79990001122"}, token=old).status_code == 403
    assert deliver(api_channel, {"phone": "+79990001122"}).status_code == 202


def test_deleting_a_channel_closes_its_endpoint(tenant, admin, client_for, api_channel, deliver):
    deliver(api_channel, {"phone": "+79990001122"})
    assert client_for(admin).post(f"{_base(tenant)}{api_channel.pk}/delete/").status_code == 302
    assert not ChannelRoute.objects.filter(token=api_channel.token).exists()
    assert deliver(api_channel, {"phone": "+79990001122"}).status_code == 404


def test_the_channel_page_counts_deliveries_and_shows_one_safely(
    tenant, admin, client_for, api_channel, deliver
):
    deliver(api_channel, {"phone": "+79990001122", "name": "<script>alert(1)</script>"})
    deliver(api_channel, body="<img src=x onerror=alert(1)>")
    page = client_for(admin).get(f"{_base(tenant)}{api_channel.pk}/").content.decode()
    assert 'data-testid="count-done"' in page
    assert page.count('data-testid="event-row"') == 2
    rejected = next(e for e in events_of(api_channel) if e.status == InboundEvent.Status.REJECTED)
    detail = client_for(admin).get(f"{_base(tenant)}{api_channel.pk}/events/{rejected.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    only_rejected = client_for(admin).get(f"{_base(tenant)}{api_channel.pk}/?status=rejected")
    assert only_rejected.content.decode().count('data-testid="event-row"') == 1


def test_channel_pages_are_for_settings_managers_only(
    tenant, other_tenant, admin, other_admin, manager, director, client_for, api_channel
):
    for member in (manager, director):
        assert client_for(member).get(_base(tenant)).status_code == 403
        assert client_for(member).get(f"{_base(tenant)}{api_channel.pk}/").status_code == 403
    # Another tenant's admin: neither our pages nor our channel under their tenant.
    assert client_for(other_admin).get(_base(tenant)).status_code == 404
    theirs = f"/{other_tenant.slug}/settings/channels/{api_channel.pk}/"
    assert client_for(other_admin).get(theirs).status_code == 404
