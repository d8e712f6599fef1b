"""The ingestion benchmark: `make bench-ingest` (BENCH_DELIVERIES paced deliveries, 5000).

Every budget but two is a ratio to a floor measured in the same run, in adjacent windows
(bench/ratios.py: each pair's ratio, judged on the median of --pairs pairs); each pair and
cycle below begins with a VACUUM (ANALYZE), as autovacuum would run between them:

1. creates the database `voronka_bench_ingest` when missing, migrates it as the owner,
   collects static files, empties the benchmark's Redis database, and prepares the tenant
   `ingest`, its API channel, a web form channel, one channel of each kind for the mixed
   run and the floor's table, then VACUUM ANALYZE (bench/ingest/setup.py);
2. starts gunicorn (2 sync workers, production settings, the application role) listening on
   127.0.0.1:BENCH_INGEST_PORT for pages and on the next port for deliveries (as
   gunicorn.conf.py), and a Celery worker (prefork, 2 processes, `nice -n 10`) on Redis;
   100 warm-up deliveries, processed (and 100 mixed ones); 50 warm-up floor tasks;
3. the endpoint against the trivial endpoint, --pairs pairs: N / pairs distinct deliveries
   POSTed at a constant --rate (200/s) by an open-loop client, then — once they are
   processed — as many GETs of the web form's address (200, nothing stored: the same
   listener, workers and middleware path) at the same rate; each pair's ratio of the
   endpoints' p99s, and the CPU our processes spent per request (bench/cpu.py);
4. the mixed run against the trivial endpoint, --mixed-pairs pairs (0: none): as many
   deliveries of every kind in rotation — API, web form (Tilda), Telegram, WhatsApp, VK,
   PBX call, e-mail where the channel exists — each in its provider's shape
   (bench/ingest/mixed.py) and a new person, at --rate until processed, then the trivial
   endpoint at the same rate; each pair's ratio of the p99s (its own budget), and per kind
   the requests, events stored and processed and the leads made (the window's deliveries:
   the mixed channels' events since it began — it runs alone);
5. idle, burst, floor, --pairs times: the inbox of a manager requested 4 times a second for
   --idle-seconds with nothing else running; then wrk posting distinct deliveries as fast as
   the endpoint takes them for --burst-seconds (post.lua), the inbox sampled the same way
   until the last delivery is processed; then --floor-tasks one-row-insert tasks through the
   same Redis and worker. Pairs: the inbox's p99 during the burst over idle; end-to-end
   leads/s of the burst over the floor's tasks/s;
6. writes bench/results/<date>-<HHMM>-ingest-<N>-<commit>.{json,md}, adds a row to the
   "Ingestion" table of bench/README.md (and to its mixed table) and checks the budgets
   (exit status 1 when one is missed): lost, duplicated and refused deliveries are counted
   over every window, the mixed ones included.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery import Celery
from psycopg import conninfo

from bench import ratios
from bench.cpu import CpuMeter, family
from bench.ingest import mixed
from bench.measure import Latency, Server, login
from bench.plan import BENCH_PASSWORD, label
from bench.run import (
    BENCH,
    BIN,
    ROOT,
    commit,
    create_database,
    django_env,
    machine,
    publish,
    run,
    start_gunicorn,
    stop_gunicorn,
    update_readme,
)

OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench_ingest"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench_ingest"
REDIS_URL = "redis://127.0.0.1:6379/9"
README_BEGIN = "<!-- ingest-ratios:begin -->"
README_END = "<!-- ingest-ratios:end -->"
MIXED_BEGIN = "<!-- ingest-mixed:begin -->"
MIXED_END = "<!-- ingest-mixed:end -->"
WARMUP = 100  # deliveries before measuring
FLOOR_WARMUP = 50  # floor tasks before measuring
WRK_STRIDE = 100_000  # phone numbers a wrk thread may use in one burst
RATE_HELD = 0.95  # paced windows count when they kept 95% of --rate (median)

ENDPOINT_P99 = ratios.RatioBudget(
    name="endpoint p99 ≤ 3× the trivial endpoint's p99 at the same rate",
    subject="endpoint p99 ms",
    floor="trivial p99 ms",
    bound=3.0,
    at_least=False,
)
END_TO_END = ratios.RatioBudget(
    name="end-to-end leads/s ≥ 25% of the trivial-task floor's tasks/s",
    subject="end-to-end leads/s",
    floor="floor tasks/s",
    bound=0.25,
    at_least=True,
    percent=True,
)
INBOX_BURST = ratios.RatioBudget(
    name="inbox p99 during a burst ≤ 2× idle",
    subject="burst p99 ms",
    floor="idle p99 ms",
    bound=2.0,
    at_least=False,
)
MIXED_P99 = ratios.RatioBudget(
    name="mixed endpoint p99 ≤ 3× the trivial endpoint's p99 at the same rate",
    subject="mixed p99 ms",
    floor="trivial p99 ms",
    bound=3.0,
    at_least=False,
)
RATIO_BUDGETS = (ENDPOINT_P99, END_TO_END, INBOX_BURST)
ACCEPTED = -1  # what a mixed window's request returns when its kind's answer was a success
MIXED_COUNTS = ("sent", "accepted", "stored", "done", "leads", "lost")  # by kind, summed


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    timing = Latency(samples)
    return {
        "n": len(samples),
        "p50": round(timing.percentile(50), 2),
        "p99": round(timing.percentile(99), 2),
        "max": round(max(samples), 2),
    }


def wait_until(check: Any, seconds: float, what: str, every: float = 0.02) -> float:
    """Poll `check` every `every` s until true; the monotonic time it became true."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / every) + 1):
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            break
        time.sleep(every)
    raise SystemExit(f"waited {seconds:.0f} s for {what}")


class Database:
    """Counting rows as the owner role (it bypasses row-level security)."""

    def __init__(self, url: str, tenant_id: int) -> None:
        self.connection = psycopg.connect(url, autocommit=True)
        self.tenant_id = tenant_id

    def vacuum(self) -> float:
        """VACUUM (ANALYZE) of the database, as autovacuum would have done between two
        windows on a server that had taken that many deliveries (this machine's PostgreSQL
        runs without it): otherwise each window's dead rows slow the next ones' claims and
        the inbox's index-only scans, and later pairs measure the run's own leftovers.
        Seconds it took."""
        began = time.monotonic()
        self.connection.execute("VACUUM (ANALYZE)")
        return round(time.monotonic() - began, 2)

    def backends(self) -> list[int]:
        """The PostgreSQL backends serving the benchmark's database, but this one."""
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [row[0] for row in rows]

    def floor_rows(self) -> int:
        return self.connection.execute("SELECT count(*) FROM bench_floor_row").fetchone()[0]

    def now(self) -> datetime:
        return self.connection.execute("SELECT now()").fetchone()[0]

    def unfinished(self, run_id: str, since: datetime) -> tuple[int, int]:
        """(stored, still pending) deliveries of the run: cheap enough to poll."""
        stored, pending = self.connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'pending') "
            "FROM channels_inboundevent WHERE tenant_id = %s AND created_at >= %s "
            "AND message->'utm'->>'utm_campaign' = %s",
            [self.tenant_id, since, run_id],
        ).fetchone()
        return stored, pending

    def outcome(self, run_id: str, since: datetime) -> dict[str, Any]:
        """What became of the run's deliveries: events by status, leads, duplicates, the
        time each event waited from being stored to being processed, and the end-to-end
        time: from the first delivery stored until the last one processed (database clock)."""
        # The run's events: the tenant's, stored since the phase began (an index range), with
        # the run's id in the message.
        params = [self.tenant_id, since, run_id]
        run = (
            "FROM channels_inboundevent WHERE tenant_id = %s AND created_at >= %s "
            "AND message->'utm'->>'utm_campaign' = %s"
        )
        events = dict(
            self.connection.execute(
                f"SELECT status, count(*) {run} GROUP BY status",
                params,
            ).fetchall()
        )
        leads, phones = self.connection.execute(
            "SELECT count(*), count(DISTINCT phone_e164) FROM leads_lead "
            "WHERE tenant_id = %s AND created_at >= %s AND utm_campaign = %s",
            params,
        ).fetchone()
        waits = [
            float(row[0])
            for row in self.connection.execute(
                "SELECT extract(epoch FROM processed_at - created_at) * 1000 "  # noqa: S608
                f"{run} AND processed_at IS NOT NULL",
                params,
            ).fetchall()
        ]
        stored_span, e2e = self.connection.execute(
            "SELECT extract(epoch FROM max(created_at) - min(created_at)), "  # noqa: S608
            f"extract(epoch FROM max(processed_at) - min(created_at)) {run}",
            params,
        ).fetchone()
        stored = sum(events.values())
        return {
            "events": events,
            "stored": stored,
            # Deliveries stored per second, first to last (the endpoint's accepted rate).
            "stored_per_s": round(stored / float(stored_span), 1) if stored_span else 0.0,
            "leads": leads,
            "distinct_phones": phones,
            "queue_ms": percentiles(waits),
            "e2e_seconds": round(float(e2e or 0), 2),
            "e2e_leads_per_s": round(leads / float(e2e), 1) if e2e else 0.0,
        }

    def channel_kinds(self, tokens: dict[str, str]) -> dict[int, str]:
        """{channel id: kind} of the tenant's channels with these tokens ({kind: token})."""
        kind_of = {token: kind for kind, token in tokens.items()}
        rows = self.connection.execute(
            "SELECT id, token FROM channels_channel WHERE tenant_id = %s AND token = ANY(%s)",
            [self.tenant_id, list(kind_of)],
        ).fetchall()
        return {pk: kind_of[token] for pk, token in rows}

    def mixed_unfinished(self, channels: list[int], since: datetime) -> tuple[int, int]:
        """(stored, still pending) deliveries to the mixed channels since `since` (a mixed
        window runs alone: they are the window's)."""
        stored, pending = self.connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'pending') "
            "FROM channels_inboundevent WHERE tenant_id = %s AND created_at >= %s "
            "AND channel_id = ANY(%s)",
            [self.tenant_id, since, channels],
        ).fetchone()
        return stored, pending

    def mixed_outcome(self, channels: dict[int, str], since: datetime) -> dict[str, Any]:
        """What became of a mixed window's deliveries, by kind: events by status, those
        processed (done), the new leads they made; the tenant's leads created since the
        window began (it runs alone: all the window's), the queue waits and end-to-end time."""
        run = (
            "FROM channels_inboundevent WHERE tenant_id = %s AND created_at >= %s "
            "AND channel_id = ANY(%s)"
        )
        params = [self.tenant_id, since, list(channels)]
        kinds: dict[str, dict[str, Any]] = {
            kind: {"events": {}, "stored": 0, "done": 0, "leads": 0}
            for kind in sorted(set(channels.values()), key=mixed.KINDS.index)
        }
        rows = self.connection.execute(
            "SELECT channel_id, status, count(*), "
            f"count(DISTINCT lead_id) FILTER (WHERE outcome = 'created') {run} "
            "GROUP BY channel_id, status",
            params,
        ).fetchall()
        for channel_id, status, count, leads in rows:
            kind = kinds[channels[channel_id]]
            kind["events"][status] = count
            kind["stored"] += count
            kind["done"] += count if status == "done" else 0
            kind["leads"] += leads
        waits = [
            float(row[0])
            for row in self.connection.execute(
                "SELECT extract(epoch FROM processed_at - created_at) * 1000 "  # noqa: S608
                f"{run} AND processed_at IS NOT NULL",
                params,
            ).fetchall()
        ]
        e2e = self.connection.execute(
            f"SELECT extract(epoch FROM max(processed_at) - min(created_at)) {run}",  # noqa: S608
            params,
        ).fetchone()[0]
        leads = self.connection.execute(
            "SELECT count(*) FROM leads_lead WHERE tenant_id = %s AND created_at >= %s",
            [self.tenant_id, since],
        ).fetchone()[0]
        return {
            "kinds": kinds,
            "stored": sum(k["stored"] for k in kinds.values()),
            "leads": leads,
            "queue_ms": percentiles(waits),
            "e2e_seconds": round(float(e2e or 0), 2),
            "e2e_leads_per_s": round(leads / float(e2e), 1) if e2e else 0.0,
        }


class InboxSampler:
    """The inbox during a burst, as managers use it: a request every `interval` seconds
    (4 a second: a team with the inbox open, auto-refresh included) until stopped. Back to
    back requests would make the sampler itself a load of up to one core."""

    def __init__(self, server: Server, path: str, cookie: str, interval: float = 0.25) -> None:
        self.server, self.path, self.cookie = server, path, cookie
        self.interval = interval
        self.samples: list[float] = []
        self.offsets: list[float] = []  # when each request began, seconds into the phase
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        start = time.perf_counter()
        while not self.stopped.is_set():
            began = time.perf_counter()
            self.server.get_ok(self.path, self.cookie)
            took = time.perf_counter() - began
            self.samples.append(took * 1000)
            self.offsets.append(began - start)
            self.stopped.wait(max(0.0, self.interval - took))

    def summary(self, *, series: bool = True) -> dict[str, Any]:
        """Percentiles, the five slowest requests and (with `series`) every one, as (seconds
        into the window, ms)."""
        samples = [
            [round(at, 2), round(ms, 1)] for at, ms in zip(self.offsets, self.samples, strict=True)
        ]
        return {
            **percentiles(self.samples),
            "slowest": sorted(samples, key=lambda s: -s[1])[:5],
            **({"series": samples} if series else {}),
        }

    def __enter__(self) -> InboxSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)


def delivery(n: int, run_id: str) -> bytes:
    return json.dumps(
        {
            "name": f"Нагрузка {n}",
            "phone": f"+79{n:09d}",
            "email": f"p{n}@{run_id}.ingest.bench",
            "utm_campaign": run_id,
            "message": "Хочу узнать цену",
        },
        ensure_ascii=False,
    ).encode()


class Phones:
    """Hands out blocks of phone numbers no delivery of this run or an earlier one used."""

    def __init__(self, first: int) -> None:
        self.next = first

    def take(self, count: int) -> int:
        first, self.next = self.next, self.next + count
        return first


Sent = tuple[float, float, float, int]  # (scheduled, began, ended, status) of one request


def pace(
    send: Callable[[int], int], *, count: int, rate: float, clients: int
) -> tuple[float, list[Sent]]:
    """Call `send(i)` for i < `count` at `rate` a second from `clients` threads, open loop:
    each request has its scheduled time, so a slow answer does not delay the schedule
    (wrk2's idea, which Debian's wrk lacks). (start, [(scheduled, began, ended, status)])."""
    results: list[Sent] = []
    lock = threading.Lock()
    cursor = iter(range(count))
    start = time.monotonic() + 0.5

    def client() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            scheduled = start + i / rate
            time.sleep(max(0.0, scheduled - time.monotonic()))
            began = time.monotonic()
            try:
                status = send(i)
            except Exception:  # counted as refused
                status = 0
            ended = time.monotonic()
            with lock:
                results.append((scheduled, began, ended, status))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=count / rate + 120)
    return start, results


def paced_summary(start: float, results: list[Sent], expected: int) -> dict[str, Any]:
    """Requests answered `expected`, the others, the rate achieved and the latency."""
    accepted = sum(1 for r in results if r[3] == expected)
    last = max(r[2] for r in results)
    return {
        "sent": len(results),
        "accepted": accepted,
        "refused": len(results) - accepted,
        "rate": round(len(results) / (last - start), 1),
        "latency_ms": percentiles([(r[2] - r[1]) * 1000 for r in results]),
        # From each request's scheduled time: includes waiting for a free client thread.
        "latency_from_schedule_ms": percentiles([(r[2] - r[0]) * 1000 for r in results]),
    }


def paced(
    server: Server, path: str, secret: str, *, count: int, rate: float, clients: int, base: int
) -> tuple[str, dict[str, Any]]:
    """POST `count` distinct API deliveries at `rate`/s (phones from `base` on)."""
    run_id = f"paced-{uuid.uuid4().hex[:10]}"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}

    def send(i: int) -> int:
        body = delivery(base + i, run_id)
        return server.request(path, method="POST", body=body, headers=headers)[0]

    start, results = pace(send, count=count, rate=rate, clients=clients)
    return run_id, paced_summary(start, results, expected=202)


def trivial(server: Server, path: str, *, count: int, rate: float, clients: int) -> dict[str, Any]:
    """GET the web form's address `count` times at `rate`/s: every answer must be 200."""
    start, results = pace(
        lambda _i: server.request(path)[0], count=count, rate=rate, clients=clients
    )
    summary = paced_summary(start, results, expected=200)
    if summary["refused"]:
        raise SystemExit(f"the trivial endpoint {path} failed {summary['refused']} requests")
    return summary


def paced_mixed(
    server: Server,
    channels: dict[str, dict[str, Any]],
    *,
    count: int,
    rate: float,
    clients: int,
    base: int,
) -> tuple[str, dict[str, Any]]:
    """POST `count` deliveries at `rate`/s, the kinds of `channels` in rotation (person
    `base + i` the i-th: bench/ingest/mixed.py); the window's summary and each kind's
    requests, successes and latency."""
    run_id = f"mixed-{uuid.uuid4().hex[:10]}"
    kinds = mixed.rotation(channels)
    answers: list[tuple[str, float, int]] = []  # (kind, ms, status) of each request

    def send(i: int) -> int:
        kind = kinds[i % len(kinds)]
        request = mixed.request(kind, channels[kind], base + i, run_id)
        began = time.monotonic()
        try:
            status = server.request(
                request.path, method="POST", body=request.body, headers=request.headers
            )[0]
        except Exception:  # counted as refused
            status = 0
        answers.append((kind, (time.monotonic() - began) * 1000, status))
        return ACCEPTED if status == mixed.ACCEPTED[kind] else status

    start, results = pace(send, count=count, rate=rate, clients=clients)
    summary = paced_summary(start, results, expected=ACCEPTED)
    summary["by_kind"] = {
        kind: {
            "sent": sum(1 for k, _ms, _s in answers if k == kind),
            "accepted": sum(1 for k, _ms, s in answers if k == kind and s == mixed.ACCEPTED[k]),
            "latency_ms": percentiles([ms for k, ms, _s in answers if k == kind]),
        }
        for kind in kinds
    }
    return run_id, summary


def burst(
    url: str, secret: str, *, seconds: int, threads: int, connections: int, base: int
) -> tuple[str, dict[str, Any]]:
    """wrk posting distinct deliveries back to back for `seconds` (each thread's phones from
    base + thread × WRK_STRIDE on)."""
    run_id = f"burst-{uuid.uuid4().hex[:10]}"
    env = dict(
        os.environ,
        INGEST_TOKEN=secret,
        INGEST_RUN=run_id,
        INGEST_PHONE_BASE=str(base),
        INGEST_STRIDE=str(WRK_STRIDE),
    )
    output = subprocess.run(  # noqa: S603 - a fixed command line
        [
            shutil.which("wrk") or "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--latency",
            f"--script={BENCH / 'ingest' / 'post.lua'}",
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^INGEST (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{output}")
    return run_id, json.loads(match.group(1))


def settle(db: Database, run_id: str, since: datetime, sent: int, seconds: float) -> dict:
    """Wait until every stored delivery of the run is processed (polled 4 times a second);
    the run's outcome and end-to-end figures."""

    def finished() -> bool:
        stored, pending = db.unfinished(run_id, since)
        return stored >= sent and pending == 0

    wait_until(finished, seconds, f"the deliveries of {run_id} to be processed", every=0.25)
    outcome = db.outcome(run_id, since)
    accepted = max(sent, outcome["stored"])
    outcome["lost"] = accepted - outcome["distinct_phones"]
    outcome["duplicated"] = outcome["leads"] - outcome["distinct_phones"]
    return outcome


def settle_mixed(
    db: Database, channels: dict[int, str], since: datetime, sent: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Wait until every stored delivery of the mixed window is processed; its outcome with
    the losses: by kind, a delivery accepted (or stored) that is not done or made no lead is
    lost; leads beyond the deliveries are duplicated (`mixed_losses`)."""
    ids = list(channels)

    def finished() -> bool:
        stored, pending = db.mixed_unfinished(ids, since)
        return stored >= sent["accepted"] and pending == 0

    wait_until(finished, seconds, "the mixed deliveries to be processed", every=0.25)
    return mixed_losses(db.mixed_outcome(channels, since), sent["by_kind"])


def mixed_losses(outcome: dict[str, Any], by_kind: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`outcome` (Database.mixed_outcome) with each kind's requests (`by_kind`: sent,
    accepted, latency) and losses: per kind, what was accepted or stored beyond what was
    processed into a new lead is lost; the window's leads beyond its deliveries are
    duplicated."""
    expected = 0
    for kind, figures in outcome["kinds"].items():
        sent_kind = by_kind.get(kind, {"sent": 0, "accepted": 0})
        figures.update(sent=sent_kind["sent"], accepted=sent_kind["accepted"])
        wanted = max(figures["accepted"], figures["stored"])
        figures["lost"] = max(0, wanted - min(figures["done"], figures["leads"]))
        figures["latency_ms"] = sent_kind.get("latency_ms", percentiles([]))
        expected += wanted
    outcome["lost"] = sum(k["lost"] for k in outcome["kinds"].values())
    outcome["duplicated"] = max(0, outcome["leads"] - expected)
    return outcome


def floor(task: Any, db: Database, count: int) -> dict[str, Any]:
    """`count` one-row-insert tasks queued one after the other: the time of each
    `.apply_async`, then tasks/s from the first send until every row exists."""
    before = db.floor_rows()
    enqueue: list[float] = []
    start = time.monotonic()
    for n in range(count):
        began = time.perf_counter()
        task.apply_async(args=[n])
        enqueue.append((time.perf_counter() - began) * 1000)
    done = wait_until(
        lambda: db.floor_rows() == before + count, 60 + count / 20, "the floor's rows"
    )
    return {
        "tasks": count,
        "tasks_per_s": round(count / (done - start), 1),
        "enqueue_ms": {**percentiles(enqueue), "mean": round(statistics.fmean(enqueue), 3)},
        "enqueue_samples": enqueue,
    }


def wait_idle(queue: redis.Redis) -> None:
    """Idle means idle: the worker done acknowledging (a task's row exists a moment before),
    nothing left in the queue."""
    wait_until(lambda: queue.llen("celery") == 0, 60, "the queue to empty", 0.1)
    time.sleep(1)


def start_worker(
    env: dict[str, str], concurrency: int, niceness: int, log: Path
) -> subprocess.Popen[bytes]:
    """The Celery worker, at the CPU priority a single-box install gives it (docker-compose:
    `nice -n 10`), so web requests go first and the worker takes every idle cycle."""
    nice = [shutil.which("nice") or "nice", "-n", str(niceness)] if niceness else []
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own command
            [
                *nice,
                str(BIN / "celery"),
                "-A",
                "bench.ingest.worker",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown of our worker (SIGTERM to its PID), SIGKILL after 60 s."""
    worker.terminate()
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=30)


@dataclass(frozen=True)
class Bench:
    """What every window of a run needs: the servers, the database, the manager's session,
    the addresses, the phone numbers, the queue and the floor's task."""

    args: argparse.Namespace
    db: Database
    server: Server  # pages
    ingest: Server  # deliveries
    cookie: str
    inbox: str
    endpoint: str
    form: str  # the trivial endpoint: the web form's address
    secret: str
    phones: Phones
    queue: redis.Redis
    task: Any  # the floor task's signature
    cpu: dict[str, Callable[[], list[int]]]  # our processes: web, worker, postgres
    mixed: dict[str, dict[str, Any]]  # the mixed run's channels by kind (setup's "mixed")
    mixed_ids: dict[int, str]  # their ids: {channel id: kind}

    def meter(self) -> CpuMeter:
        return CpuMeter(self.cpu)

    def sampler(self) -> InboxSampler:
        return InboxSampler(self.server, self.inbox, self.cookie)


Window = Callable[[datetime], tuple[str, dict[str, Any], dict[str, Any]]]


def _against_trivial(b: Bench, count: int, side: str, window: Window) -> dict[str, Any]:
    """After a VACUUM: `window(since)` — deliveries at --rate until processed, giving (run
    id, what was sent, what became of it) — then `count` GETs of the web form's address at
    the same rate, on the same listener. The CPU our processes spent in each window, per
    request. (No inbox sampler here: its requests would count in the CPU of the cheaper
    window most.)"""
    vacuum_s = b.db.vacuum()
    wait_idle(b.queue)
    since = b.db.now()
    with b.meter() as window_cpu:
        run_id, sent, outcome = window(since)
    wait_idle(b.queue)
    with b.meter() as trivial_cpu:
        base = trivial(b.ingest, b.form, count=count, rate=b.args.rate, clients=b.args.clients)
    return {
        "vacuum_s": vacuum_s,
        side: {**sent, **outcome, "run": run_id, "cpu_ms": window_cpu.per(count)},
        "trivial": {**base, "cpu_ms": trivial_cpu.per(count)},
    }


def endpoint_pair(b: Bench, count: int) -> dict[str, Any]:
    """`count` API deliveries against as many GETs of the trivial endpoint."""

    def window(since: datetime) -> tuple[str, dict[str, Any], dict[str, Any]]:
        run_id, sent = paced(
            b.ingest,
            b.endpoint,
            b.secret,
            count=count,
            rate=b.args.rate,
            clients=b.args.clients,
            base=b.phones.take(count),
        )
        return run_id, sent, settle(b.db, run_id, since, sent["accepted"], 120 + count / 20)

    return _against_trivial(b, count, "endpoint", window)


def mixed_pair(b: Bench, count: int) -> dict[str, Any]:
    """`count` deliveries of every kind in rotation (API, web form, Telegram, WhatsApp, VK,
    PBX, e-mail) against as many GETs of the trivial endpoint. The window's events are the
    mixed channels' since it began (it runs alone)."""

    def window(since: datetime) -> tuple[str, dict[str, Any], dict[str, Any]]:
        run_id, sent = paced_mixed(
            b.ingest,
            b.mixed,
            count=count,
            rate=b.args.rate,
            clients=b.args.clients,
            base=b.phones.take(count),
        )
        outcome = settle_mixed(b.db, b.mixed_ids, since, sent, 120 + count / 20)
        del sent["by_kind"]  # in the outcome's kinds
        return run_id, sent, outcome

    return _against_trivial(b, count, "mixed", window)


def cycle(b: Bench) -> dict[str, Any]:
    """After a VACUUM: the inbox idle; a burst (the inbox sampled until its last delivery
    is processed); the floor's tasks."""
    args = b.args
    vacuum_s = b.db.vacuum()
    wait_idle(b.queue)
    with b.sampler() as idle:
        time.sleep(args.idle_seconds)
    since = b.db.now()
    with b.sampler() as during, b.meter() as burst_cpu:
        run_id, sent = burst(
            f"http://{b.ingest.host}:{b.ingest.port}{b.endpoint}",
            b.secret,
            seconds=args.burst_seconds,
            threads=args.wrk_threads,
            connections=args.wrk_connections,
            base=b.phones.take(args.wrk_threads * WRK_STRIDE),
        )
        outcome = settle(b.db, run_id, since, sent["accepted"], 120 + sent["accepted"] / 20)
    wait_idle(b.queue)
    with b.meter() as floor_cpu:
        tasks = floor(b.task, b.db, args.floor_tasks)
    return {
        "vacuum_s": vacuum_s,
        "idle": idle.summary(),
        "burst": {
            **sent,
            **outcome,
            "run": run_id,
            "inbox": during.summary(),
            "cpu_ms": burst_cpu.per(max(1, outcome["leads"])),
        },
        "floor": {**tasks, "cpu_ms": floor_cpu.per(args.floor_tasks)},
    }


def _paced_budget(
    budget: ratios.RatioBudget, pairs: list[dict[str, Any]], side: str, rate: float
) -> dict[str, Any]:
    """A paced window's p99 against the trivial endpoint's, pair by pair (`side`: the
    window's key, "endpoint" or "mixed"), missed too when either could not keep the rate."""
    judged = ratios.judge(
        budget, [(p[side]["latency_ms"]["p99"], p["trivial"]["latency_ms"]["p99"]) for p in pairs]
    )
    # "At the same rate": windows that could not keep the pace compare nothing. Judged on
    # the median too, like the ratio: one window a neighbour slowed does not decide.
    for window in (side, "trivial"):
        kept = statistics.median(p[window]["rate"] for p in pairs)
        if kept < RATE_HELD * rate:
            judged["ok"] = False
            judged["value"] += f"; the {window} kept {kept:g} of {rate:g} requests/s (median)"
    return judged


def budgets(r: dict[str, Any], rate: float) -> list[dict[str, Any]]:
    """The ratio budgets on the medians of their pairs; enqueueing and losses as counts."""
    pairs, cycles = r["endpoint_pairs"], r["cycles"]
    endpoint = _paced_budget(ENDPOINT_P99, pairs, "endpoint", rate)
    # The mixed run (when it ran): its own ratio, judged the same way.
    mixed_pairs = r.get("mixed_pairs") or []
    mixed_budget = [_paced_budget(MIXED_P99, mixed_pairs, "mixed", rate)] if mixed_pairs else []
    end_to_end = ratios.judge(
        END_TO_END, [(c["burst"]["e2e_leads_per_s"], c["floor"]["tasks_per_s"]) for c in cycles]
    )
    inbox = ratios.judge(
        INBOX_BURST, [(c["burst"]["inbox"]["p99"], c["idle"]["p99"]) for c in cycles]
    )
    totals = r["totals"]
    lost, duplicated, refused = totals["lost"], totals["duplicated"], totals["refused"]
    return [
        endpoint,
        *mixed_budget,
        end_to_end,
        inbox,
        {
            "budget": "enqueueing ≤ 2 ms",
            "value": f"p50 {totals['enqueue_ms']['p50']} ms",
            "ok": totals["enqueue_ms"]["p50"] <= 2,
        },
        {
            "budget": "zero lost, duplicated or refused deliveries",
            "value": f"{lost} lost, {duplicated} duplicated, {refused} refused",
            "ok": lost == duplicated == refused == 0,
        },
    ]


def totals(r: dict[str, Any], enqueue: list[float]) -> dict[str, Any]:
    """Losses over every window (the mixed ones too), enqueueing over every floor task, the
    absolute figures' medians (for reference) and the mixed windows' figures by kind."""
    mixed_pairs = r.get("mixed_pairs") or []
    phases = [
        *(p["endpoint"] for p in r["endpoint_pairs"]),
        *(p["mixed"] for p in mixed_pairs),
        *(c["burst"] for c in r["cycles"]),
    ]

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    mixed_totals: dict[str, Any] = {}
    if mixed_pairs:
        by_kind: dict[str, dict[str, int]] = {}
        for pair in mixed_pairs:
            for kind, figures in pair["mixed"]["kinds"].items():
                into = by_kind.setdefault(kind, dict.fromkeys(MIXED_COUNTS, 0))
                for name in MIXED_COUNTS:
                    into[name] += figures[name]
        mixed_totals = {
            "mixed": {
                "kinds": by_kind,
                "p99_ms": median([p["mixed"]["latency_ms"]["p99"] for p in mixed_pairs]),
                "trivial_p99_ms": median([p["trivial"]["latency_ms"]["p99"] for p in mixed_pairs]),
                "e2e_leads_per_s": median([p["mixed"]["e2e_leads_per_s"] for p in mixed_pairs]),
                "cpu_ms_delivery": median(
                    [sum(p["mixed"]["cpu_ms"].values()) for p in mixed_pairs]
                ),
                "lost": sum(p["mixed"]["lost"] for p in mixed_pairs),
                "duplicated": sum(p["mixed"]["duplicated"] for p in mixed_pairs),
                "refused": sum(p["mixed"]["refused"] for p in mixed_pairs),
            }
        }

    return {
        **mixed_totals,
        "lost": sum(p["lost"] for p in phases),
        "duplicated": sum(p["duplicated"] for p in phases),
        "refused": sum(p["refused"] for p in phases),
        "enqueue_ms": {**percentiles(enqueue), "mean": round(statistics.fmean(enqueue), 3)},
        "medians": {
            "endpoint_p99_ms": median(
                [p["endpoint"]["latency_ms"]["p99"] for p in r["endpoint_pairs"]]
            ),
            "trivial_p99_ms": median(
                [p["trivial"]["latency_ms"]["p99"] for p in r["endpoint_pairs"]]
            ),
            "paced_e2e_leads_per_s": median(
                [p["endpoint"]["e2e_leads_per_s"] for p in r["endpoint_pairs"]]
            ),
            "burst_accepted_per_s": median([c["burst"]["stored_per_s"] for c in r["cycles"]]),
            "burst_e2e_leads_per_s": median([c["burst"]["e2e_leads_per_s"] for c in r["cycles"]]),
            "floor_tasks_per_s": median([c["floor"]["tasks_per_s"] for c in r["cycles"]]),
            "inbox_idle_p99_ms": median([c["idle"]["p99"] for c in r["cycles"]]),
            "inbox_burst_p99_ms": median([c["burst"]["inbox"]["p99"] for c in r["cycles"]]),
        },
        # CPU milliseconds per request of our processes (web + worker + PostgreSQL): what
        # the neighbours hardly change.
        "cpu_ms": {
            "delivery_paced": median(
                [sum(p["endpoint"]["cpu_ms"].values()) for p in r["endpoint_pairs"]]
            ),
            "trivial_request": median(
                [sum(p["trivial"]["cpu_ms"].values()) for p in r["endpoint_pairs"]]
            ),
            "lead_burst": median([sum(c["burst"]["cpu_ms"].values()) for c in r["cycles"]]),
            "floor_task": median([sum(c["floor"]["cpu_ms"].values()) for c in r["cycles"]]),
        },
    }


def _budget(report: dict[str, Any], budget: ratios.RatioBudget) -> dict[str, Any]:
    return next(b for b in report["budgets"] if b["budget"] == budget.name)


def _ratio_cell(report: dict[str, Any], budget: ratios.RatioBudget) -> str:
    summary = _budget(report, budget)["ratio"]
    show = budget.show
    return f"{show(summary['median'])} ({show(summary['min'])}–{show(summary['max'])})"


def _cpu(window: dict[str, Any]) -> str:
    cpu = window["cpu_ms"]
    return f"{cpu['web']:g} / {cpu['worker']:g} / {cpu['postgres']:g}"


def readme_row(report: dict[str, Any]) -> str:
    t = report["results"]["totals"]
    m = t["medians"]
    missed = [b["budget"] for b in report["budgets"] if not b["ok"]]
    cells = [
        report["date"],
        f"`{report['commit']}`",
        str(report["settings"]["deliveries"]),
        str(report["settings"]["pairs"]),
        _ratio_cell(report, ENDPOINT_P99),
        f"{m['endpoint_p99_ms']:g} / {m['trivial_p99_ms']:g}",
        _ratio_cell(report, END_TO_END),
        f"{m['burst_e2e_leads_per_s']:g} / {m['floor_tasks_per_s']:g}",
        _ratio_cell(report, INBOX_BURST),
        f"{m['inbox_burst_p99_ms']:g} / {m['inbox_idle_p99_ms']:g}",
        f"{t['enqueue_ms']['p50']:g}",
        f"{t['lost']} / {t['duplicated']} / {t['refused']}",
        "all met" if not missed else f"{len(missed)} missed",
        report.get("note", ""),
    ]
    return "| " + " | ".join(cells) + " |"


def _kinds_cell(kinds: dict[str, dict[str, int]]) -> str:
    return " · ".join(
        f"{kind} {k['stored']}/{k['done']}/{k['leads']}"
        for kind, k in sorted(kinds.items(), key=lambda item: mixed.KINDS.index(item[0]))
    )


def mixed_row(report: dict[str, Any]) -> str:
    """The run's row of the README's "mixed" table (only when the mixed windows ran)."""
    m = report["results"]["totals"]["mixed"]
    settings = report["settings"]
    judged = _budget(report, MIXED_P99)
    cells = [
        report["date"],
        f"`{report['commit']}`",
        str(sum(p["mixed"]["sent"] for p in report["results"]["mixed_pairs"])),
        str(settings["mixed_pairs"]),
        _ratio_cell(report, MIXED_P99),
        f"{m['p99_ms']:g} / {m['trivial_p99_ms']:g}",
        _kinds_cell(m["kinds"]),
        f"{m['lost']} / {m['duplicated']} / {m['refused']}",
        "met" if judged["ok"] else "missed",
        report.get("note", ""),
    ]
    return "| " + " | ".join(cells) + " |"


def _mixed_markdown(report: dict[str, Any]) -> list[str]:
    """The mixed windows: each pair's figures, then each kind's over every window."""
    r, settings = report["results"], report["settings"]
    kinds = r["totals"]["mixed"]["kinds"]
    lines = [
        "",
        f"Mixed pairs: the kinds in rotation ({', '.join(kinds)}) at {settings['rate']:g}/s, "
        "each delivery a new person, until processed; then the trivial endpoint at the same "
        "rate. Milliseconds p50 / p99; CPU as above.",
        "",
        "| pair | mixed | rate | leads/s | CPU a delivery | lost / dup / refused | trivial "
        "| rate | CPU a request |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, pair in enumerate(r["mixed_pairs"], 1):
        x, t = pair["mixed"], pair["trivial"]
        lines.append(
            f"| {number} | {x['latency_ms']['p50']:g} / {x['latency_ms']['p99']:g} "
            f"| {x['rate']:g} | {x['e2e_leads_per_s']:g} | {_cpu(x)} "
            f"| {x['lost']} / {x['duplicated']} / {x['refused']} "
            f"| {t['latency_ms']['p50']:g} / {t['latency_ms']['p99']:g} | {t['rate']:g} "
            f"| {_cpu(t)} |"
        )
    lines += [
        "",
        "By kind, over the mixed windows (lost: accepted or stored, but not processed or no "
        "lead made; p99: the median of the windows' p99s):",
        "",
        "| kind | sent | accepted | stored | done | leads | lost | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, k in kinds.items():
        p99 = statistics.median(
            p["mixed"]["kinds"][kind]["latency_ms"]["p99"] for p in r["mixed_pairs"]
        )
        lines.append(
            f"| {kind} | {k['sent']} | {k['accepted']} | {k['stored']} | {k['done']} "
            f"| {k['leads']} | {k['lost']} | {round(p99, 2):g} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The run: the budgets, a table of pairs per ratio budget, the absolute figures of
    every window (every sample is in the JSON file)."""
    r = report["results"]
    lines = [
        f"# Ingestion benchmark — {report['date']}",
        "",
        f"Commit `{report['commit']}`; {report['machine']['cpu']}, {report['machine']['memory']};"
        f" Python {report['machine']['python']}. Settings: `{json.dumps(report['settings'])}`."
        + (f" Note: {report['note']}." if report.get("note") else ""),
        "",
        *ratios.budget_table(report["budgets"]),
    ]
    cpu = r["totals"]["cpu_ms"]
    lines += [
        "",
        "CPU our processes spent (web + worker + PostgreSQL, medians; for reference: what "
        f"the neighbours hardly change): {cpu['delivery_paced']:g} ms a paced delivery "
        f"against {cpu['trivial_request']:g} ms a trivial request; {cpu['lead_burst']:g} ms "
        f"a lead of a burst against {cpu['floor_task']:g} ms a floor task.",
    ]
    ran = (ENDPOINT_P99, MIXED_P99, END_TO_END, INBOX_BURST)  # as in the budgets' list
    ran = ran if r.get("mixed_pairs") else RATIO_BUDGETS
    for budget in ran:
        lines += ["", f"## {budget.name}", "", *ratios.table(budget, _budget(report, budget))]
    lines += [
        "",
        "## Every window (absolute figures, for reference)",
        "",
        f"Endpoint pairs: {report['settings']['deliveries'] // report['settings']['pairs']} "
        f"requests a window at {report['settings']['rate']:g}/s. Milliseconds p50 / p99; CPU: "
        "milliseconds our processes spent per request (web / worker / PostgreSQL backends; "
        "the endpoint's window lasts until its deliveries are processed).",
        "",
        "| pair | endpoint | rate | paced leads/s | CPU a delivery | trivial | rate "
        "| CPU a request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, pair in enumerate(r["endpoint_pairs"], 1):
        e, t = pair["endpoint"], pair["trivial"]
        lines.append(
            f"| {number} | {e['latency_ms']['p50']:g} / {e['latency_ms']['p99']:g} "
            f"| {e['rate']:g} | {e['e2e_leads_per_s']:g} | {_cpu(e)} "
            f"| {t['latency_ms']['p50']:g} / {t['latency_ms']['p99']:g} | {t['rate']:g} "
            f"| {_cpu(t)} |"
        )
    if r.get("mixed_pairs"):
        lines += _mixed_markdown(report)
    lines += [
        "",
        f"Cycles: the inbox idle for {report['settings']['idle_seconds']} s; wrk for "
        f"{report['settings']['burst_seconds']} s, the inbox sampled until the last delivery "
        f"was processed; {report['settings']['floor_tasks']} floor tasks. CPU per lead of the "
        "burst (the inbox's samples included) and per floor task.",
        "",
        "| cycle | inbox idle p50 / p99 (n) | accepted/s | e2e leads/s | queue p99 ms "
        "| inbox burst p50 / p99 (n) | CPU a lead | floor tasks/s | CPU a task "
        "| enqueue p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, c in enumerate(r["cycles"], 1):
        idle, b, f = c["idle"], c["burst"], c["floor"]
        lines.append(
            f"| {number} | {idle['p50']:g} / {idle['p99']:g} ({idle['n']}) "
            f"| {b['stored_per_s']:g} | {b['e2e_leads_per_s']:g} | {b['queue_ms']['p99']:g} "
            f"| {b['inbox']['p50']:g} / {b['inbox']['p99']:g} ({b['inbox']['n']}) "
            f"| {_cpu(b)} | {f['tasks_per_s']:g} | {_cpu(f)} | {f['enqueue_ms']['p50']:g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deliveries",
        type=int,
        default=int(os.environ.get("BENCH_DELIVERIES", 5000)),
        help="paced deliveries in all, split over the pairs' endpoint windows",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=5,
        help=f"pairs of windows for each ratio budget (at least {ratios.MIN_PAIRS})",
    )
    parser.add_argument(
        "--mixed-pairs",
        type=int,
        default=ratios.MIN_PAIRS,
        help="pairs of mixed and trivial windows after the endpoint pairs (every kind of "
        f"channel in rotation; at least {ratios.MIN_PAIRS}, 0: no mixed run)",
    )
    parser.add_argument("--rate", type=float, default=200, help="paced requests per second")
    parser.add_argument("--clients", type=int, default=16, help="threads of the paced client")
    parser.add_argument(
        "--burst-seconds", type=int, default=20, help="how long wrk posts in a burst window"
    )
    parser.add_argument(
        "--idle-seconds",
        type=int,
        default=25,
        help="how long the inbox is sampled idle (4 requests a second, as during a burst)",
    )
    parser.add_argument(
        "--floor-tasks", type=int, default=3000, help="one-row-insert tasks a floor window"
    )
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--web-workers", type=int, default=2, help="gunicorn sync workers serving the pages"
    )
    parser.add_argument(
        "--inbound",
        choices=["listener", "shared"],
        default="listener",
        help="deliveries to the workers' second listener (port+1, as gunicorn.conf.py and "
        "the proxy route of README 'Docker'), or to the pages' port",
    )
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="the worker's niceness (0: as the web)"
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_INGEST_PORT", 8766)))
    parser.add_argument(
        "--note", default=os.environ.get("BENCH_NOTE", ""), help="a remark for the results row"
    )
    args = parser.parse_args()
    if args.pairs < ratios.MIN_PAIRS:
        parser.error(f"--pairs: at least {ratios.MIN_PAIRS}")
    if 0 < args.mixed_pairs < ratios.MIN_PAIRS or args.mixed_pairs < 0:
        parser.error(f"--mixed-pairs: 0 or at least {ratios.MIN_PAIRS}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    owner_url = os.environ.get("BENCH_INGEST_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_INGEST_APP_URL", APP_URL)
    broker = os.environ.get("BENCH_INGEST_REDIS_URL", REDIS_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    # One key seals the mixed channels' secrets (setup, as the owner) and opens them (the
    # endpoint): each env has a SECRET_KEY of its own, from which the key would be derived.
    sealing = base64.urlsafe_b64encode(os.urandom(32)).decode()
    for env in (owner_env, app_env):
        env["REDIS_URL"] = broker
        env["FIELD_ENCRYPTION_KEYS"] = sealing

    create_database(owner_url)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], owner_env)
    redis.Redis.from_url(broker).flushdb()  # the benchmark's own Redis database
    setup = json.loads(
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "bench.ingest.setup", app_role],
            cwd=ROOT,
            env=owner_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    db = Database(owner_url, setup["tenant_id"])
    served = commit()
    logs = Path(tempfile.gettempdir())
    server = Server("127.0.0.1", args.port)
    # Deliveries go to the workers' second listener, as the proxy routes them in production
    # (README "Docker"), or with --inbound shared to the pages' port.
    ingest_port = args.port if args.inbound == "shared" else args.port + 1
    ingest = Server("127.0.0.1", ingest_port)
    endpoint = f"/in/{setup['token']}/"
    phones = Phones(setup["phone_base"])
    per_window = math.ceil(args.deliveries / args.pairs)

    gunicorn_log = logs / "bench-ingest-gunicorn.log"
    gunicorn = start_gunicorn(
        app_env,
        args.port,
        gunicorn_log,
        workers=args.web_workers,
        also=(ingest_port,) if args.inbound == "listener" else (),
    )
    worker_log = logs / "bench-ingest-worker.log"
    worker = start_worker(app_env, args.concurrency, args.worker_nice, worker_log)
    try:
        with Celery("bench", broker=broker, set_as_current=False) as client:
            # A Celery client configured like the application: Redis, JSON, the same
            # transport options.
            client.conf.broker_transport_options = {"visibility_timeout": 3600, "max_retries": 0}
            client.conf.task_serializer = "json"
            b = Bench(
                args=args,
                db=db,
                server=server,
                ingest=ingest,
                cookie=login(server, setup["email"], BENCH_PASSWORD),
                inbox=f"/{setup['slug']}/leads/inbox/",
                endpoint=endpoint,
                form=f"/in/{setup['form_token']}/",
                secret=setup["secret"],
                phones=phones,
                queue=redis.Redis.from_url(broker),
                task=client.signature("bench.floor_insert"),
                cpu={
                    "web": lambda: family(gunicorn.pid),
                    "worker": lambda: family(worker.pid),
                    "postgres": db.backends,
                },
                mixed=setup["mixed"],
                mixed_ids=db.channel_kinds({k: c["token"] for k, c in setup["mixed"].items()}),
            )
            # Warm-up: each web and worker process imports and caches what the endpoint, the
            # drain and the floor's task use on their first calls (≈ 0.2 s, enough to move a
            # p99 of 5,000); the worker proves it runs.
            since = db.now()
            warm_id, warm = paced(
                ingest,
                endpoint,
                setup["secret"],
                count=WARMUP,
                rate=50,
                clients=4,
                base=phones.take(WARMUP),
            )
            settle(db, warm_id, since, warm["accepted"], 120)
            if args.mixed_pairs:
                since = db.now()
                _run, warm = paced_mixed(
                    ingest, b.mixed, count=WARMUP, rate=50, clients=4, base=phones.take(WARMUP)
                )
                settle_mixed(db, b.mixed_ids, since, warm, 120)
            trivial(ingest, b.form, count=WARMUP, rate=50, clients=4)
            floor(b.task, db, FLOOR_WARMUP)
            for _ in range(5):
                server.get_ok(b.inbox, b.cookie)

            results: dict[str, Any] = {"endpoint_pairs": [], "cycles": []}
            for number in range(1, args.pairs + 1):
                print(f"Endpoint pair {number}/{args.pairs}: {per_window} requests each…")
                pair = endpoint_pair(b, per_window)
                results["endpoint_pairs"].append(pair)
                print(
                    f"  endpoint p99 {pair['endpoint']['latency_ms']['p99']} ms at "
                    f"{pair['endpoint']['rate']}/s, trivial p99 "
                    f"{pair['trivial']['latency_ms']['p99']} ms at {pair['trivial']['rate']}/s",
                    flush=True,
                )
            if args.mixed_pairs:
                results["mixed_pairs"] = []
            for number in range(1, args.mixed_pairs + 1):
                kinds = ", ".join(mixed.rotation(b.mixed))
                print(f"Mixed pair {number}/{args.mixed_pairs} ({kinds}): {per_window} each…")
                pair = mixed_pair(b, per_window)
                results["mixed_pairs"].append(pair)
                print(
                    f"  mixed p99 {pair['mixed']['latency_ms']['p99']} ms at "
                    f"{pair['mixed']['rate']}/s, trivial p99 "
                    f"{pair['trivial']['latency_ms']['p99']} ms at {pair['trivial']['rate']}/s; "
                    f"{pair['mixed']['lost']} lost, {pair['mixed']['duplicated']} duplicated",
                    flush=True,
                )
            enqueue: list[float] = []
            for number in range(1, args.pairs + 1):
                print(f"Cycle {number}/{args.pairs}: idle, burst, floor…", flush=True)
                c = cycle(b)
                enqueue += c["floor"].pop("enqueue_samples")
                results["cycles"].append(c)
                print(
                    f"  inbox p99 idle {c['idle']['p99']} ms, burst {c['burst']['inbox']['p99']}"
                    f" ms; {c['burst']['e2e_leads_per_s']} leads/s against the floor's "
                    f"{c['floor']['tasks_per_s']} tasks/s",
                    flush=True,
                )
    finally:
        stop_worker(worker)
        stop_gunicorn(gunicorn)
    results["totals"] = totals(results, enqueue)

    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "note"},
        "note": args.note,
        "results": results,
    }
    report["budgets"] = budgets(results, args.rate)
    # The time in the name: runs of one commit (a variance check) keep their own files.
    stem = (
        BENCH / "results" / f"{report['date']}-{now:%H%M}-ingest-{label(args.deliveries)}-"
        f"{served.replace('+', '-')}"
    )
    if results.get("mixed_pairs"):
        # The mixed run's own table (publish() adds the run's row to the ratios table).
        update_readme(mixed_row(report), begin=MIXED_BEGIN, end=MIXED_END)
    publish(
        report,
        stem,
        markdown=markdown,
        row=readme_row(report),
        begin=README_BEGIN,
        end=README_END,
    )


if __name__ == "__main__":
    main()
