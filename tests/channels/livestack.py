"""The real-worker stack for tests: a private redis-server on a free loopback port, gunicorn
serving the application and a Celery worker (prefork, 2 processes) as subprocesses on the
test database (tests/settings.py with TEST_LIVE_STACK=1; the worker's app is
tests/channels/worker_app.py, which adds the faults a delivery asks for), each stopped by
its own PID; helpers to post deliveries and to watch them, every wait bounded.

`running_stack(...)` starts one; a test module takes `stack = stack_fixture()` and
`live = live_fixture()` (logs printed after each test, a sleeping attempt ended, the queue
drained).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.db import connections
from django.urls import reverse

from channels.models import Channel, InboundEvent
from crm.models import TimelineEvent
from crm.tenancy import tenant_context
from tests.channels.conftest import events_of
from tests.processes import free_port, wait_for

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
    env: dict[str, str]

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


def _environment(
    stack_dir: Path, queue: str, redis_port: int, database_url: str | None = None
) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        ENV_FILE="/nonexistent",
        TEST_LIVE_STACK="1",
        TEST_CELERY_QUEUE=queue,
        TEST_WORKER_DIR=str(stack_dir),
        DATABASE_URL=database_url or _database_url(),
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


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    """A Celery worker on `queue` (a second one, or one started again after a kill)."""
    with log.open("ab") as output:
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


@contextmanager
def running_stack(
    folder: Path, *, database_url: str | None = None, **extra_env: str
) -> Iterator[Stack]:
    """Start redis, gunicorn and the worker (on `database_url`, default the test
    database; `extra_env` for the processes), yield the stack, stop them by their PIDs."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    server = RedisServer(free_port(), folder)
    server.start()
    env = {**_environment(folder, queue, server.port, database_url), **extra_env}
    web_port = free_port()
    web = _start_web(env, web_port, folder / "web.log")
    worker = start_worker(env, queue, folder / "worker.log")
    running = Stack(f"http://127.0.0.1:{web_port}", queue, folder, server, worker, env)
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
        stop(running.worker, seconds=30)
        stop(web)
        server.stop()


def stack_fixture(**extra_env: str) -> Callable:
    """A module-scoped `stack` fixture for a test module."""

    @pytest.fixture(scope="module")
    def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:
        with running_stack(tmp_path_factory.mktemp("stack"), **extra_env) as running:
            yield running

    return stack


def live_fixture() -> Callable:
    """A `live` fixture for a test module: the stack for one test; the processes' logs
    are printed after it (pytest shows them when it fails), an attempt a failed test left
    asleep in its transaction is ended (it would block the database flush), the queue is
    drained."""

    @pytest.fixture
    def live(stack: Stack) -> Iterator[Stack]:
        yield stack
        print(stack.log())  # noqa: T201 - shown by pytest with a failing test
        for marker in stack.folder.glob("slow-*"):
            pid = int(marker.read_text())
            if pid in children_of(stack.worker.pid):
                os.kill(pid, signal.SIGKILL)
            marker.unlink()
        stack.drain()

    return live


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
