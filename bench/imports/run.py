"""The import benchmark: `make bench-import` (issue 16, "Performance").

1. creates the database `voronka_bench_import` when missing, migrates it as the owner,
   collects static files and loads the measured tenant (`big-1m`, bench/generate.py; a
   rerun tops up only what is missing); prepares the floor's scratch tenant `import-floor`
   (bench/imports/setup.py);
2. writes the files (bench/imports/generate.py), before anything is measured: one of
   --rows rows a pair, one for each --also policy, and one of --big rows (HubSpot's
   per-file limit, 1,048,576); their duplicates are leads of the tenant nobody else shares
   a key with, a different set for each file, and their new people are new to the tenant
   and to every other file of the run;
3. starts gunicorn (2 sync workers, production settings, the application role) and logs
   the tenant's manager in;
4. --pairs times, each after a VACUUM (ANALYZE) of the leads, as autovacuum would run: the
   inbox 4 times a second for --idle-seconds with nothing else running; then
   `manage.py import_file --tenant big-1m --entity leads --policy <--policy> --mapping
   bench-bitrix24 FILE` (the file's columns, saved by the setup) as its own process on the
   application role, the inbox sampled the same way until it exits; then
   the floor: PostgreSQL's COPY of the same rows, parsed already, into `leads_lead` for
   the scratch tenant (the same table: the same indexes and triggers), as the owner (COPY
   FROM does not run under row-level security). Pairs: import rows/s over COPY rows/s; the
   inbox's p99 during the import over idle;
5. each --also policy's file once, then the --big file once (stopped after --big-seconds
   when given), with its COPY;
6. for every import: wall time and rows/s (the file's rows, header not counted), the
   process's peak RSS (`wait4`) and its RSS every half second, the counts it printed
   against the ones the generator wrote beside the file, and the rows of the rejected-rows
   file it wrote next to the file;
7. writes bench/results/<date>-<HHMM>-import-<rows>-<commit>.{json,md}, puts a row at the
   top of the "Import" table of bench/README.md and checks the budgets (exit status 1 when
   one is missed).

    .venv/bin/python -m bench.imports.run --help
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from bench import ratios
from bench.imports.generate import FLOOR_COLUMNS, Existing, Floor, Keys, Spec, Writer
from bench.ingest.run import InboxSampler
from bench.measure import Server, login
from bench.plan import BENCH_PASSWORD, big_tenant, label
from bench.run import (
    BENCH,
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

OWNER_URL = "postgres://voronka_owner:voronka_owner@127.0.0.1:5432/voronka_bench_import"
APP_URL = "postgres://voronka_app:voronka_app@127.0.0.1:5432/voronka_bench_import"
REDIS_URL = "redis://127.0.0.1:6379/13"
README_BEGIN = "<!-- import:begin -->"
README_END = "<!-- import:end -->"
HUBSPOT_ROWS = 1_048_576  # HubSpot's per-file limit
MIN_RATE = 5_000  # rows/s, end to end
MAX_RSS_MB = 400
RSS_GROWTH = 1.5  # the big file's peak over the small files' (median): "not growing"
COMMAND = (
    "{python} manage.py import_file --tenant {slug} --entity leads --policy {policy} "
    "--mapping {mapping} {file}"
)
COPY_BLOCK = 1 << 20
IMPORT_RATE = ratios.RatioBudget(
    name="import rows/s ≥ 20% of COPY's",
    subject="import rows/s",
    floor="COPY rows/s",
    bound=0.2,
    at_least=True,
    percent=True,
)
INBOX_DURING = ratios.RatioBudget(
    name="inbox p99 during an import ≤ 2× idle",
    subject="import p99 ms",
    floor="idle p99 ms",
    bound=2.0,
    at_least=False,
)
# The words a count may be printed with (the command's output is not parsed otherwise).
COUNT_WORDS = {
    "created": ("created", "создано", "создан"),
    "updated": ("updated", "merged", "обновлено", "обновлен"),
    "skipped": ("skipped", "пропущено", "пропущен"),
    "rejected": ("rejected", "отклонено", "отклонен"),
}
NUMBER = r"(\d[\d\u00a0\u202f ,]*)"

# Leads of the tenant that are alone with their phone (e-mail): a duplicate of one of them
# (a row with that key and no other) matches one lead. Earlier runs' imports count too.
# Even ids for phones, odd for e-mails: no lead is repeated twice (by either key).
PHONE_LEADS = """
SELECT l.phone_e164, l.phone, l.state = 'converted' FROM leads_lead l
JOIN (SELECT phone_e164 FROM leads_lead WHERE tenant_id = %(t)s AND phone_e164 <> ''
      GROUP BY phone_e164 HAVING count(*) = 1) alone USING (phone_e164)
WHERE l.tenant_id = %(t)s AND l.deleted_at IS NULL AND l.phone_e164 LIKE '+79%%'
  AND l.id %% 2 = 0
ORDER BY md5(l.id::text || %(seed)s) LIMIT %(n)s
"""
EMAIL_LEADS = """
SELECT l.email, l.state = 'converted' FROM leads_lead l
JOIN (SELECT email_key FROM leads_lead WHERE tenant_id = %(t)s AND email_key <> ''
      GROUP BY email_key HAVING count(*) = 1) alone USING (email_key)
WHERE l.tenant_id = %(t)s AND l.deleted_at IS NULL AND l.id %% 2 = 1
ORDER BY md5(l.id::text || %(seed)s) LIMIT %(n)s
"""
TAKEN = """
SELECT phone_e164 FROM leads_lead WHERE tenant_id = %(t)s AND phone_e164 = ANY(%(phones)s)
UNION ALL
SELECT email_key FROM leads_lead WHERE tenant_id = %(t)s AND email_key = ANY(%(emails)s)
"""


class Database:
    """The owner role's connection (it bypasses row-level security)."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url, autocommit=True)

    def existing(self, tenant_id: int, seed: int, phones: int, emails: int) -> tuple[list, list]:
        """Leads for duplicates: `phones` by phone, `emails` by e-mail."""
        params = {"t": tenant_id, "seed": str(seed)}
        by_phone = [
            Existing(phone_e164=e164, phone=phone, converted=converted)
            for e164, phone, converted in self.connection.execute(
                PHONE_LEADS, {**params, "n": phones}
            )
        ]
        by_email = [
            Existing(email=email, converted=converted)
            for email, converted in self.connection.execute(EMAIL_LEADS, {**params, "n": emails})
        ]
        return by_phone, by_email

    def taken(self, tenant_id: int) -> Callable[[list[str], list[str]], set[str]]:
        def check(phones: list[str], emails: list[str]) -> set[str]:
            params = {"t": tenant_id, "phones": phones, "emails": emails}
            return {key for (key,) in self.connection.execute(TAKEN, params)}

        return check

    def last_job_rows(self) -> int:
        """Rows the newest import job processed (committed batches)."""
        row = self.connection.execute(
            "SELECT processed_rows FROM transfer_importjob ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else 0

    def vacuum(self) -> float:
        began = time.perf_counter()
        self.connection.execute("VACUUM (ANALYZE) leads_lead")
        return round(time.perf_counter() - began, 1)

    def lead_columns(self) -> set[str]:
        """Columns of leads_lead a row must give: NOT NULL, no default, not generated."""
        rows = self.connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'leads_lead'"
            " AND is_nullable = 'NO' AND column_default IS NULL AND is_generated = 'NEVER'"
            " AND is_identity = 'NO'"
        )
        return {name for (name,) in rows}

    def copy(self, path: Path) -> dict[str, Any]:
        """COPY the file's rows into leads_lead in one transaction; rows/s."""
        rows = 0
        began = time.perf_counter()
        with self.connection.transaction(), self.connection.cursor() as cursor:
            statement = f"COPY leads_lead ({', '.join(FLOOR_COLUMNS)}) FROM STDIN"
            with cursor.copy(statement) as copy, path.open("rb") as source:
                while block := source.read(COPY_BLOCK):
                    rows += block.count(b"\n")
                    copy.write(block)
        seconds = time.perf_counter() - began
        return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


class RssSampler:
    """A process's resident memory every `interval` seconds (MB), from /proc."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        start = time.perf_counter()
        status = Path(f"/proc/{self.pid}/status")
        while not self.stopped.wait(self.interval):
            try:
                text = status.read_text()
            except OSError:
                return
            found = re.search(r"VmRSS:\s+(\d+) kB", text)
            if found:
                at = round(time.perf_counter() - start, 1)
                self.samples.append((at, round(int(found[1]) / 1024, 1)))

    def stop(self) -> list[tuple[float, float]]:
        self.stopped.set()
        self.thread.join(timeout=5)
        return self.samples


def parse_counts(output: str) -> dict[str, int | None]:
    """The created / updated / skipped / rejected counts the command printed (in English or
    Russian, the number after the word or before it); None for a count not found."""
    counts: dict[str, int | None] = {}
    for key, words in COUNT_WORDS.items():
        counts[key] = None
        for word in words:
            found = re.search(rf"\b{word}\w*\W{{0,3}}?\s*{NUMBER}", output, re.IGNORECASE)
            found = found or re.search(rf"{NUMBER}\s+{word}", output, re.IGNORECASE)
            if found:
                counts[key] = int(re.sub(r"\D", "", found[1]))
                break
    return counts


def rejected_file_rows(directory: Path, since: float, known: set[Path]) -> dict[str, Any]:
    """The rejected-rows file the import wrote next to the file: its name and data rows."""
    written = [
        p
        for p in directory.iterdir()
        if p not in known and p.is_file() and p.stat().st_mtime >= since
    ]
    for path in sorted(written, key=lambda p: ("reject" not in p.name.lower(), p.name)):
        if path.suffix.lower() not in (".csv", ".txt"):
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            head = handle.read(64 * 1024)
            handle.seek(0)
            delimiter = csv.Sniffer().sniff(head, delimiters=";,\t").delimiter if head else ";"
            rows = sum(1 for _row in csv.reader(handle, delimiter=delimiter)) - 1
        return {"file": path.name, "rows": max(rows, 0)}
    return {"file": None, "rows": None}


def run_import(
    command: str,
    env: dict[str, str],
    path: Path,
    policy: str,
    slug: str,
    mapping: str,
    *,
    limit: float = 0,
    done: Callable[[], int] = lambda: 0,
) -> dict[str, Any]:
    """One import as its own process: wall time, rows/s, peak RSS, counts, rejected rows.
    With a `limit` (seconds) the process is stopped then, and its rate is the rows `done`
    says its job processed."""
    expected = json.loads(path.with_name(path.name + ".expected.json").read_text())
    argv = command.format(
        python=sys.executable, slug=slug, policy=policy, file=path, mapping=mapping
    ).split()
    output = path.with_name(f"{path.name}.{policy}.out")
    known = set(path.parent.iterdir()) | {output}
    since = time.time() - 1
    began = time.perf_counter()
    with output.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        memory = RssSampler(process.pid)
        stop = threading.Timer(limit, process.terminate) if limit else None
        if stop is not None:
            stop.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - began
        series = memory.stop()
        stopped = stop is not None and not stop.is_alive()
        if stop is not None:
            stop.cancel()
    # A stopped import did what its job committed; a failed one is not a rate.
    rows = done() if stopped else expected["rows"] if process.returncode == 0 else 0
    text = output.read_text(errors="replace")
    counts = parse_counts(text)
    want = expected["policies"][policy]
    rejected = rejected_file_rows(path.parent, since, known)
    exact = process.returncode == 0 and counts == want and rejected["rows"] == want["rejected"]
    return {
        "file": path.name,
        "policy": policy,
        "rows": expected["rows"],
        "stopped_at_rows": rows if stopped else None,
        "exit": process.returncode,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rss_series": series[:: max(1, len(series) // 20)],
        "counts": counts,
        "expected": want,
        "rejected_file": rejected,
        "exact": exact,
        "output_tail": text[-1500:],
    }


def measured_import(b: Bench, path: Path, policy: str, limit: float = 0) -> dict[str, Any]:
    """The import with the inbox sampled until it ends (or is stopped after `limit` s)."""
    with InboxSampler(b.server, b.inbox, b.cookie) as sampler:
        result = run_import(
            b.command,
            b.app_env,
            path,
            policy,
            b.slug,
            b.mapping,
            limit=limit,
            done=b.db.last_job_rows,
        )
    result["inbox"] = sampler.summary(series=False)
    print(
        f"  import {path.name} ({policy}): {result['rows_per_s']} rows/s, "
        f"{result['seconds']} s, peak {result['peak_rss_mb']} MB, "
        f"counts {'exact' if result['exact'] else 'WRONG'}, "
        f"inbox p99 {result['inbox']['p99']} ms",
        flush=True,
    )
    return result


def floor_copy(b: Bench, path: Path) -> dict[str, Any]:
    result = b.db.copy(path.with_name(path.name + ".copy"))
    print(f"  COPY {path.name}: {result['rows_per_s']} rows/s, {result['seconds']} s", flush=True)
    return result


class Bench:
    """What every measurement of a run shares."""

    def __init__(self, **parts: Any) -> None:
        self.db: Database = parts["db"]
        self.server: Server = parts["server"]
        self.cookie: str = parts["cookie"]
        self.inbox: str = parts["inbox"]
        self.app_env: dict[str, str] = parts["app_env"]
        self.command: str = parts["command"]
        self.slug: str = parts["slug"]
        self.mapping: str = parts["mapping"]


def pair(b: Bench, path: Path, policy: str, idle_seconds: float) -> dict[str, Any]:
    vacuum = b.db.vacuum()
    with InboxSampler(b.server, b.inbox, b.cookie) as idle:
        time.sleep(idle_seconds)
    print(f"  idle inbox p99 {idle.summary()['p99']} ms (vacuum {vacuum} s)", flush=True)
    result = measured_import(b, path, policy)
    return {
        "vacuum_s": vacuum,
        "idle": idle.summary(series=False),
        "import": result,
        "copy": floor_copy(b, path),
    }


def write_files(
    args: argparse.Namespace, db: Database, facts: dict[str, Any], directory: Path
) -> dict[str, list[Path]]:
    """Every file of the run, each with its own duplicates and new people."""
    tenant, floor = facts["tenant"], facts["floor"]
    sizes = [("pair", args.rows)] * args.pairs + [("also", args.rows)] * len(args.also)
    if args.big:
        sizes.append(("big", args.big))
    total = sum(rows for _k, rows in sizes)
    # Each file takes its duplicates from its own part of the lists (10% of its rows at most).
    phones, emails = db.existing(tenant["id"], args.seed, total // 10, total // 20)
    print(f"Duplicates available: {len(phones)} by phone, {len(emails)} by e-mail", flush=True)
    keys = Keys(args.seed)
    floor_at = Floor(
        tenant_id=floor["id"], statuses={n: (i, s) for n, (i, s) in floor["statuses"].items()}
    )
    files: dict[str, list[Path]] = {"pair": [], "also": [], "big": []}
    used_phones = used_emails = 0
    for number, (kind, rows) in enumerate(sizes, 1):
        take_phones, take_emails = rows * 8 // 100, rows * 4 // 100
        spec = Spec(
            rows=rows,
            phone_leads=phones[used_phones : used_phones + take_phones],
            email_leads=emails[used_emails : used_emails + take_emails],
            owners=tenant["owners"],
            taken=db.taken(tenant["id"]),
            zone=tenant["zone"],
            floor=floor_at,
        )
        used_phones, used_emails = used_phones + take_phones, used_emails + take_emails
        path = directory / f"leads-{number:02d}-{label(rows)}.csv"
        began = time.perf_counter()
        figures = Writer(spec, seed=args.seed * 100 + number, keys=keys).write(path)
        print(
            f"  {path.name}: {figures['kinds']} in {time.perf_counter() - began:.0f} s", flush=True
        )
        files[kind].append(path)
    return files


def budgets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's budgets: rows/s, the ratio to COPY, the inbox, exact counts, memory."""
    pairs = report["pairs"]
    imports = [p["import"] for p in pairs]
    rates = [i["rows_per_s"] for i in imports]
    out: list[dict[str, Any]] = []
    median_rate = statistics.median(rates)
    out.append(
        {
            "budget": f"import ≥ {MIN_RATE:,} rows/s end to end",
            "value": f"median {median_rate:,.0f} rows/s ({min(rates):,}–{max(rates):,})",
            "ok": median_rate >= MIN_RATE,
        }
    )
    out.append(
        ratios.judge(
            IMPORT_RATE,
            [
                (i["rows_per_s"], p["copy"]["rows_per_s"])
                for i, p in zip(imports, pairs, strict=True)
            ],
        )
    )
    out.append(
        ratios.judge(
            INBOX_DURING,
            [(p["import"]["inbox"]["p99"], p["idle"]["p99"]) for p in pairs],
        )
    )
    every = imports + report["also"] + ([report["big"]["import"]] if report["big"] else [])
    every = [i for i in every if not i["stopped_at_rows"]]  # a stopped import counts nothing
    wrong = [f"{i['file']} ({i['policy']})" for i in every if not i["exact"]]
    out.append(
        {
            "budget": "exact created / updated / skipped / rejected counts and rejected rows",
            "value": f"{len(every) - len(wrong)} of {len(every)} imports exact"
            + (f"; wrong: {', '.join(wrong)}" if wrong else ""),
            "ok": not wrong,
        }
    )
    if report["big"]:
        big = report["big"]["import"]
        small = statistics.median(i["peak_rss_mb"] for i in imports)
        out.append(
            {
                "budget": f"{HUBSPOT_ROWS:,}-row file: peak RSS ≤ {MAX_RSS_MB} MB and ≤ "
                f"{RSS_GROWTH}× the {label(report['rows'])} files'",
                "value": f"{big['peak_rss_mb']} MB ({label(big['rows'])} rows) against "
                f"{small} MB; {big['rows_per_s']:,} rows/s, exit {big['exit']}"
                + (
                    f" (stopped after {big['seconds']:.0f} s at {big['stopped_at_rows']:,} rows)"
                    if big["stopped_at_rows"]
                    else ""
                ),
                "ok": big["exit"] == 0
                and big["peak_rss_mb"] <= MAX_RSS_MB
                and big["peak_rss_mb"] <= RSS_GROWTH * small,
            }
        )
    return out


def readme_row(report: dict[str, Any]) -> str:
    """The run's line of the README's "Import" table."""
    by_name = {b["budget"]: b for b in report["budgets"]}
    rate, inbox = by_name[IMPORT_RATE.name], by_name[INBOX_DURING.name]
    exact = next(b for b in report["budgets"] if b["budget"].startswith("exact"))
    pairs = report["pairs"]
    big = "—"
    if report["big"]:
        result = report["big"]["import"]
        big = f"{result['rows_per_s']:,} rows/s, {result['peak_rss_mb']:g} MB"
        if result["exit"] and not result["stopped_at_rows"]:
            big = f"failed (exit {result['exit']}): {result['output_tail'].strip()[-80:]}"
    missed = sum(not b["ok"] for b in report["budgets"])
    cells = [
        report["date"],
        f"`{report['commit']}`",
        label(report["leads"]),
        f"{label(report['rows'])} × {len(pairs)}",
        f"{ratios.median_of(rate, 'subject'):g}",
        f"{ratios.median_of(rate, 'floor'):g}",
        f"{IMPORT_RATE.show(rate['ratio']['median'])} ({IMPORT_RATE.show(rate['ratio']['min'])}"
        f"–{IMPORT_RATE.show(rate['ratio']['max'])})",
        f"{ratios.median_of(inbox, 'floor'):g} / {ratios.median_of(inbox, 'subject'):g} "
        f"({INBOX_DURING.show(inbox['ratio']['median'])})",
        f"{statistics.median(p['import']['peak_rss_mb'] for p in pairs):g}",
        big,
        exact["value"],
        "all met" if not missed else f"{missed} missed",
    ]
    return f"| {' | '.join(cells)} |"


def _import_line(result: dict[str, Any]) -> str:
    counts = " / ".join(
        str(result["counts"][k]) for k in ("created", "updated", "skipped", "rejected")
    )
    want = " / ".join(
        str(result["expected"][k]) for k in ("created", "updated", "skipped", "rejected")
    )
    return (
        f"| {result['file']} | {result['policy']} | {result['rows']:,} | {result['seconds']} "
        f"| {result['rows_per_s']:,} | {result['peak_rss_mb']} | {counts} | {want} "
        f"| {result['rejected_file']['rows']} | {'yes' if result['exact'] else '**no**'} |"
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Import benchmark, {report['date']}, `{report['commit']}`",
        "",
        f"Tenant `{report['slug']}` ({report['tenant_leads']:,} leads before the run), "
        f"{len(report['pairs'])} pairs of {report['rows']:,}-row files; "
        f"command `{report['command']}`; {report['machine']['cpu']}, "
        f"{report['machine']['memory']}, Python {report['machine']['python']}; "
        f"load average {report['load']}.",
        "",
        *ratios.budget_table(report["budgets"]),
        "",
        "## Import rows/s over COPY rows/s",
        "",
        *ratios.table(
            IMPORT_RATE, next(b for b in report["budgets"] if b["budget"] == IMPORT_RATE.name)
        ),
        "",
        "## Inbox p99 during an import over idle",
        "",
        *ratios.table(
            INBOX_DURING, next(b for b in report["budgets"] if b["budget"] == INBOX_DURING.name)
        ),
        "",
        "## Every import",
        "",
        "| file | policy | rows | s | rows/s | peak RSS MB | created / updated / skipped / "
        "rejected printed | expected | rejected file rows | exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    every = [p["import"] for p in report["pairs"]] + report["also"]
    if report["big"]:
        every.append(report["big"]["import"])
    lines += [_import_line(r) for r in every]
    if report["big"]:
        big = report["big"]
        lines += [
            "",
            f"## The {big['import']['rows']:,}-row file",
            "",
            f"Import {big['import']['rows_per_s']:,} rows/s ({big['import']['seconds']} s), "
            f"COPY {big['copy']['rows_per_s']:,} rows/s ({big['copy']['seconds']} s): "
            f"{big['import']['rows_per_s'] / big['copy']['rows_per_s']:.0%}. "
            f"RSS over the run (s, MB): {big['import']['rss_series']}",
        ]
    wrong = [r for r in every if not r["exact"]]
    for result in wrong:
        lines += [
            "",
            f"### {result['file']} ({result['policy']}): output",
            "",
            "```",
            result["output_tail"],
            "```",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=int(os.environ.get("BENCH_LEADS", 10**6)))
    parser.add_argument("--rows", type=int, default=100_000, help="rows of a pair's file")
    parser.add_argument("--pairs", type=int, default=ratios.MIN_PAIRS)
    parser.add_argument("--policy", default="merge", help="the pairs' duplicate policy")
    parser.add_argument(
        "--also", default="skip", help="policies run once each on a file of --rows (comma list)"
    )
    parser.add_argument(
        "--big", type=int, default=HUBSPOT_ROWS, help="rows of the big file (0: none)"
    )
    parser.add_argument(
        "--big-seconds", type=float, default=0, help="stop the big file's import then (0: never)"
    )
    parser.add_argument("--idle-seconds", type=float, default=25)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-import")
    parser.add_argument("--command", default=os.environ.get("BENCH_IMPORT_COMMAND", COMMAND))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_IMPORT_PORT", 8768)))
    parser.add_argument("--skip-load", action="store_true", help="use the data as it is")
    args = parser.parse_args()
    args.also = [p for p in args.also.split(",") if p]
    if args.pairs < ratios.MIN_PAIRS:
        parser.error(f"--pairs: at least {ratios.MIN_PAIRS}")

    owner_url = os.environ.get("BENCH_IMPORT_OWNER_URL", OWNER_URL)
    app_url = os.environ.get("BENCH_IMPORT_APP_URL", APP_URL)
    os.environ.setdefault("BENCH_REDIS_URL", REDIS_URL)
    app_role = conninfo.conninfo_to_dict(app_url)["user"]
    owner_env, app_env = django_env(owner_url, app_role), django_env(app_url, app_role)
    plan = big_tenant(args.leads)

    create_database(owner_url)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], owner_env)
    run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], owner_env)
    if not args.skip_load:
        run(
            [sys.executable, "-m", "bench.generate", f"--leads={args.leads}", "--tenants=1"],
            owner_env,
        )
    facts = json.loads(
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "bench.imports.setup", plan.slug, str(args.leads)],
            cwd=ROOT,
            env=owner_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    db = Database(owner_url)
    missing = db.lead_columns() - set(FLOOR_COLUMNS)
    if missing:
        raise SystemExit(f"the floor's COPY gives no value for {sorted(missing)}: add them")
    tenant_leads = db.connection.execute(
        "SELECT count(*) FROM leads_lead WHERE tenant_id = %s", [facts["tenant"]["id"]]
    ).fetchone()[0]
    args.dir.mkdir(parents=True, exist_ok=True)
    for old in args.dir.iterdir():
        old.unlink()
    print(f"Writing the files in {args.dir}…", flush=True)
    files = write_files(args, db, facts, args.dir)

    served = commit()
    gunicorn = start_gunicorn(
        app_env, args.port, Path(tempfile.gettempdir()) / "bench-import-gunicorn.log"
    )
    try:
        server = Server("127.0.0.1", args.port)
        b = Bench(
            db=db,
            server=server,
            cookie=login(server, facts["email"], BENCH_PASSWORD),
            inbox=f"/{plan.slug}/leads/inbox/",
            app_env=app_env,
            command=args.command,
            slug=plan.slug,
            mapping=facts["mapping"],
        )
        measured = []
        for number, path in enumerate(files["pair"], 1):
            print(f"Pair {number} of {args.pairs}", flush=True)
            measured.append(pair(b, path, args.policy, args.idle_seconds))
        also = []
        for policy, path in zip(args.also, files["also"], strict=True):
            b.db.vacuum()
            also.append(measured_import(b, path, policy))
        big = None
        for path in files["big"]:
            b.db.vacuum()
            big = {
                "import": measured_import(b, path, args.policy, limit=args.big_seconds),
                "copy": floor_copy(b, path),
            }
    finally:
        stop_gunicorn(gunicorn)

    now = datetime.now(UTC)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "commit": served,
        "leads": args.leads,
        "tenant_leads": tenant_leads,
        "slug": plan.slug,
        "rows": args.rows,
        "command": args.command,
        "machine": machine(),
        "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "pairs": measured,
        "also": also,
        "big": big,
    }
    report["budgets"] = budgets(report)
    stem = (
        BENCH
        / "results"
        / f"{report['date']}-{now:%H%M}-import-{label(args.rows)}-{served.replace('+', '-')}"
    )
    publish(
        report, stem, markdown=markdown, row=readme_row(report), begin=README_BEGIN, end=README_END
    )


if __name__ == "__main__":
    main()
