"""Processing reliability without a worker: bounded retries, replay, the sweeper, a broker
that is down. (The real worker on Redis is exercised in test_worker.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels import pipeline, services
from channels.adapters import RawDelivery
from channels.models import InboundEvent
from channels.tasks import events_sweep_all_task
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of

LEAD = {"name": "Олег", "phone": "+7 912 000-11-22"}


def _boom(event):
    raise RuntimeError("the CRM is broken today")


def test_a_delivery_that_keeps_failing_ends_failed_after_bounded_retries(
    tenant, api_channel, deliver, monkeypatch, settings
):
    settings.CHANNELS_RETRY_DELAY = 0.01
    monkeypatch.setattr(pipeline, "process", _boom)
    assert deliver(api_channel, LEAD).status_code == 202  # accepted: it is stored
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.FAILED
    assert event.attempts == services.MAX_ATTEMPTS
    assert "the CRM is broken today" in event.detail
    assert leads_of(tenant) == []
    # The others are not blocked.
    monkeypatch.undo()
    deliver(api_channel, {"email": "other@example.com"})
    assert len(leads_of(tenant)) == 1


def test_an_admin_replays_a_failed_delivery_once_the_cause_is_fixed(
    tenant,
    admin,
    api_channel,
    deliver,
    monkeypatch,
    settings,
    client_for,
    manager,
    django_capture_on_commit_callbacks,
):
    settings.CHANNELS_RETRY_DELAY = 0.01
    monkeypatch.setattr(pipeline, "process", _boom)
    deliver(api_channel, LEAD)
    monkeypatch.undo()
    (event,) = events_of(api_channel)
    url = f"/{tenant.slug}/settings/channels/{api_channel.pk}/events/{event.pk}/replay/"
    assert client_for(manager).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(admin).post(url).status_code == 302
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.DONE
    assert len(leads_of(tenant)) == 1
    # A processed delivery is not replayed (no second lead).
    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin).post(url)
    assert len(leads_of(tenant)) == 1


def test_a_lost_publish_is_recovered_by_the_sweeper(
    tenant, api_channel, deliver, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from channels import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(tasks.process_events_task, "apply_async", broker_down)
    monkeypatch.setattr(tasks.process_event_task, "apply_async", broker_down)
    assert deliver(api_channel, LEAD).status_code == 202
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.PENDING
    monkeypatch.undo()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Too early: the sweeper leaves a fresh delivery to its own task.
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        assert services.events_sweep() == 0
    later = timezone.now() + services.SWEEP_GRACE + timedelta(seconds=1)
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        assert services.events_sweep(now=later) == 1
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.DONE
    assert len(leads_of(tenant)) == 1
    with tenant_context(tenant):
        assert services.events_sweep(now=later + timedelta(hours=1)) == 0


def test_the_beat_sweeper_visits_every_tenant(tenant, other_tenant):
    assert events_sweep_all_task.apply().get() >= 2


def test_processing_twice_creates_nothing_twice(tenant, api_channel, deliver):
    deliver(api_channel, LEAD)
    (event,) = events_of(api_channel)
    # A redelivered task (worker lost, sweeper) finds the event done and does nothing.
    assert services.event_process(tenant_id=tenant.pk, event_id=event.pk) is None
    assert len(leads_of(tenant)) == 1
    assert events_of(api_channel)[0].attempts == 1


def test_a_delivery_killed_mid_task_too_often_is_given_up_visibly(tenant, api_channel):
    with tenant_context(tenant):
        event, _created = services.event_accept(
            channel=api_channel, raw=RawDelivery(body=b'{"phone": "+79120001122"}')
        )
        InboundEvent.objects.filter(pk=event.pk).update(attempts=services.MAX_ATTEMPTS)
    assert services.event_process(tenant_id=tenant.pk, event_id=event.pk) is None
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.FAILED
    assert leads_of(tenant) == []


def test_old_deliveries_that_need_nothing_more_are_purged(
    tenant, other_tenant, admin, api_channel, deliver, settings, monkeypatch
):
    settings.CHANNELS_EVENTS_KEEP_DAYS = 30
    deliver(api_channel, LEAD)
    deliver(api_channel, {"email": "not json"}, body=b"{broken")
    monkeypatch.setattr(pipeline, "process", _boom)
    deliver(api_channel, {"email": "fails@example.com"})
    monkeypatch.undo()
    with tenant_context(tenant):
        services.event_accept(  # stored, its task not run yet
            channel=api_channel, raw=RawDelivery(body=b'{"phone": "+79120009999"}')
        )
    statuses = sorted(e.status for e in events_of(api_channel))
    assert statuses == ["done", "failed", "pending", "rejected"]
    later = timezone.now() + timedelta(days=31)
    with tenant_context(tenant):
        assert services.events_purge(now=timezone.now()) == 0  # nothing is old yet
        assert services.events_purge(now=later) == 2
    # Pending and failed ones wait to be handled; the lead made from the purged one stays.
    assert sorted(e.status for e in events_of(api_channel)) == ["failed", "pending"]
    assert len(leads_of(tenant)) == 1
    settings.CHANNELS_EVENTS_KEEP_DAYS = 0
    with tenant_context(tenant):
        assert services.events_purge(now=later + timedelta(days=365)) == 0


def test_the_beat_purge_visits_every_tenant(tenant, other_tenant):
    from channels.tasks import events_purge_all_task

    assert events_purge_all_task.apply().get() >= 2


@pytest.mark.django_db(transaction=True)
def test_a_stored_delivery_whose_processing_fails_is_answered_2xx_and_swept_soon(
    tenant, api_channel, monkeypatch
):
    """Without a broker the processing runs in the request, after the delivery committed:
    when it fails (SQLite locked too long), the answer still says stored, and the claimed
    delivery is due for the sweeper's next round, not only after its lease."""

    def locked(tenant, ids):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "_process_batch", locked)
    url = reverse("inbound", kwargs={"token": api_channel.token})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_channel.secret}")
    response = client.post(url, data=json.dumps(LEAD), content_type="application/json")
    assert response.status_code == 202
    (event,) = events_of(api_channel)
    assert (event.status, event.attempts) == (InboundEvent.Status.PENDING, 1)
    assert event.next_attempt_at <= timezone.now()
    monkeypatch.undo()
    with tenant_context(tenant):  # a real transaction: the sweeper's queue runs on commit
        assert services.events_sweep() == 1
    (event,) = events_of(api_channel)
    assert event.status == InboundEvent.Status.DONE
    assert len(leads_of(tenant)) == 1
    # The provider's retry of the same delivery creates nothing new.
    again = client.post(url, data=json.dumps(LEAD), content_type="application/json")
    assert again.status_code == 200
    assert len(events_of(api_channel)) == 1
    assert len(leads_of(tenant)) == 1
