"""Replies with everything real (the stack of tests/channels/livestack.py: gunicorn, a Celery
prefork worker on Redis, PostgreSQL with row-level security) and the Bot API faked in a
process of its own: a Telegram message reaches the thread through the worker, a reply is
sent by the worker, a provider answering 503 delays it and the worker's retry sends it, and
a worker killed after Telegram took the message leaves it "may not have been sent" — never
sent twice."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator

import pytest

from channels import conversations
from channels.models import Channel, Message
from channels.services import channel_create
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.channels.fakeapi import FakeApi
from tests.channels.livestack import Stack, children_of, running_stack, start_worker
from tests.processes import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("english_workspace"),
]

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
Status = Message.Status
LEASE = 3


@pytest.fixture(scope="module")
def stack(
    django_db_setup, django_db_blocker, tmp_path_factory, fake_telegram_server
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    env = {
        "TELEGRAM_API_BASE": fake_telegram_server.base_url,
        "SITE_URL": "https://crm.example.com",
        "CHANNELS_SEND_LEASE": str(LEASE),
        "CHANNELS_SEND_TIMEOUT": "20",
        # A killed worker's task comes back within seconds (production: an hour).
        "TEST_VISIBILITY_TIMEOUT": "5",
    }
    with running_stack(folder, **env) as running:
        yield running


@pytest.fixture
def live(stack: Stack, fake_telegram: FakeApi) -> Iterator[Stack]:
    yield stack
    print(stack.log())  # noqa: T201 - shown by pytest with a failing test
    stack.drain()


def _bot(tenant, admin) -> Channel:
    with tenant_context(tenant):
        return channel_create(actor=admin, kind="telegram", name="Бот", config={"bot_token": TOKEN})


def _post_update(live: Stack, bot: Channel, update_id: int, text: str) -> None:
    user = {"id": 5550001, "is_bot": False, "first_name": "Анна"}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": 5550001, "first_name": "Анна", "type": "private"},
            "date": 1767225600,
            "text": text,
        },
    }
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{live.web}/in/{bot.token}/",
        data=json.dumps(update).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": bot.secret,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        assert answer.status == 200


def _message(tenant, pk: int) -> Message:
    with tenant_context(tenant):
        return Message.objects.get(pk=pk)


def _queue_reply(live: Stack, tenant, admin, text: str, monkeypatch) -> Message:
    """Record a reply as the card does and hand it to the stack's worker (the test's own
    process has no broker: what the web process would publish after commit)."""
    monkeypatch.setattr(conversations, "_queue_after_commit", lambda message: None)
    with tenant_context(tenant):
        lead = Lead.objects.get()
        route = conversations.reply_routes(lead, admin)[0]
        message = conversations.reply_queue(
            actor=admin, record=lead, route_key=route.key, text=text
        )
    live.send("channels.tasks.message_send_task", tenant_id=tenant.pk, message_id=message.pk)
    return message


def _inbound_arrived(tenant) -> bool:
    with tenant_context(tenant):
        return Message.objects.filter(direction="in").exists()


def test_the_worker_records_the_message_and_sends_the_reply(
    live, fake_telegram, tenant, admin, monkeypatch
):
    bot = _bot(tenant, admin)
    _post_update(live, bot, 1, "Сколько стоит доставка?")
    wait_for(lambda: _inbound_arrived(tenant), "the message in the thread", seconds=60)
    reply = _queue_reply(live, tenant, admin, "1 500 ₽", monkeypatch)
    wait_for(
        lambda: _message(tenant, reply.pk).status == Status.DELIVERED,
        "the reply to be delivered",
        seconds=60,
    )
    assert len(fake_telegram.calls("sendMessage")) == 1


def test_a_503_delays_the_reply_and_the_workers_retry_sends_it_once(
    live, fake_telegram, tenant, admin, monkeypatch
):
    bot = _bot(tenant, admin)
    _post_update(live, bot, 1, "Есть кто?")
    wait_for(lambda: _inbound_arrived(tenant), "the message in the thread", seconds=60)
    fake_telegram.faults({"match": "sendMessage", "status": 503, "retry_after": 1, "times": 2})
    reply = _queue_reply(live, tenant, admin, "Да, здесь", monkeypatch)
    wait_for(
        lambda: _message(tenant, reply.pk).status == Status.DELIVERED,
        "the reply to be delivered after two refusals",
        seconds=60,
    )
    calls = fake_telegram.calls("sendMessage")
    assert [call["status"] for call in calls] == [503, 503, 200]
    assert _message(tenant, reply.pk).attempts == 3


def test_a_worker_killed_after_telegram_took_the_reply_never_sends_it_twice(
    live, fake_telegram, tenant, admin, monkeypatch
):
    bot = _bot(tenant, admin)
    _post_update(live, bot, 1, "Жду")
    wait_for(lambda: _inbound_arrived(tenant), "the message in the thread", seconds=60)
    # Telegram takes the message and the answer never comes back: the worker is killed
    # while it waits.
    fake_telegram.faults({"match": "sendMessage", "hang": 30, "times": 1})
    reply = _queue_reply(live, tenant, admin, "Ответ", monkeypatch)
    wait_for(
        lambda: fake_telegram.calls("sendMessage"), "Telegram to receive the reply", seconds=60
    )
    assert _message(tenant, reply.pk).status == Status.SENDING
    main, pool = live.worker.pid, children_of(live.worker.pid)
    os.kill(main, signal.SIGKILL)
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    live.worker.wait(timeout=10)
    (live.folder / "ready").unlink(missing_ok=True)
    live.worker = start_worker(live.env, live.queue, live.folder / "worker.log")
    wait_for((live.folder / "ready").exists, "the new worker to start", seconds=60)

    # The broker hands the task to the new worker: the message is "sending", it is left alone;
    # past the lease the sweeper settles it without sending it again.
    for _attempt in range(30):  # beat's sweeper, every second here (bounded: 30 s)
        live.send("channels.tasks.messages_sweep_all_task")
        if _message(tenant, reply.pk).status == Status.UNCERTAIN:
            break
        time.sleep(1)
    message = _message(tenant, reply.pk)
    assert "may have received" in message.error
    assert len(fake_telegram.calls("sendMessage")) == 1
