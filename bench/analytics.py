"""The analytics benchmark: `make bench-analytics` (1M leads) or
`BENCH_LEADS=10000000 make bench-analytics`.

On a database loaded by `bench.generate` (bench/README.md; BENCH_ANALYTICS_OWNER_URL and
BENCH_ANALYTICS_APP_URL name it), migrated as the owner: gunicorn serves the application
(2 sync workers, production settings, the application role under row-level security);
the benchmark logs in as the big tenant's administrator (every figure of the workspace) and
measures the dashboard and every report, for each period of --periods, each request
followed by one of its floor — the same report's SQL run raw (bench/aggregates.py) — so
both are sampled at the same moments. Budgets: p95 ≤ 300 ms a page at 1M leads (600 ms at
10M) and p95 ≤ 2.5× the floor's. Writes bench/results/<date>-<HHMM>-analytics-<leads>-
<commit>.{json,md} and a row per page to bench/README.md; exit status 1 when a budget of the
default period is missed (bench.run.publish).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import conninfo

from bench.measure import Server, interleaved_latency, login
from bench.plan import BENCH_PASSWORD, admin_email, big_tenant, label
from bench.run import (
    BENCH,
    commit,
    django_env,
    machine,
    publish,
    run,
    start_gunicorn,
    stop_gunicorn,
)

OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench_a13"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench_a13"
PAGES = ("dashboard", "status", "sources", "managers", "funnel", "speed", "losses", "deals")
DEFAULT_PERIOD = "last_30_days"
RATIO_BOUND = 2.5
BEGIN, END = "<!-- analytics:begin -->", "<!-- analytics:end -->"


def page_path(slug: str, page: str, period: str) -> str:
    prefix = f"/{slug}/analytics/"
    return (
        f"{prefix}?period={period}" if page == "dashboard" else f"{prefix}{page}/?period={period}"
    )


def measure(server: Server, slug: str, cookie: str, args: argparse.Namespace) -> list[dict]:
    """Each page and its floor, interleaved, for each period."""
    results = []
    for period in args.periods:
        for page in PAGES:
            subject = page_path(slug, page, period)
            floor = f"/bench/aggregates/{slug}/{page}/?period={period}"
            timing, base = interleaved_latency(
                server,
                subject,
                floor,
                cookie,
                count=args.requests,
                warmup=args.warmup,
                limit_s=args.limit,
            )
            page_ms, floor_ms = timing.summary(), base.summary()
            row = {
                "period": period,
                "page": page,
                **{k: page_ms[k] for k in ("n", "p50", "p95", "p99")},
                "floor_p50": floor_ms["p50"],
                "floor_p95": floor_ms["p95"],
                "ratio_p95": round(page_ms["p95"] / floor_ms["p95"], 2),
            }
            results.append(row)
            print(f"  {period:<14} {page:<10} {row}", flush=True)
    return results


def budgets(leads: int, results: list[dict]) -> list[dict[str, Any]]:
    """The budgets of the default period: p95 in ms, and p95 over the floor's p95."""
    limit = 300 if leads <= 1_000_000 else 600
    judged = []
    for row in results:
        if row["period"] != DEFAULT_PERIOD:
            continue
        judged.append(
            {
                "budget": f"{row['page']} p95 ≤ {limit} ms",
                "value": f"{row['p95']} ms",
                "ok": row["p95"] <= limit,
            }
        )
        judged.append(
            {
                "budget": f"{row['page']} p95 ≤ {RATIO_BOUND}× its raw aggregate",
                "value": f"{row['ratio_p95']}×",
                "ok": row["ratio_p95"] <= RATIO_BOUND,
            }
        )
    return judged


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Analytics benchmark {report['date']} · {label(report['leads'])} leads · "
        f"`{report['commit']}`",
        "",
        f"Machine: {report['machine']['cpu']}, {report['machine']['memory']}.",
        "",
        "| period | page | n | p50 ms | p95 ms | p99 ms | raw SQL p95 ms | p95 ÷ raw |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['period']} | {r['page']} | {r['n']} | {r['p50']} | {r['p95']} | {r['p99']} | "
        f"{r['floor_p95']} | {r['ratio_p95']}× |"
        for r in report["results"]
    ]
    lines += ["", "| budget | value | ok |", "|---|---|---|"]
    lines += [
        f"| {b['budget']} | {b['value']} | {'yes' if b['ok'] else '**no**'} |"
        for b in report["budgets"]
    ]
    return "\n".join(lines) + "\n"


def readme_row(report: dict[str, Any]) -> str:
    default = [r for r in report["results"] if r["period"] == DEFAULT_PERIOD]
    cells = " | ".join(f"{r['p95']} ({r['ratio_p95']}×)" for r in default)
    missed = sum(not b["ok"] for b in report["budgets"])
    verdict = "all met" if not missed else f"{missed} missed"
    return (
        f"| {report['date']} | `{report['commit']}` | {label(report['leads'])} | {cells} | "
        f"{verdict} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=int(os.environ.get("BENCH_LEADS", 10**6)))
    parser.add_argument("--requests", type=int, default=40, help="requests a page and period")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--limit", type=float, default=120, help="seconds at most a page")
    parser.add_argument(
        "--periods",
        nargs="+",
        default=[DEFAULT_PERIOD, "this_quarter", "this_year"],
        help="report periods (presets); the budgets judge the first",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8766)))
    args = parser.parse_args()

    owner_url = os.environ.get("BENCH_ANALYTICS_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_ANALYTICS_APP_URL", APP_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    plan = big_tenant(args.leads)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], owner_env)
    served = commit()
    gunicorn = start_gunicorn(
        app_env, args.port, Path(tempfile.gettempdir()) / "bench-analytics-gunicorn.log"
    )
    try:
        server = Server("127.0.0.1", args.port)
        cookie = login(server, admin_email(plan.slug), BENCH_PASSWORD)
        print(f"Measuring {plan.slug} as its administrator ({args.requests} requests a page)…")
        results = measure(server, plan.slug, cookie, args)
    finally:
        stop_gunicorn(gunicorn)
    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "leads": args.leads,
        "slug": plan.slug,
        "machine": machine(),
        "settings": vars(args),
        "results": results,
        "budgets": budgets(args.leads, results),
    }
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    stem = results_dir / (
        f"{report['date']}-{now:%H%M}-analytics-{label(args.leads)}-{served.replace('+', '-')}"
    )
    publish(report, stem, markdown=markdown, row=readme_row(report), begin=BEGIN, end=END)


if __name__ == "__main__":
    main()
