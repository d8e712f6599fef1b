"""The ingestion benchmark: `make bench-ingest` (BENCH_DELIVERIES deliveries a phase, 5000).

1. creates the database `voronka_bench_ingest` when missing, migrates it as the owner,
   collects static files, empties the benchmark's Redis database, and prepares the tenant
   `ingest`, its API channel and the floor's table, then VACUUM ANALYZE (bench/ingest/setup.py);
2. starts gunicorn (2 sync workers, production settings, the application role) listening on
   127.0.0.1:BENCH_INGEST_PORT for pages and on the next port for deliveries (as
   gunicorn.conf.py), and a Celery worker (prefork, 2 processes, `nice -n 10`) on Redis;
   100 warm-up deliveries, processed;
3. floor: N one-row-insert tasks, each `.apply_async` timed, then tasks/s until all rows exist;
4. the inbox of a manager, idle: requested 4 times a second for --idle-seconds (60);
5. paced: N distinct deliveries POSTed at a constant --rate (200/s) by an open-loop client,
   the inbox requested 4 times a second meanwhile; endpoint latency, end-to-end leads/s (first
   delivery stored until the last one processed), lost and duplicated leads;
6. burst: wrk posting distinct deliveries as fast as the endpoint takes them for
   --burst-seconds (post.lua): deliveries/s accepted, end-to-end leads/s, the inbox
   meanwhile (until the last delivery is processed), lost and duplicated;
7. writes bench/results/<date>-ingest-<N>-<commit>.{json,md}, adds a row to the "Ingestion"
   table of bench/README.md and checks the budgets (exit status 1 when one is missed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery import Celery
from psycopg import conninfo

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
)

OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench_ingest"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench_ingest"
REDIS_URL = "redis://127.0.0.1:6379/9"
README_BEGIN = "<!-- ingest:begin -->"
README_END = "<!-- ingest:end -->"
WARMUP = 100  # deliveries before measuring


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

    def summary(self) -> dict[str, Any]:
        """Percentiles, the five slowest requests and every one, as (seconds into the
        phase, ms)."""
        series = [
            [round(at, 2), round(ms, 1)] for at, ms in zip(self.offsets, self.samples, strict=True)
        ]
        return {
            **percentiles(self.samples),
            "slowest": sorted(series, key=lambda s: -s[1])[:5],
            "series": series,
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


def paced(
    server: Server, path: str, secret: str, *, count: int, rate: float, clients: int, base: int
) -> tuple[str, dict[str, Any]]:
    """POST `count` distinct deliveries at `rate`/s (open loop: each request has its
    scheduled time, so a slow answer does not delay the next ones' schedule)."""
    run_id = f"paced-{uuid.uuid4().hex[:10]}"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}
    results: list[tuple[float, float, float, int]] = []
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
                status = server.request(
                    path, method="POST", body=delivery(base + i, run_id), headers=headers
                )[0]
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
    accepted = sum(1 for r in results if r[3] == 202)
    last = max(r[2] for r in results)
    return run_id, {
        "sent": len(results),
        "accepted": accepted,
        "refused": len(results) - accepted,
        "start": start,
        "rate": round(len(results) / (last - start), 1),
        "latency_ms": percentiles([(r[2] - r[1]) * 1000 for r in results]),
        # From each request's scheduled time: includes waiting for a free client thread.
        "latency_from_schedule_ms": percentiles([(r[2] - r[0]) * 1000 for r in results]),
    }


def burst(
    url: str, secret: str, *, seconds: int, threads: int, connections: int, base: int
) -> tuple[str, dict[str, Any]]:
    """wrk posting distinct deliveries back to back for `seconds`."""
    run_id = f"burst-{uuid.uuid4().hex[:10]}"
    env = dict(
        os.environ,
        INGEST_TOKEN=secret,
        INGEST_RUN=run_id,
        INGEST_PHONE_BASE=str(base),
        INGEST_STRIDE=str(1_000_000),
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


def floor(broker: str, db: Database, count: int) -> dict[str, Any]:
    """`count` one-row-insert tasks: the cost of each `.apply_async`, then tasks/s."""
    with Celery("bench", broker=broker, set_as_current=False) as client:
        client.conf.broker_transport_options = {"visibility_timeout": 3600, "max_retries": 0}
        client.conf.task_serializer = "json"
        task = client.signature("bench.floor_insert")
        task.apply_async(args=[-1])  # the connection, and proof the worker runs
        wait_until(lambda: db.floor_rows() == 1, 120, "the Celery worker to start")
        enqueue: list[float] = []
        start = time.monotonic()
        for n in range(count):
            began = time.perf_counter()
            task.apply_async(args=[n])
            enqueue.append((time.perf_counter() - began) * 1000)
        done = wait_until(lambda: db.floor_rows() == count + 1, 60 + count / 20, "floor rows")
    return {
        "tasks": count,
        "tasks_per_s": round(count / (done - start), 1),
        "enqueue_ms": {**percentiles(enqueue), "mean": round(sum(enqueue) / len(enqueue), 3)},
    }


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


def budgets(r: dict[str, Any]) -> list[dict[str, Any]]:
    idle, during = r["inbox_idle"]["p99"], r["inbox_burst"]["p99"]
    lost = r["paced"]["lost"] + r["burst"]["lost"]
    duplicated = r["paced"]["duplicated"] + r["burst"]["duplicated"]
    refused = r["paced"]["refused"] + r["burst"]["refused"]
    return [
        {
            "budget": "endpoint p99 ≤ 50 ms at 200 deliveries/s",
            "value": f"{r['paced']['latency_ms']['p99']} ms at {r['paced']['rate']}/s",
            "ok": r["paced"]["latency_ms"]["p99"] <= 50 and r["paced"]["rate"] >= 190,
        },
        {
            "budget": "end-to-end ≥ 150 leads/s",
            "value": f"{r['paced']['e2e_leads_per_s']} leads/s",
            "ok": r["paced"]["e2e_leads_per_s"] >= 150,
        },
        {
            "budget": "enqueueing ≤ 2 ms",
            "value": f"p50 {r['floor']['enqueue_ms']['p50']} ms",
            "ok": r["floor"]["enqueue_ms"]["p50"] <= 2,
        },
        {
            "budget": "zero lost, duplicated or refused deliveries",
            "value": f"{lost} lost, {duplicated} duplicated, {refused} refused",
            "ok": lost == duplicated == refused == 0,
        },
        {
            "budget": "inbox p99 during a burst ≤ 2× idle",
            "value": f"{during} ms vs {idle} ms",
            "ok": during <= 2 * idle,
        },
    ]


def readme_row(report: dict[str, Any]) -> str:
    r = report["results"]
    missed = [b["budget"] for b in report["budgets"] if not b["ok"]]
    cells = [
        report["date"],
        f"`{report['commit']}`",
        str(report["settings"]["deliveries"]),
        f"{r['paced']['latency_ms']['p50']:g} / {r['paced']['latency_ms']['p99']:g}",
        f"{r['paced']['rate']:g}",
        f"{r['paced']['e2e_leads_per_s']:g}",
        f"{r['burst']['stored_per_s']:g}",
        f"{r['burst']['e2e_leads_per_s']:g}",
        f"{r['floor']['tasks_per_s']:g}",
        f"{r['floor']['enqueue_ms']['p50']:g} / {r['floor']['enqueue_ms']['p99']:g}",
        f"{r['inbox_idle']['p99']:g} / {r['inbox_burst']['p99']:g}",
        f"{r['paced']['lost'] + r['burst']['lost']} / "
        f"{r['paced']['duplicated'] + r['burst']['duplicated']}",
        "all met" if not missed else f"{len(missed)} missed",
        report.get("note", ""),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Ingestion benchmark — {report['date']}",
        "",
        f"Commit `{report['commit']}`; {report['machine']['cpu']}, {report['machine']['memory']};"
        f" Python {report['machine']['python']}. Settings: `{json.dumps(report['settings'])}`."
        + (f" Note: {report['note']}." if report.get("note") else ""),
        "",
        "```json",
        json.dumps(report["results"], ensure_ascii=False, indent=1),
        "```",
        "",
        "| budget | measured | |",
        "|---|---|---|",
    ]
    lines += [
        f"| {b['budget']} | {b['value']} | {'met' if b['ok'] else '**missed**'} |"
        for b in report["budgets"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deliveries",
        type=int,
        default=int(os.environ.get("BENCH_DELIVERIES", 5000)),
        help="deliveries in each phase (paced, burst) and floor tasks",
    )
    parser.add_argument("--rate", type=float, default=200, help="paced deliveries per second")
    parser.add_argument("--clients", type=int, default=16, help="threads of the paced client")
    parser.add_argument(
        "--burst-seconds", type=int, default=30, help="how long wrk posts in the burst phase"
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
    parser.add_argument(
        "--idle-seconds",
        type=int,
        default=60,
        help="how long the inbox is sampled idle (4 requests a second, as during the load)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_INGEST_PORT", 8766)))
    parser.add_argument(
        "--note", default=os.environ.get("BENCH_NOTE", ""), help="a remark for the results row"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    owner_url = os.environ.get("BENCH_INGEST_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_INGEST_APP_URL", APP_URL)
    broker = os.environ.get("BENCH_INGEST_REDIS_URL", REDIS_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    for env in (owner_env, app_env):
        env["REDIS_URL"] = broker

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
    inbox = f"/{setup['slug']}/leads/inbox/"
    n = args.deliveries
    settle_seconds = 120 + n / 20

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
        # Warm-up: each web and worker process imports and caches what the endpoint and the
        # drain use on its first deliveries (≈ 0.2 s, enough to move a p99 of 5,000).
        since = db.now()
        warm_id, warm = paced(
            ingest,
            endpoint,
            setup["secret"],
            count=WARMUP,
            rate=50,
            clients=4,
            base=setup["phone_base"] + 3_000_000,
        )
        settle(db, warm_id, since, warm["accepted"], 120)
        print(f"Floor: {n} one-row-insert tasks…", flush=True)
        results: dict[str, Any] = {"floor": floor(broker, db, n)}
        print(f"  {results['floor']}", flush=True)
        cookie = login(server, setup["email"], BENCH_PASSWORD)
        # Idle means idle: the worker done acknowledging the floor's tasks (their rows exist
        # a moment before), nothing left in the queue.
        queue = redis.Redis.from_url(broker)
        wait_until(lambda: queue.llen("celery") == 0, 60, "the floor's queue to empty", 0.1)
        time.sleep(1)
        for _ in range(5):  # warm-up
            server.get_ok(inbox, cookie)
        with InboxSampler(server, inbox, cookie) as idle_inbox:
            time.sleep(args.idle_seconds)
        results["inbox_idle"] = idle_inbox.summary()
        print(f"Inbox, idle: {results['inbox_idle']['p99']} ms p99", flush=True)

        print(f"Paced: {n} deliveries at {args.rate:g}/s…", flush=True)
        since = db.now()
        with InboxSampler(server, inbox, cookie) as paced_inbox:
            run_id, sent = paced(
                ingest,
                endpoint,
                setup["secret"],
                count=n,
                rate=args.rate,
                clients=args.clients,
                base=setup["phone_base"],
            )
            outcome = settle(db, run_id, since, sent["accepted"], settle_seconds)
        results["paced"] = {**sent, **outcome, "run": run_id}
        print(f"  {results['paced']}", flush=True)

        print(f"Burst: wrk for {args.burst_seconds} s…", flush=True)
        since = db.now()
        with InboxSampler(server, inbox, cookie) as burst_inbox:
            run_id, sent = burst(
                f"http://127.0.0.1:{ingest_port}{endpoint}",
                setup["secret"],
                seconds=args.burst_seconds,
                threads=args.wrk_threads,
                connections=args.wrk_connections,
                base=setup["phone_base"] + n,
            )
            outcome = settle(db, run_id, since, sent["accepted"], settle_seconds)
        results["burst"] = {**sent, **outcome, "run": run_id}
        print(f"  {results['burst']}", flush=True)
        results["inbox_paced"] = paced_inbox.summary()
        results["inbox_burst"] = burst_inbox.summary()
        for phase in ("idle", "paced", "burst"):
            shown = {k: v for k, v in results[f"inbox_{phase}"].items() if k != "series"}
            print(f"Inbox, {phase}: {shown}")
    finally:
        stop_worker(worker)
        stop_gunicorn(gunicorn)

    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "note"},
        "note": args.note,
        "results": results,
    }
    report["budgets"] = budgets(results)
    # The time in the name: runs of one commit (a variance check) keep their own files.
    stem = (
        BENCH
        / "results"
        / f"{report['date']}-{now:%H%M}-ingest-{label(n)}-{served.replace('+', '-')}"
    )
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
