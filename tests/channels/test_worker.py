"""The inbound pipeline with everything real: gunicorn serving the endpoint, a Celery worker
(prefork, 2 processes) on Redis, PostgreSQL with row-level security.

The module starts a private redis-server on a free loopback port (so a test can stop and
restart it), the web server and the worker as subprocesses on the test database
(tests/settings.py with TEST_LIVE_STACK=1, the worker's app is tests/channels/worker_app.py,
which adds the faults a delivery asks for), and stops each by its own PID. The tests post
deliveries over HTTP and watch the database; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from channels import services
from channels.adapters import RawDelivery
from channels.models import Channel, InboundEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of
from tests.channels.livestack import (
    PROCESS_TASK,
    SWEEP_ALL_TASK,
    Status,
    all_finished,
    children_of,
    inquiry_records,
    lead,
    live_fixture,
    post,
    stack_fixture,
    statuses,
)
from tests.processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

stack = stack_fixture()
live = live_fixture()


def test_the_same_delivery_twice_or_twenty_times_at_once_makes_one_lead(live, tenant, api_channel):
    assert post(live, api_channel, lead(1))[0] == 202
    assert post(live, api_channel, lead(1)) == (
        200,
        {"id": events_of(api_channel)[0].pk, "status": "accepted", "duplicate": True},
    )

    barrier = threading.Barrier(20, timeout=30)
    answers: list[int] = []

    def send() -> None:
        barrier.wait()
        answers.append(post(live, api_channel, lead(2))[0])

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200] * 19 + [202]

    wait_for(all_finished(api_channel, 2), "both deliveries to be processed")
    live.drain()
    events = events_of(api_channel)
    assert [(e.status, e.outcome, e.attempts) for e in events] == [("done", "created", 1)] * 2
    leads = leads_of(tenant)
    assert len(leads) == 2
    assert {e.lead_id for e in events} == {lead.pk for lead in leads}
    assert inquiry_records(tenant) == 2


def _stored_but_not_queued(channel: Channel, payload: dict[str, Any], monkeypatch) -> int:
    """A delivery committed by a process that died before it could queue it."""
    monkeypatch.setattr(services, "_wake", lambda tenant_id: None)
    raw = RawDelivery(body=json.dumps(payload).encode(), content_type="application/json")
    with tenant_context(channel.tenant):
        event, created = services.event_accept(channel=channel, raw=raw)
    monkeypatch.undo()
    assert created
    return event.pk


def test_the_same_event_queued_twenty_times_is_processed_once(
    live, tenant, api_channel, monkeypatch
):
    event_id = _stored_but_not_queued(api_channel, lead(3), monkeypatch)
    for _ in range(20):  # redeliveries, sweeper runs and late publishes all at once
        live.send(PROCESS_TASK, tenant_id=tenant.pk, event_id=event_id)
    wait_for(all_finished(api_channel, 1), "the delivery to be processed")
    live.drain()
    (event,) = events_of(api_channel)
    assert event.status == Status.DONE
    assert 1 <= event.attempts <= services.MAX_ATTEMPTS
    assert len(leads_of(tenant)) == 1
    assert inquiry_records(tenant) == 1


def test_a_pool_process_killed_in_the_middle_of_a_task_loses_and_duplicates_nothing(
    live, tenant, api_channel
):
    assert post(live, api_channel, lead(4, test_fault="slow-once"))[0] == 202
    (event,) = events_of(api_channel)
    marker = live.folder / f"slow-{event.pk}"
    wait_for(marker.exists, "the slow attempt to reach its sleep")
    victim = int(marker.read_text())
    # Only our worker's own pool process, by its PID.
    assert victim in children_of(live.worker.pid)
    os.kill(victim, signal.SIGKILL)

    wait_for(all_finished(api_channel, 1), "the delivery to be processed again")
    live.drain()
    (event,) = events_of(api_channel)
    assert (event.status, event.outcome, event.attempts) == ("done", "created", 2)
    (created,) = leads_of(tenant)
    assert event.lead_id == created.pk
    assert inquiry_records(tenant) == 1
    assert live.worker.poll() is None  # the worker replaced its pool process


def test_a_duplicate_of_a_delivery_in_progress_does_not_hold_a_worker_process(
    live, tenant, api_channel
):
    assert post(live, api_channel, lead(15, test_fault="slow-once"))[0] == 202
    slow = events_of(api_channel)[0]
    marker = live.folder / f"slow-{slow.pk}"
    wait_for(marker.exists, "the slow attempt to reach its sleep")
    # A duplicate message (a sweeper run, a redelivery) while the first attempt works on it;
    # then an ordinary delivery, which the second pool process must be free to take.
    live.send(PROCESS_TASK, tenant_id=tenant.pk, event_id=slow.pk)
    assert post(live, api_channel, lead(16))[0] == 202
    wait_for(lambda: statuses(api_channel)[1:] == ["done"], "the other delivery", seconds=20)
    slow = events_of(api_channel)[0]
    assert (slow.status, slow.attempts) == ("pending", 1)  # the duplicate left it alone

    victim = int(marker.read_text())
    assert victim in children_of(live.worker.pid)
    os.kill(victim, signal.SIGKILL)  # end the sleep; the message is delivered again
    wait_for(all_finished(api_channel, 2), "the slow delivery to be processed")
    live.drain()
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("done", 2), ("done", 1)]
    assert len(leads_of(tenant)) == 2


def test_deliveries_made_while_redis_is_down_are_accepted_and_processed_once_it_is_back(
    live, tenant, api_channel
):
    live.redis.stop()
    try:
        for n in range(5, 8):
            began = time.monotonic()
            assert post(live, api_channel, lead(n))[0] == 202
            # Answered at once: the failed publish does not wait for the broker.
            assert time.monotonic() - began < 3
        assert statuses(api_channel) == ["pending"] * 3
    finally:
        live.redis.start()  # empty, as after a restart without persistence

    # A new delivery wakes the worker as soon as the web and the worker reconnect; its drain
    # takes the deliveries left waiting as well (they were never attempted).
    assert post(live, api_channel, lead(8))[0] == 202
    wait_for(all_finished(api_channel, 4), "the worker to reconnect and drain", seconds=90)
    live.drain()
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("done", 1)] * 4
    assert len(leads_of(tenant)) == 4
    assert inquiry_records(tenant) == 4


def test_a_crash_between_commit_and_enqueue_is_recovered_by_the_sweeper(
    live, tenant, api_channel, monkeypatch
):
    event_id = _stored_but_not_queued(api_channel, lead(9), monkeypatch)
    live.send(SWEEP_ALL_TASK)
    live.drain()
    # Not yet due: a delivery is given SWEEP_GRACE to be picked up normally.
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("pending", 0)]

    with tenant_context(tenant):
        InboundEvent.objects.filter(pk=event_id).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
    live.send(SWEEP_ALL_TASK)
    wait_for(all_finished(api_channel, 1), "the sweeper to queue the delivery")
    # The lost publish turns up after all, and the sweeper runs again: nothing new.
    live.send(PROCESS_TASK, tenant_id=tenant.pk, event_id=event_id)
    live.send(SWEEP_ALL_TASK)
    live.drain()
    (event,) = events_of(api_channel)
    assert (event.status, event.attempts) == ("done", 1)
    assert len(leads_of(tenant)) == 1


def test_a_delivery_that_always_fails_ends_failed_without_blocking_the_others(
    live, tenant, api_channel
):
    assert post(live, api_channel, lead(10, test_fault="fail"))[0] == 202
    for n in range(11, 14):
        assert post(live, api_channel, lead(n))[0] == 202
    wait_for(all_finished(api_channel, 4), "every delivery to finish")
    live.drain()
    failing, *others = events_of(api_channel)
    assert failing.status == Status.FAILED
    assert failing.attempts == services.MAX_ATTEMPTS
    assert "always fails" in failing.detail
    assert failing.lead_id is None
    assert [e.status for e in others] == ["done"] * 3
    assert len(leads_of(tenant)) == 3


def test_a_bad_signature_is_refused_and_a_malformed_delivery_is_rejected_with_its_reason(
    live, tenant, api_channel
):
    assert post(live, api_channel, lead(14), token="not-the-token")[0] == 403
    assert events_of(api_channel) == []

    status, answer = post(live, api_channel, b'{"name": "Oleg", ')
    assert (status, answer["status"]) == (400, "rejected")
    status, answer = post(live, api_channel, {"name": "Oleg"})
    assert (status, answer["status"]) == (400, "rejected")
    live.drain()
    events = events_of(api_channel)
    assert [(e.status, e.attempts) for e in events] == [("rejected", 0)] * 2
    assert all(e.detail for e in events)
    assert events[0].detail != events[1].detail
    assert leads_of(tenant) == []


def test_worker_processes_keep_their_database_connection_between_tasks(live):
    names = [f"backend-{uuid.uuid4().hex}" for _ in range(6)]
    for name in names:
        live.send("tests.record_backend_pid", name=name)
    live.drain()
    backends = {(live.folder / name).read_text() for name in names}
    assert 1 <= len(backends) <= 2  # one connection per pool process, not one per task


def test_a_whatsapp_batch_and_a_killed_worker_lose_and_duplicate_nothing(live, tenant, admin):
    from channels.adapters.whatsapp import signature_of
    from channels.services import channel_create
    from crm.secrets import seal
    from tests.channels.test_whatsapp import APP_SECRET, notification, status, text_message

    with tenant_context(tenant):
        channel = channel_create(
            actor=admin, kind="whatsapp", name="WhatsApp", config={"app_secret": seal(APP_SECRET)}
        )

    def signed(payload: dict[str, Any]) -> int:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            live.web + reverse("inbound", kwargs={"token": channel.token}),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature_of(APP_SECRET, body),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status

    batch = notification(
        [text_message("wamid.W1", "Первый"), text_message("wamid.W2", sender="79160000002")],
        contacts=[],
        statuses=[status("wamid.OUT", "read")],
    )
    assert signed(batch) == 200
    # A single message whose first attempt is killed half-way (the worker's test fault).
    slow = notification([text_message("wamid.W3", sender="79160000003")])
    assert signed({**slow, "test_fault": "slow-once"}) == 200
    marker_event = events_of(channel)[-1]
    marker = live.folder / f"slow-{marker_event.pk}"
    wait_for(marker.exists, "the slow attempt to reach its sleep")
    victim = int(marker.read_text())
    assert victim in children_of(live.worker.pid)
    os.kill(victim, signal.SIGKILL)

    wait_for(all_finished(channel, 4), "every message and status to be processed")
    assert signed(batch) == 200  # Meta delivers the batch again: nothing new
    live.drain()
    events = events_of(channel)
    assert [(e.key, e.status) for e in events] == [
        ("wamid:wamid.W1", "done"),
        ("wamid:wamid.W2", "done"),
        ("status:wamid.OUT:read", "ignored"),
        ("wamid:wamid.W3", "done"),
    ]
    assert events[-1].attempts == 2
    assert sorted(lead.phone_e164 for lead in leads_of(tenant)) == [
        "+79160000002",
        "+79160000003",
        "+79991234567",
    ]
    assert inquiry_records(tenant) == 3


def test_vk_events_over_http_are_answered_ok_and_processed_once(live, tenant, admin):
    from channels.services import channel_create
    from crm.secrets import seal
    from tests.channels.test_vk import GROUP_ID, SECRET_KEY, message_new

    with tenant_context(tenant):
        channel = channel_create(
            actor=admin,
            kind="vk",
            name="VK",
            config={
                "group_id": GROUP_ID,
                "confirmation": "1a2b3c4d",
                "secret_key": seal(SECRET_KEY),
            },
        )

    def vk(payload: dict[str, Any]) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            live.web + reverse("inbound", kwargs={"token": channel.token}),
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    assert vk({"type": "confirmation", "group_id": GROUP_ID}) == (200, b"1a2b3c4d")
    assert vk(message_new("e-1")) == (200, b"ok")
    assert vk(message_new("e-1")) == (200, b"ok")  # VK retries: the same event_id
    assert vk(message_new("e-2", text="Ещё", message_id=2000)) == (200, b"ok")
    assert vk(message_new("e-3", secret="wrong"))[0] == 403
    wait_for(all_finished(channel, 2), "both events to be processed")
    live.drain()
    assert [(e.key, e.status) for e in events_of(channel)] == [
        ("event:e-1", "done"),
        ("event:e-2", "done"),
    ]
    (created,) = leads_of(tenant)
    assert created.messenger_id.startswith("id")
    assert inquiry_records(tenant) == 2


def test_the_worker_scores_a_new_lead_and_rescores_it_on_each_event(live, tenant, api_channel):
    from leads.models import Lead, ScoringRule, ScoringSettings

    with tenant_context(tenant):
        ScoringSettings.objects.create(tenant=tenant, hot_from=30, warm_from=10)
        ScoringRule.objects.create(
            tenant=tenant, name="Via API", subject="source", values=["api"], points=10
        )
        ScoringRule.objects.create(
            tenant=tenant, name="Demo", subject="event", values=["demo_requested"], points=25
        )

    def scored() -> tuple[int, str] | None:
        with tenant_context(tenant):
            found = Lead.objects.filter(phone_e164="+79120004141").first()
            return (found.score, found.temperature) if found and found.scored_at else None

    assert post(live, api_channel, lead(41))[0] == 202
    wait_for(lambda: scored() == (10, "warm"), "the worker to score the new lead")
    event = {"event": "demo_requested", "phone": "+7 912 000-41-41"}
    assert post(live, api_channel, event, path="events")[0] == 202
    wait_for(lambda: scored() == (35, "hot"), "the worker to rescore the lead on its event")
    live.drain()
