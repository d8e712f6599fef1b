"""The inbound pipeline when PostgreSQL fails (issue 19, cases 4–6), with everything real:
gunicorn, a Celery worker (prefork, 2 processes) on a private redis-server, PostgreSQL with
row-level security — reached through a TCP proxy (tests/channels/pgproxy.py) the tests cut,
blackhole or restart, since the shared server itself must keep running. The worker loads
the faults of tests/channels/faults_database.py.

Each test ends with the same invariant (`assert_no_lead_lost`): every delivery the
endpoint answered 2xx is stored once and ended processed, with exactly one lead per
person, each with its inquiry on its timeline (and, on a channel that makes deals, its
contact and deal), and nothing written beyond that. Every wait is bounded; the processes
are stopped by their own PIDs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections

from channels import services
from channels.adapters import RawDelivery
from channels.models import Channel
from channels.services import channel_create
from contacts.models import Contact
from crm.models import Membership, Tenant, TimelineEvent
from crm.tenancy import tenant_context
from deals.models import Deal
from leads.models import Lead
from tests.channels.conftest import events_of, leads_of
from tests.channels.livestack import (
    Stack,
    Status,
    all_finished,
    live_fixture,
    post,
    running_stack,
    statuses,
)
from tests.channels.pgproxy import PgProxy, running_proxy
from tests.processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DRAIN_TASK = "channels.tasks.process_events_task"
# The stack's DATABASE_CONNECT_TIMEOUT: how long a connection attempt may hang.
CONNECT_TIMEOUT = 2


def _through(proxy: PgProxy) -> str:
    """The test database's URL (the application role), at the proxy's port."""
    db = connections["default"].settings_dict
    credentials = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
    return f"postgres://{credentials}@127.0.0.1:{proxy.port}/{db['NAME']}"


@pytest.fixture(scope="module")
def proxy(django_db_setup) -> Iterator[PgProxy]:
    db = connections["default"].settings_dict
    with running_proxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))) as running:
        yield running


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory, proxy) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("stack"),
        database_url=_through(proxy),
        TEST_WORKER_FAULT_MODULES="tests.channels.faults_database",
        DATABASE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    ) as running:
        yield running


live = live_fixture()


@pytest.fixture(autouse=True)
def healed(live: Stack, proxy: PgProxy) -> Iterator[None]:
    """After each test (before the live stack drains): the database reachable again and
    every stalled attempt let go."""
    yield
    proxy.resume()
    for marker in live.folder.glob("backend-*"):
        (live.folder / marker.name.replace("backend-", "go-")).write_text("")
        marker.unlink()


def person(n: int, **extra: Any) -> dict[str, Any]:
    """A delivery of the API channel from person `n` (their own phone number)."""
    return {"name": f"Клиент {n}", "phone": f"+7913{n:07d}", **extra}


def phone_of(n: int) -> str:
    return f"+7913{n:07d}"


def assert_no_lead_lost(
    tenant: Tenant, channel: Channel, accepted: set[int], *, deals: bool = False
) -> None:
    """Every delivery answered 2xx (`accepted`: the people of those deliveries) is stored
    once and done, made its person's one lead (with the inquiry on its timeline; with
    `deals`, the lead's contact and deal), and no record exists beyond those."""
    events = events_of(channel)
    assert len({e.key for e in events}) == len(events) == len(accepted)
    assert {(e.status, e.outcome) for e in events} == {(Status.DONE, "created")}
    assert all(1 <= e.attempts <= services.MAX_ATTEMPTS for e in events)
    with tenant_context(tenant):
        leads = list(Lead.objects.all())
        assert sorted(lead.phone_e164 for lead in leads) == sorted(phone_of(n) for n in accepted)
        assert {e.lead_id for e in events} == {lead.pk for lead in leads}
        inquiries = TimelineEvent.objects.filter(
            kind="lead.inquiry", target_type=ContentType.objects.get_for_model(Lead)
        )
        assert sorted(inquiries.values_list("target_id", flat=True)) == sorted(
            lead.pk for lead in leads
        )
        contacts = set(Contact.objects.values_list("pk", flat=True))
        deals_made = set(Deal.objects.values_list("pk", flat=True))
        if deals:
            assert {e.contact_id for e in events} == contacts
            assert {e.deal_id for e in events} == deals_made
            assert len(contacts) == len(deals_made) == len(leads)
            assert set(Deal.objects.values_list("contact_id", flat=True)) == contacts
        else:
            assert contacts == deals_made == set()


def _stored(channel: Channel, payload: dict[str, Any], monkeypatch) -> int:
    """Store a delivery as the endpoint does, without waking a drain (the test queues one)."""
    monkeypatch.setattr(services, "_wake", lambda tenant_id: None)
    raw = RawDelivery(body=json.dumps(payload).encode(), content_type="application/json")
    with tenant_context(channel.tenant):
        event, created = services.event_accept(channel=channel, raw=raw)
    monkeypatch.undo()
    assert created
    return event.pk


# --- 4. PostgreSQL unreachable at delivery time -------------------------------------------


def test_postgresql_unreachable_at_delivery_time_is_answered_503_and_the_retry_makes_one_lead(
    live, proxy, tenant, api_channel
):
    # The application bounds every connection attempt (the stack's is CONNECT_TIMEOUT).
    assert connections["default"].settings_dict["OPTIONS"]["connect_timeout"] > 0
    assert post(live, api_channel, person(1))[0] == 202
    wait_for(all_finished(api_channel, 1), "the first delivery to be processed")

    # Refused (the server down), then silent (a host that does not answer): both answered
    # 503 within the connect timeout, never 2xx, and nothing is written.
    for fault in (proxy.cut, proxy.blackhole):
        fault()
        began = time.monotonic()
        status, answer = post(live, api_channel, person(2))
        assert (status, answer["status"]) == (503, "error"), fault.__name__
        assert time.monotonic() - began < CONNECT_TIMEOUT + 3, fault.__name__
    proxy.resume()
    assert statuses(api_channel) == ["done"]

    # The provider delivers again: one lead; and once more: a duplicate, nothing new.
    assert post(live, api_channel, person(2))[0] == 202
    wait_for(all_finished(api_channel, 2), "the delivered-again inquiry to be processed")
    assert post(live, api_channel, person(2))[0] == 200
    live.drain()
    assert_no_lead_lost(tenant, api_channel, {1, 2})


# --- 5. A worker's connection killed in the middle of a batch ----------------------------


@pytest.fixture
def deals_channel(tenant: Tenant, admin: Membership) -> Channel:
    """An API channel that makes a contact and a deal with every new lead."""
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="api", name="Партнёр со сделками", create_deal=True)


def test_a_worker_connection_terminated_mid_batch_rolls_the_batch_back_and_retries_it(
    live, tenant, deals_channel, monkeypatch
):
    # Six deliveries stored before any drain runs, so that one batch takes them all; the
    # fourth stalls after its lead, contact and deal are written (not committed), together
    # with the three before it.
    ids = {}
    for n in range(10, 16):
        fault = {"test_fault": "stall-once"} if n == 13 else {}
        ids[n] = _stored(deals_channel, person(n, **fault), monkeypatch)
    live.send(DRAIN_TASK, tenant_id=tenant.pk)
    marker = live.folder / f"backend-{ids[13]}"
    wait_for(marker.exists, "the batch to stall half-way")
    backend = int(marker.read_text())
    assert leads_of(tenant) == []  # nothing of the open batch is visible

    # Meanwhile a delivery over HTTP is taken by the other pool process.
    assert post(live, deals_channel, person(16))[0] == 202
    wait_for(lambda: statuses(deals_channel)[-1] == Status.DONE, "the other delivery", seconds=30)

    # The batch's connection dies (an administrator, an OOM kill of the backend, a proxy
    # timeout): the same role may end its own sessions.
    with connection.cursor() as cursor:
        # It has written (a transaction id is assigned on the first write) and not committed.
        cursor.execute(
            "SELECT state, backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = %s",
            [backend],
        )
        assert cursor.fetchone() == ("idle in transaction", True)
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        assert cursor.fetchone()[0] is True
    (live.folder / f"go-{ids[13]}").write_text("")

    wait_for(all_finished(deals_channel, 7), "the batch to be retried", seconds=60)
    live.drain()
    events = events_of(deals_channel)
    # The batch's six were attempted again (alone, by the drain's retry); the other once.
    assert [e.attempts for e in events] == [2] * 6 + [1]
    assert_no_lead_lost(tenant, deals_channel, set(range(10, 17)), deals=True)


# --- 6. PostgreSQL restarted during a burst ----------------------------------------------


def test_postgresql_restarted_during_a_burst_loses_and_duplicates_nothing(
    live, proxy, tenant, api_channel
):
    people = list(range(100, 300))
    answers: dict[int, int] = {}
    order: list[int] = []  # the answers' statuses as they came
    lock = threading.Lock()
    todo = iter(people)

    def provider() -> None:
        """Deliver people from `todo` one after another, about six a second."""
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                return
            try:
                status = post(live, api_channel, person(n, test_fault="dawdle"))[0]
            except OSError:  # no answer at all: what a provider would also deliver again
                status = 0
            with lock:
                answers[n] = status
                order.append(status)
            time.sleep(0.15)

    threads = [threading.Thread(target=provider) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answers) >= 50, "the burst to get going", seconds=30)
    proxy.restart(3)  # every connection cut, refused for 3 s, then back
    with lock:
        during = len(order)
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert len(answers) == len(people)
    refused = sorted(n for n, status in answers.items() if status != 202)
    assert {answers[n] for n in refused} == {503}  # never a 500, never no answer
    assert 0 < len(refused) < len(people)
    assert 202 in order[during:]  # the burst went on after the restart

    # The provider delivers the refused ones again: stored now (202), or stored already by
    # a commit whose answer the cut lost (200, a duplicate).
    for n in refused:
        assert post(live, api_channel, person(n, test_fault="dawdle"))[0] in (200, 202)
    wait_for(all_finished(api_channel, len(people)), "every delivery to be processed", seconds=60)
    live.drain()
    # The restart cut a batch in the middle (the worker dawdles behind the burst): its
    # deliveries were attempted again, and still made one lead each.
    assert any(e.attempts > 1 for e in events_of(api_channel))
    assert_no_lead_lost(tenant, api_channel, set(people))
