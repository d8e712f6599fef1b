"""The inbox benchmark, end to end: `make bench` (1M leads) or `BENCH_LEADS=10000000 make bench`.

1. creates the database (owned by the owner role) when missing, migrates it as the owner,
   collects static files;
2. loads the data (`bench.generate`: one big tenant with BENCH_LEADS leads, small ones;
   `bench.activities`: the big tenant's activities);
3. serves the application with gunicorn (2 sync workers, production settings, the
   application role: row-level security on) on 127.0.0.1:BENCH_PORT;
4. logs in as a manager through the login form and measures, for the inbox, a filtered
   list, a phone search, a name search, the lead board with a filter, the top-bar search
   (last four digits, a name) and the floor page: server time of sequential requests
   (p50/p95/p99), then requests/s with concurrent clients — the inbox and the floor in
   --pairs pairs of short alternating windows (inbox, floor, inbox, floor…), the budget
   judged on the median of the pairs' ratios (bench/ratios.py), the other pages in one pair
   each, for reference;
5. stops gunicorn, profiles each page's SQL in-process (EXPLAIN ANALYZE of slow queries);
6. writes bench/results/<date>-<HHMM>-<leads>-<commit>.{json,md}, adds a row to bench/README.md and
   checks the budgets (exit status 1 when one is missed).

The commit recorded is the one gunicorn served ("+dirty": with uncommitted changes to
tracked files); `commit_profiled` in the JSON is the one the profiling step ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import conninfo, sql

from bench import ratios
from bench.measure import (
    BenchError,
    Server,
    interleaved_latency,
    interleaved_throughput,
    latency,
    login,
)
from bench.plan import BENCH_PASSWORD, TenantPlan, big_tenant, label, measured_manager_email
from leads.words import prefix_range, query_words

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench"
NAME_QUERY = "Сокол"  # Соколов/Соколова…: a common surname, ≈0.6% of leads
PAGES = ("inbox", "filtered", "phone", "name", "board", "floor")
# The lead board with a filter (issue 14): the manager's own and the pool's web-form leads.
BOARD_FILTERS = "source=web_form"
# The top-bar search (issue 14): its results page for the last four digits of the phone of
# one of the manager's leads (as a caller reads them out) and for the name above.
SEARCH_PAGES = ("search_digits", "search_name")
INBOX_THROUGHPUT = ratios.RatioBudget(
    name="inbox req/s ≥ 50% of the floor's",
    subject="inbox req/s",
    floor="floor req/s",
    bound=0.5,
    at_least=True,
    percent=True,
)
README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"


def run(command: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(command[1:] if command[0] == sys.executable else command), flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own commands


def django_env(database_url: str, app_role: str) -> dict[str, str]:
    """Production settings (DEBUG off) with the bench URLconf, on `database_url`."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url,
        DATABASE_APP_ROLE=app_role,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL="http://127.0.0.1",
        ENV_FILE="/nonexistent",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="",  # gunicorn.conf.py's access log off: no line a request
    )
    # Production runs with Redis (sessions and cache); BENCH_REDIS_URL="" measures without.
    env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    return env


def create_database(owner_url: str) -> None:
    """CREATE DATABASE … as the owner role (it has CREATEDB) unless it exists."""
    name = conninfo.conninfo_to_dict(owner_url)["dbname"]
    maintenance = conninfo.make_conninfo(owner_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        print(f"CREATE DATABASE {name}")
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def display_phone(e164: str) -> str:
    """+79671234567 → "8 (967) 123-45-67", as a Russian manager types it."""
    d = e164[2:]
    return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"


def discover(owner_url: str, plan: TenantPlan) -> dict[str, Any]:
    """The manager, a phone of one of their leads, facts about the data."""
    email = measured_manager_email(plan)
    with psycopg.connect(owner_url) as connection:
        tenant_id, membership_id = connection.execute(
            "SELECT t.id, m.id FROM crm_tenant t JOIN crm_membership m ON m.tenant_id = t.id "
            "JOIN crm_user u ON u.id = m.user_id WHERE t.slug = %s AND u.email = %s",
            [plan.slug, email],
        ).fetchone()
        (phone,) = connection.execute(
            "SELECT phone_e164 FROM leads_lead WHERE tenant_id = %s AND owner_id = %s "
            "AND phone_e164 <> '' AND deleted_at IS NULL AND archived_at IS NULL "
            "ORDER BY created_at DESC LIMIT 1",
            [tenant_id, membership_id],
        ).fetchone()
        (name_matches,) = connection.execute(
            "SELECT count(DISTINCT lead_id) FROM leads_leadword "
            "WHERE tenant_id = %s AND word >= %s AND word < %s",
            [tenant_id, *prefix_range(query_words(NAME_QUERY)[0])],
        ).fetchone()
        digits = phone[-4:]
        (digit_matches,) = connection.execute(
            "SELECT count(*) FROM leads_lead WHERE tenant_id = %s "
            "AND phone_tail >= %s AND phone_tail < %s",
            [tenant_id, *prefix_range(digits[::-1])],
        ).fetchone()
        (table_rows,) = connection.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'leads_lead'::regclass"
        ).fetchone()
        (pg_version,) = connection.execute("SHOW server_version").fetchone()
        (shared_buffers,) = connection.execute("SHOW shared_buffers").fetchone()
    return {
        "email": email,
        "phone": display_phone(phone),
        "name_query": NAME_QUERY,
        "name_matches": name_matches,
        "digits": digits,
        "digit_matches": digit_matches,
        "table_rows": table_rows,
        "postgres": f"{pg_version} (shared_buffers {shared_buffers})",
    }


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def start_gunicorn(
    env: dict[str, str],
    port: int,
    log: Path,
    workers: int = 2,
    also: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """gunicorn with `workers` sync workers listening on 127.0.0.1:port, then on the `also`
    ports (gunicorn.conf.py's order: pages first), ready to answer."""
    if not port_free(port):
        raise SystemExit(f"127.0.0.1:{port} is taken: set BENCH_PORT to a free port.")
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [
                str(BIN / "gunicorn"),
                "crm.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                *(f"--bind=127.0.0.1:{other}" for other in also),
                f"--workers={workers}",
                "--worker-class=sync",
                "--timeout=120",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    probe = Server("127.0.0.1", port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if probe.request("/healthz")[0] == 200:
                print(f"gunicorn (pid {server.pid}) on 127.0.0.1:{port}")
                return server
        except OSError:
            time.sleep(0.25)
    stop_gunicorn(server)
    raise SystemExit(f"gunicorn did not start, see {log}")


def stop_gunicorn(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to our gunicorn master (it stops its workers), SIGKILL after 30 s."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


def rows_shown(page: bytes) -> int:
    """Lead rows in a list page (or the floor's table, cards on the board, results of the
    top-bar search)."""
    return (
        page.count(b'<tr id="lead-')
        or page.count(b"<tr><td>")
        or page.count(b'class="kanban-card ')
        or page.count(b"data-search-result")
    )


def measure(
    server: Server, paths: dict[str, str], cookie: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Each page's server time (sequential requests), then requests/s: the inbox against the
    floor in `args.pairs` interleaved pairs of windows, every other page in one pair."""
    results: dict[str, Any] = {}
    floor = paths["floor"]
    for name, path in paths.items():
        shown = rows_shown(server.get_ok(path, cookie))
        if shown == 0:
            raise BenchError(f"{name} ({path}) shows no leads: nothing would be measured")
        if name == "floor":
            timing = latency(
                server, path, cookie, count=args.requests, warmup=args.warmup, limit_s=args.limit
            )
            results[name] = {"path": path, "rows": shown, **timing.summary()}
        else:
            # Every request followed by one of the floor: the page's p95 over the floor's p95
            # of the same moments, for reference (the budgets below are in milliseconds).
            timing, base = interleaved_latency(
                server,
                path,
                floor,
                cookie,
                count=args.requests,
                warmup=args.warmup,
                limit_s=args.limit,
            )
            floor_p95 = base.summary()["p95"]
            results[name] = {
                "path": path,
                "rows": shown,
                **timing.summary(),
                "floor_p95": floor_p95,
                "p95_x_floor": round(ratios.ratio(timing.summary()["p95"], floor_p95), 2),
            }
        print(f"  {name:<9} {results[name]}", flush=True)
    for name, path in paths.items():
        if name == "floor":
            continue
        # A slow page gets a longer window: at least ten of its requests' time.
        seconds = min(120.0, max(args.duration, results[name]["p50"] / 100))
        pairs = interleaved_throughput(
            server,
            path,
            floor,
            cookie,
            clients=args.clients,
            seconds=seconds,
            pairs=args.pairs if name == "inbox" else 1,
        )
        windows = [round(page["rps"], 1) for page, _base in pairs]
        floors = [round(base["rps"], 1) for _page, base in pairs]
        results[name]["rps_windows"] = windows
        results[name]["floor_rps_windows"] = floors
        results[name]["rps"] = statistics.median(windows)
        results[name]["floor_rps"] = statistics.median(floors)
        print(f"  {name:<9} req/s {windows} against the floor's {floors}", flush=True)
    inbox = results["inbox"]
    results["floor"]["rps"] = inbox["floor_rps"]
    results["floor"]["rps_windows"] = inbox["floor_rps_windows"]
    return results


def budgets(leads: int, results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's budgets, each with the measured value and whether it holds: server time
    in milliseconds (p95 of sequential requests), the inbox's throughput as the median ratio
    of its interleaved pairs with the floor."""
    inbox_ms = 100 if leads <= 1_000_000 else 150
    board_ms = 150 if leads <= 1_000_000 else 250
    inbox = results["inbox"]
    pairs = list(zip(inbox["rps_windows"], inbox["floor_rps_windows"], strict=True))
    return [
        {
            "budget": f"inbox p95 ≤ {inbox_ms} ms",
            "value": f"{results['inbox']['p95']} ms",
            "ok": results["inbox"]["p95"] <= inbox_ms,
        },
        {
            "budget": "phone search p95 ≤ 50 ms",
            "value": f"{results['phone']['p95']} ms",
            "ok": results["phone"]["p95"] <= 50,
        },
        {
            "budget": "name search p95 ≤ 150 ms",
            "value": f"{results['name']['p95']} ms",
            "ok": results["name"]["p95"] <= 150,
        },
        {
            "budget": f"board with filters p95 ≤ {board_ms} ms",
            "value": f"{results['board']['p95']} ms",
            "ok": results["board"]["p95"] <= board_ms,
        },
        ratios.judge(INBOX_THROUGHPUT, pairs),
        *(
            {
                "budget": f"top-bar search ({name.removeprefix('search_')}) p95 ≤ {inbox_ms} ms",
                "value": f"{results[name]['p95']} ms",
                "ok": results[name]["p95"] <= inbox_ms,
            }
            for name in SEARCH_PAGES
            if name in results
        ),
    ]


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": f"{memory_kb / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
    }


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - fixed git commands
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return git("rev-parse", "--short", "HEAD") + dirty


def _triple(page: dict[str, Any]) -> str:
    return f"{page['p50']:g} / {page['p95']:g} / {page['p99']:g}"


def readme_row(report: dict[str, Any]) -> str:
    r = report["results"]
    share = next(b for b in report["budgets"] if b["budget"] == INBOX_THROUGHPUT.name)["ratio"]
    show = INBOX_THROUGHPUT.show
    missed = [b["budget"] for b in report["budgets"] if not b["ok"]]
    cells = [
        report["date"],
        f"`{report['commit']}`",
        label(report["leads"]),
        *(_triple(r[page]) for page in PAGES),
        f"{r['inbox']['rps']:g}",
        f"{r['floor']['rps']:g}",
        f"{show(share['median'])} ({show(share['min'])}–{show(share['max'])})",
        "all met" if not missed else f"{len(missed)} missed",
        *(_triple(r[page]) if page in r else "" for page in SEARCH_PAGES),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    """The run in Markdown: table, budgets, where the time goes, slow plans."""
    r = report["results"]
    lines = [
        f"# Inbox benchmark, {label(report['leads'])} leads — {report['date']}",
        "",
        f"Commit `{report['commit']}`; {report['machine']['cpu']}, "
        f"{report['machine']['memory']}; PostgreSQL {report['data']['postgres']}; "
        f"Python {report['machine']['python']}.",
        f"Table `leads_lead`: {report['data']['table_rows']:,} rows; measured tenant "
        f"`{report['slug']}` as `{report['data']['email']}`; phone `{report['data']['phone']}`; "
        f"name `{report['data']['name_query']}` matches {report['data']['name_matches']:,} "
        "leads of the tenant; top-bar search: last digits "
        f"`{report['data'].get('digits', '')}` end the phones of "
        f"{report['data'].get('digit_matches', 0):,} leads of the tenant.",
        "",
        "| page | rows | n | p50 ms | p95 ms | p99 ms | max ms | p95 × floor's "
        f"| req/s ({report['settings']['clients']} clients) | floor req/s | × floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for page in (*PAGES, *(name for name in SEARCH_PAGES if name in r)):
        m = r[page]
        floor_rps = m.get("floor_rps", m["rps"])
        p95_x = f"{m['p95_x_floor']:g}× ({m['floor_p95']:g} ms)" if "p95_x_floor" in m else ""
        lines.append(
            f"| {page} `{m['path']}` | {m['rows']} | {m['n']} | {m['p50']:g} | {m['p95']:g} "
            f"| {m['p99']:g} | {m['max']:g} | {p95_x} | {m['rps']:g} | {floor_rps:g} "
            f"| {m['rps'] / floor_rps:.0%} |"
        )
    lines += [
        "",
        "Server time: each page's requests alternate with the floor's (the floor's p95 of the "
        "same moments in brackets); the floor's own row is a sequence of its own. "
        f"Requests/s: windows of {report['settings']['duration']:g} s, the floor's right after "
        f"each page's; the inbox in {report['settings']['pairs']} pairs (medians above), the "
        "other pages in one pair each (for reference).",
        "",
        *ratios.budget_table(report["budgets"]),
    ]
    judged = next(b for b in report["budgets"] if b["budget"] == INBOX_THROUGHPUT.name)
    lines += ["", f"### {INBOX_THROUGHPUT.name}", "", *ratios.table(INBOX_THROUGHPUT, judged)]
    lines += ["", "## Where the time goes (in-process, median of 3)", ""]
    if report.get("profile_error"):
        lines += ["The profile failed:", "", "```", report["profile_error"], "```", ""]
    for page, prof in report["profile"].items():
        lines.append(
            f"- **{page}**: {prof['total_ms']:g} ms in Django, of which "
            f"{prof['sql_ms']:g} ms SQL in {len(prof['queries'])} queries"
        )
        for query in sorted(prof["queries"], key=lambda q: -q["ms"])[:3]:
            cursor = " (server-side cursor)" if query.get("server_side_cursor") else ""
            lines.append(f"  - {query['ms']:g} ms{cursor}: `{query['sql'][:160]}…`")
    lines += ["", "## Plans of the queries over 5 ms", ""]
    for page, prof in report["profile"].items():
        for query in prof["queries"]:
            if "plan" in query:
                lines += [
                    f"### {page}: {query['ms']:g} ms",
                    "",
                    "```sql",
                    query["sql"],
                    "```",
                    "",
                    "```",
                    query["plan"],
                    "```",
                    "",
                ]
    return "\n".join(lines) + "\n"


def update_readme(row: str, begin: str = README_BEGIN, end: str = README_END) -> None:
    """Put the run's row first in the results table between `begin` and `end` of
    bench/README.md."""
    readme = BENCH / "README.md"
    head, rest = readme.read_text().split(begin, 1)
    table, tail = rest.split(end, 1)
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    table = "\n".join([*lines[:2], row, *lines[2:]])
    readme.write_text(f"{head}{begin}\n{table}\n{end}{tail}")


def publish(report: dict[str, Any], stem: Path, *, markdown: Any, row: str, **markers: str) -> None:
    """Write a run's results (JSON and Markdown), add its row to the README, print the
    budgets, and exit 1 when one is missed."""
    stem.parent.mkdir(exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    stem.with_suffix(".md").write_text(markdown(report))
    update_readme(row, **markers)
    print()
    print(row)
    for item in report["budgets"]:
        print(f"  {'met   ' if item['ok'] else 'MISSED'} {item['budget']}: {item['value']}")
    print(f"Details: {stem.with_suffix('.md').relative_to(ROOT)}")
    if not all(item["ok"] for item in report["budgets"]):
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=int(os.environ.get("BENCH_LEADS", 10**6)))
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests a page")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--limit", type=float, default=180, help="seconds at most a page")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--duration", type=float, default=5, help="seconds of a throughput window (min)"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=8,
        help=f"interleaved inbox/floor pairs of windows (at least {ratios.MIN_PAIRS})",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8765)))
    parser.add_argument("--skip-load", action="store_true", help="measure the data as it is")
    args = parser.parse_args()
    if args.pairs < ratios.MIN_PAIRS:
        parser.error(f"--pairs: at least {ratios.MIN_PAIRS}")

    owner_url = os.environ.get("BENCH_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_APP_URL", APP_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    plan = big_tenant(args.leads)

    create_database(owner_url)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], owner_env)
    if not args.skip_load:
        load = ["-m", "bench.generate", f"--leads={args.leads}", f"--tenants={args.tenants}"]
        run([sys.executable, *load], owner_env)
        # What the lists' and boards' "next activity" reads (once: a rerun adds nothing).
        run([sys.executable, "-m", "bench.activities", f"--slug={plan.slug}"], owner_env)
    # Again: the tree may have gained a migration while the data was loading.
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    served = commit()
    data = discover(owner_url, plan)
    paths = {
        "inbox": f"/{plan.slug}/leads/inbox/",
        "filtered": f"/{plan.slug}/leads/?state=in_progress&source=web_form",
        "phone": f"/{plan.slug}/leads/?{urlencode({'q': data['phone']})}",
        "name": f"/{plan.slug}/leads/?{urlencode({'q': NAME_QUERY})}",
        "board": f"/{plan.slug}/leads/board/?{BOARD_FILTERS}",
        "search_digits": f"/{plan.slug}/search/?{urlencode({'q': data['digits']})}",
        "search_name": f"/{plan.slug}/search/?{urlencode({'q': NAME_QUERY})}",
        "floor": f"/bench/floor/{plan.slug}/",
    }

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    gunicorn = start_gunicorn(
        app_env, args.port, Path(tempfile.gettempdir()) / "bench-gunicorn.log"
    )
    try:
        server = Server("127.0.0.1", args.port)
        cookie = login(server, data["email"], BENCH_PASSWORD)
        print(f"Measuring as {data['email']} ({args.requests} requests a page)…")
        results = measure(server, paths, cookie, args)
    finally:
        stop_gunicorn(gunicorn)
    print("Profiling the pages' SQL…", flush=True)
    profile = subprocess.run(  # noqa: S603 - our own command
        [
            sys.executable,
            "-m",
            "bench.explain",
            f"--email={data['email']}",
            f"--slug={plan.slug}",
            "--runs=3",
            *(f"{name}={path}" for name, path in paths.items()),
        ],
        cwd=ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        check=False,
    )
    if profile.returncode:  # the measurements stand without it: keep them, say why
        print(f"bench.explain failed:\n{profile.stderr}", flush=True)

    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "commit_profiled": commit(),
        "leads": args.leads,
        "slug": plan.slug,
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "skip_load"},
        "data": data,
        "results": results,
        "budgets": budgets(args.leads, results),
        "profile": json.loads(profile.stdout) if profile.returncode == 0 else {},
        "profile_error": profile.stderr[-2000:] if profile.returncode else "",
    }
    # The time in the name: runs of one commit (a variance check) keep their own files.
    stem = (
        results_dir / f"{report['date']}-{now:%H%M}-{label(args.leads)}-{served.replace('+', '-')}"
    )
    publish(report, stem, markdown=markdown, row=readme_row(report))


if __name__ == "__main__":
    main()
