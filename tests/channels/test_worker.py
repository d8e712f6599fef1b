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
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from channels import services
from channels.adapters import RawDelivery
from channels.models import Channel, InboundEvent
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of, leads_of
from tests.processes import free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
Status = InboundEvent.Status
PROCESS_TASK = "channels.tasks.process_event_task"
SWEEP_ALL_TASK = "channels.tasks.events_sweep_all_task"


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def stop(process: subprocess.Popen, *, seconds: float = 20) -> None:
    """SIGTERM to our process (it stops its children), then SIGKILL to it and its children."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        for child in children_of(process.pid):
            os.kill(child, signal.SIGKILL)
        process.kill()
        process.wait(timeout=seconds)


@dataclass
class RedisServer:
    """A private redis-server on 127.0.0.1:port, no persistence: a restart empties it."""

    port: int
    folder: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable, "the real-worker tests need redis-server (apt-get install redis-server)"
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def pong() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(pong, "redis-server to answer", seconds=20)

    def stop(self) -> None:
        assert self.process is not None
        stop(self.process)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)


@dataclass
class Stack:
    web: str
    queue: str
    folder: Path
    redis: RedisServer
    worker: subprocess.Popen

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"

    def send(self, task: str, **kwargs: Any) -> None:
        """Queue a task by name, as another process of the application would."""
        with Celery("tests", broker=self.broker_url, set_as_current=False) as client:
            client.send_task(task, kwargs=kwargs, queue=self.queue)

    def drain(self, seconds: float = 60) -> None:
        """Wait until the worker has acknowledged every message (its queue and the
        delivered-but-unacknowledged set are empty; retries waiting for their ETA count)."""
        client = self.redis.client()

        def idle() -> bool:
            queued = sum(client.llen(key) for key in client.scan_iter(match=f"{self.queue}*"))
            return queued == 0 and client.hlen("unacked") == 0

        wait_for(idle, "the worker to finish its messages", seconds=seconds)

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-4000:]
            for path in sorted(self.folder.glob("*.log"))
        )


def _database_url() -> str:
    db = connections["default"].settings_dict
    credentials = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _environment(stack_dir: Path, queue: str, redis_port: int) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        ENV_FILE="/nonexistent",
        TEST_LIVE_STACK="1",
        TEST_CELERY_QUEUE=queue,
        TEST_WORKER_DIR=str(stack_dir),
        DATABASE_URL=_database_url(),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        CHANNELS_RETRY_DELAY="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_web(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own command
            [
                str(BIN / "gunicorn"),
                "crm.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                "--workers=2",
                "--worker-class=gthread",
                "--threads=8",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own command
            [
                str(BIN / "celery"),
                "-A",
                "tests.channels.worker_app",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                f"--queues={queue}",
                f"--hostname={queue}@127.0.0.1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    server = RedisServer(free_port(), folder)
    server.start()
    env = _environment(folder, queue, server.port)
    web_port = free_port()
    web = _start_web(env, web_port, folder / "web.log")
    worker = _start_worker(env, queue, folder / "worker.log")
    running = Stack(f"http://127.0.0.1:{web_port}", queue, folder, server, worker)
    try:

        def web_up() -> bool:
            try:
                with urllib.request.urlopen(f"{running.web}/healthz", timeout=5) as answer:  # noqa: S310
                    return answer.status == 200
            except OSError:
                return False

        wait_for(web_up, "gunicorn to answer", seconds=60)
        wait_for(lambda: (folder / "ready").exists(), "the Celery worker to start", seconds=90)
        yield running
    finally:
        stop(worker, seconds=30)
        stop(web)
        server.stop()


@pytest.fixture
def live(stack: Stack) -> Iterator[Stack]:
    """The stack; the processes' logs are printed after the test (pytest shows them when
    the test fails)."""
    yield stack
    print(stack.log())  # noqa: T201 - shown by pytest with a failing test
    # A test that failed half-way may leave an attempt asleep in its transaction, which
    # would block the database flush: end it (our worker's own pool process) and settle.
    for marker in stack.folder.glob("slow-*"):
        pid = int(marker.read_text())
        if pid in children_of(stack.worker.pid):
            os.kill(pid, signal.SIGKILL)
        marker.unlink()
    stack.drain()


def post(
    stack: Stack, channel: Channel, payload: Any, *, token: str | None = None, path: str = ""
) -> tuple[int, dict[str, Any]]:
    """POST a JSON delivery to the channel's endpoint (or its `path`) on the live server."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        stack.web + reverse("inbound", kwargs={"token": channel.token}) + path,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {channel.secret if token is None else token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def statuses(channel: Channel) -> list[str]:
    return [event.status for event in events_of(channel)]


def all_finished(channel: Channel, count: int) -> Callable[[], bool]:
    def check() -> bool:
        found = statuses(channel)
        return len(found) == count and Status.PENDING not in found

    return check


def inquiry_records(tenant) -> int:
    with tenant_context(tenant):
        return TimelineEvent.objects.filter(kind="lead.inquiry").count()


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {"name": f"Покупатель {n}", "phone": f"+7 912 000-{n:02d}-{n:02d}", **extra}


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
