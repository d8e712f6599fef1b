"""Live arrivals benchmark: `make bench-live` — 200 open inboxes polling, nothing arriving.

1. creates the database `voronka_bench_live` (owner role) when missing, migrates it,
   collects static files, loads one tenant (`bench.generate`, 20k leads by default;
   `--skip-load` measures it as it is);
2. serves the application with gunicorn (2 sync workers, production settings, the
   application role, Redis for the cache and sessions) on 127.0.0.1:BENCH_LIVE_PORT;
3. logs the benchmark's manager in through the login form, opens the inbox and reads the
   poll's token and versions from the page (crm/live.py), as static/js/live.js does: the
   `--tabs` open inboxes poll with them;
4. measures in `--pairs` pairs of adjacent windows of `--window` seconds, paced open loop
   at tabs ÷ interval requests a second (200 ÷ 1.5 s ≈ 133/s):
   - **live**: every tab polls `/<slug>/leads/live/?v=…` with its token: 204, unchanged;
   - **floor**: as many `GET /bench/ping/` (anonymous, the whole middleware stack, an empty
     204 — the least a request to this server costs);
   then one window, for reference, of the same polls **without the short path** (no
   token: session, user, membership, the view — what a poll through the stack costs);
   for each window: the CPU seconds of gunicorn (master and workers) and of the database's
   backends (bench/cpu.py), and the transactions the database committed or rolled back
   (`pg_stat_database` of the benchmark's database, read from another database after the
   backends' statistics are flushed): any SQL statement is in one;
5. writes bench/results/<date>-<HHMM>-live-<commit>.{json,md}, adds a row to the "Live
   arrivals" table of bench/README.md, exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from bench import ratios
from bench.cpu import CpuMeter, family
from bench.ingest.run import pace, paced_summary
from bench.measure import BenchError, Server, login
from bench.plan import BENCH_PASSWORD, big_tenant, label, measured_manager_email
from bench.run import (
    BENCH,
    commit,
    create_database,
    django_env,
    machine,
    publish,
    run,
    start_gunicorn,
    stop_gunicorn,
)

OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench_live"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench_live"
README_BEGIN = "<!-- live:begin -->"
README_END = "<!-- live:end -->"
LIVE_CPU = ratios.RatioBudget(
    name="idle live polls' server CPU ≤ 1.5× the floor's",
    subject="live CPU s/min",
    floor="floor CPU s/min",
    bound=1.5,
    at_least=False,
)
LIVE_TAG = re.compile(r'<div id="live"[^>]*>')
ATTRIBUTE = re.compile(r'data-(token|v)="([^"]*)"')
# Backends flush their statistics at most once a second, and an idle one within 10 s.
STATS_FLUSH_S = 11.0


class Database:
    """The benchmark database's counters, read from the maintenance database (reading them
    there adds no transaction to the one measured)."""

    def __init__(self, owner_url: str) -> None:
        self.url = owner_url
        self.name = conninfo.conninfo_to_dict(owner_url)["dbname"]
        self.connection = psycopg.connect(
            conninfo.make_conninfo(owner_url, dbname="postgres"), autocommit=True
        )

    def transactions(self) -> int:
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        row = self.connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [self.name],
        ).fetchone()
        return int(row[0])

    def backends(self) -> list[int]:
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.name]
        ).fetchall()
        return [row[0] for row in rows]


class Tab:
    """An open inbox: its session cookie, token and versions, as static/js/live.js has them."""

    def __init__(self, server: Server, slug: str, cookie: str) -> None:
        page = server.get_ok(f"/{slug}/leads/inbox/", cookie).decode()
        tag = LIVE_TAG.search(page)
        if tag is None:
            raise BenchError("the inbox carries no live poll (templates/components/_live.html)")
        found = dict(ATTRIBUTE.findall(tag.group(0)))
        self.cookie, self.token, self.v = cookie, html.unescape(found["token"]), found["v"]
        self.path = f"/{slug}/leads/live/?v={self.v}"


def window(
    kind: str,
    send: Any,
    *,
    expected: int,
    rate: float,
    seconds: float,
    clients: int,
    db: Database,
    gunicorn_pid: int,
) -> dict[str, Any]:
    """One paced window: its requests, CPU and transactions per minute."""
    time.sleep(STATS_FLUSH_S)  # the previous window's statistics are in
    before = db.transactions()
    meter = CpuMeter({"web": lambda: family(gunicorn_pid), "db": db.backends})
    count = round(rate * seconds)
    with meter:
        start, results = pace(send, count=count, rate=rate, clients=clients)
    elapsed = max(r[2] for r in results) - start
    time.sleep(STATS_FLUSH_S)
    transactions = db.transactions() - before
    summary = paced_summary(start, results, expected=expected)
    if summary["refused"]:
        raise BenchError(f"{kind}: {summary['refused']} requests answered other than {expected}")
    per_minute = 60 / elapsed
    result = {
        "kind": kind,
        **summary,
        "seconds": round(elapsed, 1),
        "cpu_s": meter.spent,
        "web_cpu_s_per_min": round(meter.spent["web"] * per_minute, 2),
        "db_cpu_s_per_min": round(meter.spent["db"] * per_minute, 2),
        "cpu_ms_per_request": meter.per(len(results)),
        "transactions": transactions,
        "transactions_per_min": round(transactions * per_minute),
    }
    print(
        f"  {kind:<6} {summary['rate']:6.1f}/s  web {result['web_cpu_s_per_min']:5.2f} CPU s/min"
        f"  db {result['db_cpu_s_per_min']:5.2f}  {result['transactions_per_min']:6d} xact/min"
        f"  p50 {summary['latency_ms']['p50']} ms",
        flush=True,
    )
    return result


def budgets(pairs: list[tuple[dict, dict]], rate: float) -> list[dict[str, Any]]:
    live = [p[0] for p in pairs]
    kept = statistics.median(w["rate"] / rate for p in pairs for w in p)
    return [
        {
            "budget": "idle live polls: no SQL (transactions of the live windows)",
            "value": f"{sum(w['transactions'] for w in live)} in {len(live)} windows",
            "ok": all(w["transactions"] == 0 for w in live),
        },
        ratios.judge(
            LIVE_CPU,
            [(p[0]["web_cpu_s_per_min"], p[1]["web_cpu_s_per_min"]) for p in pairs],
        ),
        {
            "budget": "both sides kept ≥ 95% of the rate (median of the windows)",
            "value": f"{kept:.0%}",
            "ok": kept >= 0.95,
        },
    ]


def readme_row(report: dict[str, Any]) -> str:
    r = report["results"]
    cpu = next(b for b in report["budgets"] if b["budget"] == LIVE_CPU.name)["ratio"]
    missed = [b["budget"] for b in report["budgets"] if not b["ok"]]
    cells = [
        report["date"],
        f"`{report['commit']}`",
        f"{report['settings']['tabs']} tabs / {report['settings']['interval']:g} s",
        f"{r['live']['web_cpu_s_per_min']:g}",
        f"{r['live']['transactions_per_min']:g}",
        f"{r['floor']['web_cpu_s_per_min']:g}",
        f"{LIVE_CPU.show(cpu['median'])} ({LIVE_CPU.show(cpu['min'])}–{LIVE_CPU.show(cpu['max'])})",
        f"{r['stack']['web_cpu_s_per_min']:g} CPU s, {r['stack']['transactions_per_min']:g} xact",
        "all met" if not missed else f"{len(missed)} missed",
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    s, r = report["settings"], report["results"]
    lines = [
        f"# Live arrivals benchmark — {report['date']}",
        "",
        f"Commit `{report['commit']}`; {report['machine']['cpu']}, {report['machine']['memory']}; "
        f"Python {report['machine']['python']}. Tenant `{report['slug']}` "
        f"({label(report['leads'])} leads) as `{report['email']}`; {s['tabs']} open "
        f"inboxes polling every {s['interval']:g} s ({report['rate']:.1f} requests/s), "
        f"{s['pairs']} pairs of {s['window']:g} s windows (live, then floor), then one window "
        "of the polls through the whole stack.",
        "",
        "| window | req/s | p50 ms | p99 ms | web CPU s/min | db CPU s/min | web CPU ms/request "
        "| transactions/min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in report["windows"]:
        lines.append(
            f"| {w['kind']} | {w['rate']:g} | {w['latency_ms']['p50']:g} | "
            f"{w['latency_ms']['p99']:g} | {w['web_cpu_s_per_min']:g} | {w['db_cpu_s_per_min']:g} "
            f"| {w['cpu_ms_per_request']['web']:g} | {w['transactions_per_min']:g} |"
        )
    lines += [
        "",
        "Medians: live "
        f"{r['live']['web_cpu_s_per_min']:g} CPU s/min and {r['live']['transactions_per_min']:g} "
        f"transactions/min; floor {r['floor']['web_cpu_s_per_min']:g} CPU s/min; through the "
        f"whole stack {r['stack']['web_cpu_s_per_min']:g} CPU s/min (+ "
        f"{r['stack']['db_cpu_s_per_min']:g} in PostgreSQL) and "
        f"{r['stack']['transactions_per_min']:g} transactions/min.",
        "",
        *ratios.budget_table(report["budgets"]),
    ]
    judged = next(b for b in report["budgets"] if b["budget"] == LIVE_CPU.name)
    lines += ["", f"### {LIVE_CPU.name}", "", *ratios.table(LIVE_CPU, judged)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--tabs", type=int, default=200, help="open inboxes")
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between polls")
    parser.add_argument("--window", type=float, default=12, help="seconds of a window")
    parser.add_argument("--pairs", type=int, default=5, help="live/floor pairs of windows")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_LIVE_PORT", 8767)))
    parser.add_argument("--skip-load", action="store_true", help="measure the data as it is")
    args = parser.parse_args()
    if args.pairs < ratios.MIN_PAIRS:
        parser.error(f"--pairs: at least {ratios.MIN_PAIRS}")

    owner_url = os.environ.get("BENCH_LIVE_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_LIVE_APP_URL", APP_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    if not app_env.get("REDIS_URL"):
        raise SystemExit("the live poll is measured with Redis: set BENCH_REDIS_URL")
    plan = big_tenant(args.leads)
    create_database(owner_url)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], owner_env)
    if not args.skip_load:
        load = ["-m", "bench.generate", f"--leads={args.leads}", "--tenants=1"]
        run([sys.executable, *load], owner_env)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    served = commit()
    db = Database(owner_url)
    rate = args.tabs / args.interval

    gunicorn = start_gunicorn(
        app_env, args.port, Path(tempfile.gettempdir()) / "bench-live-gunicorn.log"
    )
    try:
        server = Server("127.0.0.1", args.port)
        # The benchmark's manager (the only one with a password) in every tab: each tab's
        # poll costs the same whoever it is (a token, a cookie, one cache round trip).
        email = measured_manager_email(plan)
        tabs = [Tab(server, plan.slug, login(server, email, BENCH_PASSWORD))] * args.tabs
        print(f"{args.tabs} inboxes of {email}, {rate:.1f} polls/s", flush=True)
        if server.request(tabs[0].path, cookie=tabs[0].cookie, headers=_token(tabs[0]))[0] != 204:
            raise BenchError("an idle poll was not answered 204")

        def live(i: int) -> int:
            tab = tabs[i % len(tabs)]
            return server.request(tab.path, cookie=tab.cookie, headers=_token(tab))[0]

        def floor(_i: int) -> int:
            return server.request("/bench/ping/")[0]

        def stack(i: int) -> int:
            tab = tabs[i % len(tabs)]
            return server.request(tab.path, cookie=tab.cookie)[0]

        common = {
            "rate": rate,
            "seconds": args.window,
            "clients": args.clients,
            "db": db,
            "gunicorn_pid": gunicorn.pid,
        }
        windows: list[dict[str, Any]] = []
        pairs = []
        for _ in range(args.pairs):
            pair = (
                window("live", live, expected=204, **common),
                window("floor", floor, expected=204, **common),
            )
            pairs.append(pair)
            windows += pair
        windows.append(window("stack", stack, expected=200, **common))
    finally:
        stop_gunicorn(gunicorn)

    def median(kind: str, key: str) -> float:
        return statistics.median(w[key] for w in windows if w["kind"] == kind)

    keys = ("web_cpu_s_per_min", "db_cpu_s_per_min", "transactions_per_min")
    results = {kind: {k: median(kind, k) for k in keys} for kind in ("live", "floor", "stack")}
    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "leads": args.leads,
        "slug": plan.slug,
        "email": email,
        "rate": rate,
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "skip_load"},
        "windows": windows,
        "results": results,
        "budgets": budgets(pairs, rate),
    }
    stem = BENCH / "results" / f"{report['date']}-{now:%H%M}-live-{served.replace('+', '-')}"
    publish(
        report,
        stem,
        markdown=markdown,
        row=readme_row(report),
        begin=README_BEGIN,
        end=README_END,
    )


def _token(tab: Tab) -> dict[str, str]:
    return {"X-Live-Token": tab.token}


if __name__ == "__main__":
    main()
