"""Batched processing: the endpoint wakes one drain per tenant, which processes the new
deliveries in batches; what fails is retried alone; a drain whose process died finishes
what it had claimed. Plus what a delivery costs at the endpoint."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels import pipeline, services, tasks
from channels.adapters import RawDelivery
from channels.models import InboundEvent
from contacts.blocklist import blocked_sender_add
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of

Status = InboundEvent.Status


def _store(channel, n: int, **extra) -> InboundEvent:
    """A delivery stored as the endpoint stores it, nothing queued."""
    body = json.dumps({"name": f"Клиент {n}", "phone": f"+7912000{n:04d}", **extra}).encode()
    raw = RawDelivery(body=body, content_type="application/json")
    with tenant_context(channel.tenant):
        event, created = services.event_accept(channel=channel, raw=raw)
    assert created
    return event


@pytest.fixture
def unqueued(monkeypatch):
    """Deliveries are stored but no drain is woken (the test drains by hand)."""
    monkeypatch.setattr(services, "_wake", lambda tenant_id: None)


def test_a_drain_processes_every_new_delivery_in_batches(
    tenant, api_channel, unqueued, monkeypatch
):
    monkeypatch.setattr(services, "BATCH", 2)
    for n in range(5):
        _store(api_channel, n)
    drained = services.events_drain(tenant_id=tenant.pk, claim="task-1")
    assert (drained.retries, drained.more) == ([], False)
    events = events_of(api_channel)
    assert [(e.status, e.attempts, e.claimed_by) for e in events] == [("done", 1, "task-1")] * 5
    assert sorted(lead.phone_e164 for lead in leads_of(tenant)) == [
        f"+7912000{n:04d}" for n in range(5)
    ]
    # Nothing is left for the next drain.
    assert services.events_drain(tenant_id=tenant.pk, claim="task-2").retries == []
    assert len(leads_of(tenant)) == 5


def test_one_failing_delivery_is_retried_alone_and_the_batch_goes_on(
    tenant, api_channel, unqueued, monkeypatch, settings
):
    settings.CHANNELS_RETRY_DELAY = 0.01
    process = pipeline.process

    def flaky(event):
        if "broken" in bytes(event.body).decode():
            raise RuntimeError("the CRM is broken today")
        process(event)

    monkeypatch.setattr(pipeline, "process", flaky)
    _store(api_channel, 1)
    bad = _store(api_channel, 2, message="broken")
    _store(api_channel, 3)
    drained = services.events_drain(tenant_id=tenant.pk, claim="task-1")
    assert [event_id for event_id, _delay in drained.retries] == [bad.pk]
    statuses = [(e.status, e.attempts) for e in events_of(api_channel)]
    assert statuses == [("done", 1), ("pending", 1), ("done", 1)]
    assert "the CRM is broken today" in events_of(api_channel)[1].detail
    assert len(leads_of(tenant)) == 2
    # Its retry runs alone, through the one-event task.
    monkeypatch.setattr(pipeline, "process", process)
    assert services.event_process(tenant_id=tenant.pk, event_id=bad.pk) is None
    assert [(e.status, e.attempts) for e in events_of(api_channel)][1] == ("done", 2)
    assert len(leads_of(tenant)) == 3


def test_a_drain_delivered_again_finishes_what_it_had_claimed(tenant, api_channel, unqueued):
    first, second = _store(api_channel, 1), _store(api_channel, 2)
    # The first run claimed both, then its process was killed before it committed its work.
    with tenant_context(tenant):
        InboundEvent.objects.filter(pk__in=[first.pk, second.pk]).update(
            attempts=1, claimed_by="task-1"
        )
    # Another drain leaves them alone: they are not new, and not its own.
    assert services.events_drain(tenant_id=tenant.pk, claim="task-2").retries == []
    assert [e.status for e in events_of(api_channel)] == ["pending", "pending"]
    # The same task, delivered again, processes them (each alone: a second attempt).
    services.events_drain(tenant_id=tenant.pk, claim="task-1")
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("done", 2)] * 2
    assert len(leads_of(tenant)) == 2


def test_a_burst_wakes_one_drain_per_tenant_until_it_starts(
    tenant, other_tenant, api_channel, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued: list[dict] = []
    monkeypatch.setattr(tasks.process_events_task, "apply_async", lambda **kw: queued.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            _store(api_channel, n)
    assert queued == [{"kwargs": {"tenant_id": tenant.pk}, "retry": False}]
    # Another tenant has its own.
    with django_capture_on_commit_callbacks(execute=True):
        services._wake(other_tenant.pk)
    assert queued[-1]["kwargs"] == {"tenant_id": other_tenant.pk}
    # Once the drain starts, the next delivery queues the next drain.
    services.forget_wake(tenant.pk)
    with django_capture_on_commit_callbacks(execute=True):
        _store(api_channel, 9)
    assert [q["kwargs"]["tenant_id"] for q in queued] == [tenant.pk, other_tenant.pk, tenant.pk]


def test_the_blocklist_is_read_again_for_every_drain(tenant, admin, api_channel, unqueued):
    _store(api_channel, 1)
    services.events_drain(tenant_id=tenant.pk, claim="task-1")
    with tenant_context(tenant):
        blocked_sender_add(actor=admin, kind="phone", value="+79120000002")
    _store(api_channel, 2)
    services.events_drain(tenant_id=tenant.pk, claim="task-2")
    assert [e.status for e in events_of(api_channel)] == ["done", "spam"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_costs_a_handful_of_statements_and_no_session(tenant, api_channel, unqueued):
    url = reverse("inbound", kwargs={"token": api_channel.token})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_channel.secret}")
    body = json.dumps({"phone": "+79120001122"})
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 202
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies
    # The route (then kept per process), the transaction with the tenant's RLS setting, the
    # channel and one INSERT … ON CONFLICT.
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) <= 6, statements
    assert any("ON CONFLICT DO NOTHING" in sql for sql in statements)
    # The same delivery again is answered as a duplicate, still without a look-up first.
    again = client.post(url, body, content_type="application/json")
    assert again.status_code == 200
    assert len(events_of(api_channel)) == 1


def test_a_plain_forms_thank_you_page_keeps_the_pages_security_headers(tenant, admin, deliver):
    from channels.services import channel_create

    with tenant_context(tenant):
        form = channel_create(actor=admin, kind="web_form", name="Форма на сайте")
    response = deliver(
        form,
        body="name=Анна&phone=%2B79120001122",
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    assert response["X-Frame-Options"] == "DENY"
    assert "sessionid" not in response.cookies


def test_twins_in_one_batch_make_one_lead_and_a_known_person_is_attached(
    tenant, api_channel, unqueued
):
    _store(api_channel, 1)
    services.events_drain(tenant_id=tenant.pk, claim="task-1")
    # The same person again and a new one, twice each, all in one batch.
    _store(api_channel, 1, message="again")
    _store(api_channel, 2)
    _store(api_channel, 2, message="once more")
    services.events_drain(tenant_id=tenant.pk, claim="task-2")
    outcomes = [(e.status, e.outcome) for e in events_of(api_channel)]
    assert outcomes == [
        ("done", "created"),
        ("done", "attached"),
        ("done", "created"),
        ("done", "attached"),
    ]
    assert sorted(lead.phone_e164 for lead in leads_of(tenant)) == ["+79120000001", "+79120000002"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_the_same_person_at_once_make_one_lead(tenant, api_channel, unqueued):
    import threading

    from django.db import connections

    first, second = _store(api_channel, 7), _store(api_channel, 7, message="twice")
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def drain(event_id: int) -> None:
        try:
            barrier.wait()
            services._process_batch(tenant, [event_id])
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain, args=(pk,)) for pk in (first.pk, second.pk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(e.outcome for e in events_of(api_channel)) == ["attached", "created"]
    assert len(leads_of(tenant)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claimed_delivery_locked_for_a_moment_is_still_processed(tenant, api_channel, unqueued):
    import threading

    from django.db import connections, transaction

    event = _store(api_channel, 8)
    (claimed,) = services._claim(tenant, "task-1")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another drain's claim query passing over the row, say
        try:
            with tenant_context(tenant), transaction.atomic():
                InboundEvent.objects.select_for_update().filter(pk=claimed).first()
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=30)
    threading.Timer(0.5, release.set).start()
    services._process_batch(tenant, [claimed])
    holder.join(timeout=30)
    assert claimed == event.pk
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("done", 1)]


def test_a_refusal_inside_a_batch_ends_rejected_through_a_retry_alone(
    tenant, api_channel, deliver, settings
):
    from django.utils import translation
    from django.utils.translation import gettext

    from leads.models import LeadStatus

    settings.CHANNELS_RETRY_DELAY = 0.01
    with tenant_context(tenant):  # a tenant whose "new" stage lost its default status
        LeadStatus.objects.filter(state="new").update(is_default=False)
    assert deliver(api_channel, {"name": "Олег", "phone": "+79120004455"}).status_code == 202
    (event,) = events_of(api_channel)
    # Services inside a batch make no savepoints of their own: the refusal spoils the
    # delivery's savepoint, and its retry (alone, with savepoints) records the reason.
    assert (event.status, event.attempts) == ("rejected", 2)
    with translation.override(tenant.language):  # refusals read in the workspace's language
        assert event.detail == gettext("No status is set up for this stage: ask an administrator.")
    assert leads_of(tenant) == []


def test_a_drain_with_more_to_do_hands_over_once_at_the_back(
    tenant, api_channel, unqueued, monkeypatch
):
    """A busy tenant keeps at most one drain waiting: the hand-over and a new delivery's
    wake-up share the de-duplication, so other tenants' drains are not crowded out."""
    monkeypatch.setattr(services, "BATCH", 2)
    monkeypatch.setattr(services, "DRAIN_SECONDS", 0.0)  # hand over after one batch
    for n in range(5):
        _store(api_channel, n)
    queued: list[dict] = []
    monkeypatch.setattr(tasks.process_events_task, "apply_async", lambda **kw: queued.append(kw))
    tasks.process_events_task.apply(kwargs={"tenant_id": tenant.pk}, task_id="drain-1")
    assert queued == []  # eager (no broker): it went on in place instead of recursing
    assert [e.status for e in events_of(api_channel)] == ["done"] * 5
    for n in range(5, 10):
        _store(api_channel, n)
    services.forget_wake(tenant.pk)
    services.wake_now(tenant.pk)  # a delivery's wake-up: one drain queued
    services.wake_now(tenant.pk)  # the running drain's hand-over: one is waiting already
    assert [q["kwargs"] for q in queued] == [{"tenant_id": tenant.pk}]
