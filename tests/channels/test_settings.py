"""Channel settings pages over HTTP: set up, see deliveries, rotate, delete; rights."""

from __future__ import annotations

from channels import pipeline, tasks
from channels.models import Channel, ChannelRoute, InboundEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of


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


def _problem_deliveries(api_channel, deliver, monkeypatch, settings) -> dict[str, InboundEvent]:
    """A failed delivery (processing kept failing), a done one and a waiting one (stored
    while the broker was down)."""

    def boom(event):
        raise RuntimeError("the CRM is broken today")

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis is down")

    settings.CHANNELS_RETRY_DELAY = 0.01
    monkeypatch.setattr(pipeline, "process", boom)
    deliver(api_channel, {"phone": "+79990001111"})
    monkeypatch.undo()
    deliver(api_channel, {"phone": "+79990003333"})
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.process_events_task, "apply_async", broker_down)
    deliver(api_channel, {"phone": "+79990002222"})
    monkeypatch.undo()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    failed, done, waiting = events_of(api_channel)
    assert (failed.status, done.status, waiting.status) == ("failed", "done", "pending")
    return {"failed": failed, "waiting": waiting, "done": done}


def _replay_url(tenant, event: InboundEvent) -> str:
    return f"{_base(tenant)}{event.channel_id}/events/{event.pk}/replay/"


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_channel_page_lists_waiting_and_failed_deliveries_to_process_again(
    tenant,
    admin,
    client_for,
    api_channel,
    deliver,
    monkeypatch,
    settings,
    django_capture_on_commit_callbacks,
):
    events = _problem_deliveries(api_channel, deliver, monkeypatch, settings)
    client = client_for(admin)
    page = client.get(f"{_base(tenant)}{api_channel.pk}/").content.decode()
    assert page.count('data-testid="attention-row"') == 2
    assert f'id="event-{events["failed"].pk}"' in page
    assert f'id="event-{events["waiting"].pk}"' in page
    assert f'id="event-{events["done"].pk}"' not in page
    assert page.count('data-testid="attention-replay"') == 2
    assert "the CRM is broken today" in page

    # One click with htmx: the failed one is queued and its row answers in place.
    with django_capture_on_commit_callbacks(execute=True):
        row = client.post(_replay_url(tenant, events["failed"]), {"back": "channel"}, **HTMX)
    assert row.status_code == 200
    text = row.content.decode()
    assert text.startswith(f'<tr id="event-{events["failed"].pk}"')
    assert 'data-testid="replay-queued"' in text
    assert 'data-testid="attention-replay"' not in text
    # Without JavaScript: the waiting one, and back to the channel's page.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_replay_url(tenant, events["waiting"]), {"back": "channel"})
    assert response.status_code == 302
    assert response["Location"] == f"{_base(tenant)}{api_channel.pk}/"

    assert [e.status for e in events_of(api_channel)] == ["done", "done", "done"]
    phones = sorted(lead.phone_e164 for lead in leads_of(tenant))
    assert phones == ["+79990001111", "+79990002222", "+79990003333"]
    page = client.get(f"{_base(tenant)}{api_channel.pk}/").content.decode()
    assert 'data-testid="attention-row"' not in page


def test_a_refused_replay_answers_in_its_row_and_changes_nothing(
    tenant,
    admin,
    client_for,
    api_channel,
    deliver,
    monkeypatch,
    settings,
    django_capture_on_commit_callbacks,
):
    done = _problem_deliveries(api_channel, deliver, monkeypatch, settings)["done"]
    client = client_for(admin, "en")
    with django_capture_on_commit_callbacks(execute=True):
        row = client.post(_replay_url(tenant, done), {"back": "channel"}, **HTMX)
    assert row.status_code == 409
    text = row.content.decode()
    assert text.startswith(f'<tr id="event-{done.pk}"')
    assert 'data-testid="replay-error"' in text
    assert "Only waiting, failed or rejected deliveries" in text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_replay_url(tenant, done))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/events/{done.pk}/")
    assert [(e.status, e.attempts) for e in events_of(api_channel)][1] == ("done", 1)
    assert len(leads_of(tenant)) == 1  # the done one's, not twice


def test_only_settings_managers_replay_and_only_their_own_workspaces_deliveries(
    tenant,
    manager,
    director,
    other_admin,
    client_for,
    api_channel,
    deliver,
    monkeypatch,
    settings,
    django_capture_on_commit_callbacks,
):
    events = _problem_deliveries(api_channel, deliver, monkeypatch, settings)
    for member in (manager, director):
        assert client_for(member).get(f"{_base(tenant)}{api_channel.pk}/").status_code == 403
        for event in (events["failed"], events["waiting"]):
            with django_capture_on_commit_callbacks(execute=True):
                response = client_for(member).post(
                    _replay_url(tenant, event), {"back": "channel"}, **HTMX
                )
            assert response.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(other_admin).post(_replay_url(tenant, events["failed"]))
    assert response.status_code == 404
    assert [e.status for e in events_of(api_channel)] == ["failed", "done", "pending"]
    assert len(leads_of(tenant)) == 1
