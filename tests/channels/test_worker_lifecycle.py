"""The inbound pipeline through a worker's life: the whole worker killed mid-batch, a warm
shutdown during a deploy, Redis restarted empty with deliveries queued, a task running
longer than the broker's visibility timeout (issue 19).

The stack of tests/channels/livestack.py with a visibility timeout of VISIBILITY seconds
(the broker hands an unacknowledged message out again that soon) and the `hold` fault of
tests/channels/faults_lifecycle.py (a delivery's first attempt writes its lead and waits,
uncommitted, until the test opens its gate). Every test ends with the same invariant
(`assert_each_delivery_once`): every delivery the endpoint answered 2xx is stored once and
ended processed, with exactly one lead each, no lead, contact or inquiry record besides.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels.models import Channel, InboundEvent
from channels.services import channel_create
from contacts.models import Contact
from crm.models import Membership, Tenant
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of
from tests.channels.livestack import (
    SWEEP_ALL_TASK,
    Stack,
    Status,
    all_finished,
    children_of,
    inquiry_records,
    lead,
    live_fixture,
    post,
    stack_fixture,
    start_worker,
    statuses,
    stop,
)
from tests.processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VISIBILITY = 5
stack = stack_fixture(
    TEST_VISIBILITY_TIMEOUT=str(VISIBILITY),
    TEST_WORKER_FAULT_MODULES="tests.channels.faults_lifecycle",
)
live = live_fixture()


@pytest.fixture
def gate(live: Stack) -> Iterator[str]:
    """The name of this test's gate; opened at the end (a held attempt goes on), before the
    stack is drained."""
    name = f"gate-{uuid.uuid4().hex[:8]}"
    yield name
    (live.folder / name).touch()


def held(n: int, gate: str) -> dict[str, Any]:
    return lead(n, test_fault="hold", test_gate=gate)


def holding(live: Stack) -> int:
    """How many attempts hold their batch (the `hold` fault's markers)."""
    return len(list(live.folder.glob("held-*")))


def open_gate(live: Stack, gate: str) -> None:
    (live.folder / gate).touch()


@pytest.fixture(autouse=True)
def _no_markers(live: Stack) -> Iterator[None]:
    yield
    for marker in live.folder.glob("held-*"):
        marker.unlink()


def restart_worker(live: Stack) -> None:
    """Start a worker again on the stack's queue (the deploy's new one) and wait for it."""
    (live.folder / "ready").unlink(missing_ok=True)
    live.worker = start_worker(live.env, live.queue, live.folder / "worker.log")
    wait_for((live.folder / "ready").exists, "the new worker to start", seconds=60)


def make_due(*channels: Channel) -> None:
    """Time passes: the pending deliveries' leases and grace run out (LEASE, SWEEP_GRACE)."""
    for channel in channels:
        with tenant_context(channel.tenant):
            InboundEvent.objects.filter(channel=channel, status=Status.PENDING).update(
                next_attempt_at=timezone.now() - timedelta(seconds=1)
            )


def api_channel_of(tenant: Tenant, admin: Membership) -> Channel:
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="api", name="Сайт")


def assert_each_delivery_once(channel: Channel, answered: int, *, most_attempts: int) -> None:
    """Every delivery answered 2xx is stored once and processed (a lead created), one lead
    each and no other: no lead, contact or inquiry record without its delivery."""
    events = events_of(channel)
    assert len(events) == answered
    assert [(e.status, e.outcome) for e in events] == [("done", "created")] * answered
    assert all(1 <= e.attempts <= most_attempts for e in events), [e.attempts for e in events]
    leads = leads_of(channel.tenant)
    assert sorted(e.lead_id for e in events) == [lead.pk for lead in leads]
    assert inquiry_records(channel.tenant) == answered
    with tenant_context(channel.tenant):
        contacts = set(Contact.objects.values_list("pk", flat=True))
    assert contacts == {e.contact_id for e in events if e.contact_id}


@pytest.mark.parametrize("first", ["sweeper", "broker"])
def test_the_whole_worker_killed_mid_batch_is_finished_once_by_the_sweeper_or_the_broker(
    live, tenant, api_channel, gate, first
):
    assert post(live, api_channel, held(1, gate))[0] == 202
    wait_for(lambda: holding(live) == 1, "the first drain to hold its batch")
    for n in range(2, 7):
        assert post(live, api_channel, held(n, gate))[0] == 202
    wait_for(lambda: holding(live) == 2, "the second drain to hold its batch")
    claimed = {e.pk for e in events_of(api_channel) if e.attempts == 1}
    assert len(claimed) >= 2  # the rest wait for a drain queued behind the busy ones
    assert statuses(api_channel) == ["pending"] * 6

    # SIGKILL to the worker's main process, then to its pool processes (by their PIDs):
    # nothing acknowledges, nothing commits, nothing is handed back.
    main, pool = live.worker.pid, children_of(live.worker.pid)
    assert len(pool) == 2
    os.kill(main, signal.SIGKILL)
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    live.worker.wait(timeout=10)
    assert leads_of(tenant) == []  # the held batches were not committed
    assert live.redis.client().hlen("unacked") >= 2  # the broker still owes both drains

    open_gate(live, gate)
    restart_worker(live)
    if first == "sweeper":
        # The claims' leases run out (LEASE, far below the production visibility timeout)
        # and the sweeper queues them; the killed drains come back from the broker after
        # VISIBILITY seconds and find nothing left to do.
        make_due(api_channel)
        live.send(SWEEP_ALL_TASK)
        wait_for(all_finished(api_channel, 6), "every delivery to be finished", seconds=40)
    else:
        # The broker hands the killed drains out again first; each finishes its own claims.
        wait_for(all_finished(api_channel, 6), "every delivery to be finished", seconds=40)
        assert all(e.attempts == 2 for e in events_of(api_channel) if e.pk in claimed)
        make_due(api_channel)
        live.send(SWEEP_ALL_TASK)  # the sweeper, late, finds nothing pending
    live.drain(seconds=30)
    # A claim racing another one between its two transactions may count one more attempt.
    assert_each_delivery_once(api_channel, 6, most_attempts=3)
    assert all(e.attempts >= 2 for e in events_of(api_channel) if e.pk in claimed)


def test_a_warm_shutdown_during_a_deploy_processes_everything_once(live, tenant, api_channel, gate):
    assert post(live, api_channel, held(11, gate))[0] == 202
    wait_for(lambda: holding(live) == 1, "the first drain to hold its batch")
    for n in range(12, 15):
        assert post(live, api_channel, held(n, gate))[0] == 202
    wait_for(lambda: holding(live) == 2, "the second drain to hold its batch")

    old = live.worker
    old.send_signal(signal.SIGTERM)  # the deploy stops the worker: a warm shutdown
    time.sleep(1)
    assert old.poll() is None  # it waits for the tasks in progress
    # Deliveries keep coming during the deploy: stored and answered.
    for n in range(15, 18):
        assert post(live, api_channel, lead(n))[0] == 202
    open_gate(live, gate)
    assert old.wait(timeout=30) == 0
    done = [e for e in events_of(api_channel) if e.status == Status.DONE]
    assert len(done) >= 2  # the batches in progress were finished, not abandoned

    restart_worker(live)
    wait_for(all_finished(api_channel, 7), "the new worker to process the rest", seconds=40)
    live.drain(seconds=30)
    assert_each_delivery_once(api_channel, 7, most_attempts=1)  # none attempted twice


def test_a_deploy_whose_grace_period_runs_out_loses_and_duplicates_nothing(
    live, tenant, api_channel, gate
):
    for n in (51, 52):
        assert post(live, api_channel, held(n, gate))[0] == 202
        wait_for(lambda n=n: holding(live) == n - 50, "a drain to hold its batch")
    main, pool = live.worker.pid, children_of(live.worker.pid)
    live.worker.send_signal(signal.SIGTERM)  # the warm shutdown waits for the batches…
    time.sleep(2)
    assert live.worker.poll() is None
    os.kill(main, signal.SIGKILL)  # …until the grace period ends (docker stop: SIGKILL)
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    live.worker.wait(timeout=10)
    assert leads_of(tenant) == []

    open_gate(live, gate)
    restart_worker(live)
    make_due(api_channel)
    live.send(SWEEP_ALL_TASK)
    wait_for(all_finished(api_channel, 2), "both deliveries to be finished", seconds=40)
    live.drain(seconds=30)
    assert_each_delivery_once(api_channel, 2, most_attempts=3)


def _received_twice(log: str, task: str) -> set[str]:
    ids = re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log)
    return {task_id for task_id in ids if ids.count(task_id) > 1}


def test_a_task_running_longer_than_the_visibility_timeout_makes_one_lead(
    live, tenant, api_channel, gate
):
    log = live.folder / "worker.log"
    start = log.stat().st_size
    assert post(live, api_channel, held(21, gate))[0] == 202
    wait_for(lambda: holding(live) == 1, "the drain to hold its batch")

    def handed_out_again() -> set[str]:
        with log.open(errors="replace") as text:
            text.seek(start)
            return _received_twice(text.read(), "channels.tasks.process_events_task")

    # Unacknowledged past VISIBILITY seconds: the broker gives the drain to the other pool
    # process while the first still works on it; the second finds the delivery held.
    wait_for(handed_out_again, "the broker to hand the drain out again", seconds=VISIBILITY + 15)
    time.sleep(1)
    assert [(e.status, e.attempts) for e in events_of(api_channel)] == [("pending", 1)]

    open_gate(live, gate)
    wait_for(all_finished(api_channel, 1), "the delivery to be processed")
    live.drain(seconds=30)
    assert_each_delivery_once(api_channel, 1, most_attempts=1)


def test_redis_restarted_empty_with_deliveries_queued_the_sweeper_queues_them_again(
    live, tenant, api_channel, other_tenant, other_admin
):
    other_channel = api_channel_of(other_tenant, other_admin)
    stop(live.worker, seconds=30)  # nobody consumes: the deliveries' drains stay queued
    for n in range(31, 34):
        assert post(live, api_channel, lead(n))[0] == 202
    for n in range(34, 36):
        assert post(live, other_channel, lead(n))[0] == 202
    client = live.redis.client()
    assert client.llen(live.queue) == 2  # one drain per tenant

    live.redis.stop()
    live.redis.start()  # empty: the queued drains are gone
    assert live.redis.client().llen(live.queue) == 0
    restart_worker(live)
    time.sleep(2)
    assert statuses(api_channel) + statuses(other_channel) == ["pending"] * 5

    make_due(api_channel, other_channel)  # SWEEP_GRACE has passed
    live.send(SWEEP_ALL_TASK)  # beat's channels-sweep, every 30 s
    wait_for(all_finished(api_channel, 3), "the sweeper to queue the first tenant's")
    wait_for(all_finished(other_channel, 2), "the sweeper to queue the other tenant's")
    live.drain(seconds=30)
    assert_each_delivery_once(api_channel, 3, most_attempts=1)
    assert_each_delivery_once(other_channel, 2, most_attempts=1)


def test_redis_restarted_empty_under_a_busy_worker_loses_nothing(
    live, tenant, api_channel, other_tenant, other_admin, gate
):
    other_channel = api_channel_of(other_tenant, other_admin)
    assert post(live, api_channel, held(41, gate))[0] == 202
    wait_for(lambda: holding(live) == 1, "the first drain to hold its batch")
    assert post(live, api_channel, held(42, gate))[0] == 202
    wait_for(lambda: holding(live) == 2, "the second drain to hold its batch")
    for n in range(43, 46):  # both pool processes busy: their drain waits in the queue
        assert post(live, other_channel, lead(n))[0] == 202
    assert live.redis.client().llen(live.queue) == 1

    live.redis.stop()
    live.redis.start()  # empty, under the running worker and its tasks in progress
    open_gate(live, gate)
    # The batches in progress commit; the queued drain is gone with the queue.
    wait_for(all_finished(api_channel, 2), "the held batches to finish", seconds=30)
    assert statuses(other_channel) == ["pending"] * 3
    assert live.worker.poll() is None

    make_due(other_channel)
    live.send(SWEEP_ALL_TASK)  # the worker reconnects and takes the sweeper's tasks
    wait_for(all_finished(other_channel, 3), "the sweeper to queue them", seconds=40)
    live.drain(seconds=30)
    assert_each_delivery_once(api_channel, 2, most_attempts=1)
    assert_each_delivery_once(other_channel, 3, most_attempts=1)
