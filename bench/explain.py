"""Where a page's time goes: its SQL, query by query, and the plans of the slow ones.

    DATABASE_URL=postgres://voronka_app:…@127.0.0.1/voronka_bench \\
        python -m bench.explain --email manager003@big-1m.bench.local --slug big-1m \\
        inbox=/big-1m/leads/inbox/ …

Runs each page in-process through Django's test client as the given user, on the
application role's connection (row-level security on, as under gunicorn), times every
query, and runs EXPLAIN (ANALYZE, BUFFERS) of each query slower than `--slow` milliseconds
inside the tenant's context. Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from crm.models import Tenant, User  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402

# Transaction control and the RLS setting: not the page's own queries. (Django logs BEGIN
# and COMMIT too: a COMMIT over the slow mark on a busy machine was sent to EXPLAIN.)
PLUMBING = (
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
    "ROLLBACK TO SAVEPOINT",
    "SELECT current_setting",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
)
# Django iterates model choice fields with a server-side cursor: the log times only the
# DECLARE, the query itself runs during the FETCHes. Such queries are timed by EXPLAIN ANALYZE.
DECLARE = re.compile(r'^DECLARE "[^"]+" NO SCROLL CURSOR (?:WITH HOLD )?FOR ')
EXECUTION_TIME = re.compile(r"Execution Time: ([0-9.]+) ms")


def explain(tenant: Tenant, query: str) -> str:
    """EXPLAIN ANALYZE of `query` (captured, parameters inlined) inside the tenant."""
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _query(captured: dict[str, str], ms: float, tenant: Tenant, slow_ms: float) -> dict[str, Any]:
    """One query of a page: its time (EXPLAIN's for a server-side cursor) and slow plan."""
    statement = DECLARE.sub("", captured["sql"])
    query: dict[str, Any] = {"ms": round(ms, 2), "sql": statement}
    if statement != captured["sql"]:
        plan = explain(tenant, statement)
        query.update(ms=float(EXECUTION_TIME.search(plan).group(1)), server_side_cursor=True)
        if query["ms"] >= slow_ms:
            query["plan"] = plan
    elif ms >= slow_ms and statement.lstrip().upper().startswith(("SELECT", "WITH")):
        # Only reads: a slow COMMIT or BEGIN (a busy machine) has no plan.
        query["plan"] = explain(tenant, statement)
    return query


def typical(runs: list[list[dict[str, str]]]) -> list[list[dict[str, str]]]:
    """The runs with the most common number of statements (the latest of them last): a run
    that refilled a per-process cache — the tenant row is kept TENANT_CACHE_SECONDS (10 s),
    which a slow machine crosses between two runs — has a query more and is left out."""
    counts = Counter(len(run) for run in runs)
    most = max(counts.values())
    usual = next(len(run) for run in reversed(runs) if counts[len(run)] == most)
    return [run for run in runs if len(run) == usual]


def profile(client: Client, tenant: Tenant, path: str, slow_ms: float, runs: int) -> dict[str, Any]:
    """The page's time, its queries (median of `runs`) and plans of the slow ones."""
    client.get(path)  # warm caches, templates and the connection
    totals: list[float] = []
    captures: list[list[dict[str, str]]] = []
    for _run in range(runs):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(path)
            totals.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        captures.append([q for q in captured.captured_queries if not q["sql"].startswith(PLUMBING)])
    kept = typical(captures)
    statements = kept[-1]
    timings = [[float(q["time"]) * 1000 for q in run] for run in kept]
    per_query = [sorted(column)[len(column) // 2] for column in zip(*timings, strict=True)]
    queries = [
        _query(statement, ms, tenant, slow_ms)
        for ms, statement in zip(per_query, statements, strict=True)
    ]
    return {
        "path": path,
        "total_ms": round(sorted(totals)[len(totals) // 2], 2),
        "sql_ms": round(sum(query["ms"] for query in queries), 2),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--email", required=True, help="the user to view the pages as")
    parser.add_argument("--slug", required=True, help="the tenant of the pages")
    parser.add_argument("--slow", type=float, default=5.0, help="explain queries from this ms")
    parser.add_argument("--runs", type=int, default=5, help="requests per page (median)")
    parser.add_argument("pages", nargs="+", help="name=path")
    args = parser.parse_args()
    tenant = Tenant.objects.get(slug=args.slug)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(email=args.email))
    report = {}
    for page in args.pages:
        name, path = page.split("=", 1)
        report[name] = profile(client, tenant, path, args.slow, args.runs)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
