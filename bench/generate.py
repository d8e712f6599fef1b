"""Benchmark data: tenants, their people and up to 10M leads, loaded with COPY.

    DATABASE_URL=postgres://voronka_owner:…@127.0.0.1/voronka_bench \\
        python -m bench.generate --leads 1000000 --tenants 5

Makes one big tenant (`big-1m` for 1M leads, `big-10m` for 10M…) and `--tenants - 1` small
ones (`small-1`… with 5k, 20k, 45k… leads). Tenants, users, roles, teams and memberships are
created through the application's services; leads are written with COPY by the owner role
(it bypasses row-level security), 50k rows per transaction together with their stays in
each status (StatusStay) and their deals, then their search words (LeadWord) with
INSERT … SELECT. Rerunning is safe: existing tenants and people are kept, each tenant's
leads are topped up to the wanted count and the words of leads that have none are written,
so an interrupted load resumes where it stopped.

The rows and their distributions: bench/rows.py and bench/history.py.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from psycopg import sql  # noqa: E402

from analytics import rollups, triggers  # noqa: E402
from bench import data, history  # noqa: E402
from bench.plan import (  # noqa: E402
    BENCH_PASSWORD,
    TenantPlan,
    admin_email,
    manager_email,
    measured_manager_email,
    plans,
)
from bench.rows import COLUMNS, DEAL_COLUMNS, STAY_COLUMNS, Facts, LeadRows, person  # noqa: E402
from channels.models import Channel  # noqa: E402
from channels.services import channel_create  # noqa: E402
from crm import services  # noqa: E402
from crm.models import Membership, Role, Team, Tenant, User  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from deals.models import LossReason, Outcome, Pipeline, Stage  # noqa: E402
from deals.services import loss_reason_save  # noqa: E402
from leads.models import LeadStatus  # noqa: E402
from leads.services import status_save  # noqa: E402
from leads.words import WORDS_SQL  # noqa: E402

CHUNK_ROWS = 50_000
WORD_CHUNK_LEADS = 200_000  # leads whose search words are written per transaction
# Tables whose secondary indexes are dropped for a large load and built afterwards.
BULK_TABLES = ("leads_lead", "leads_leadword", "leads_statusstay", "deals_deal")
GENERATORS = 2  # processes generating rows (one per core of the benchmark machine)
INDEX_BUILDERS = 2
DROP_INDEXES_AT = 0.5  # drop indexes when loading at least half the table's size again


def _user(email: str, full_name: str, password: str | None) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, password, full_name=full_name)


def ensure_tenant(plan: TenantPlan) -> Tenant:
    """The plan's tenant with an administrator and its managers in teams (idempotent)."""
    rng = random.Random(f"people:{plan.slug}")
    with transaction.atomic():
        tenant = Tenant.objects.filter(slug=plan.slug).first()
        if tenant is None:
            owner = _user(admin_email(plan.slug), "Администратор Бенчмарка", BENCH_PASSWORD)
            tenant, _admin = services.tenant_create(
                name=plan.name, slug=plan.slug, owner=owner, language="ru"
            )
        with tenant_context(tenant):
            admin = Membership.objects.get(user__email=admin_email(plan.slug))
            manager_role = Role.objects.get(kind=Role.Kind.MANAGER)
            present = set(Membership.objects.values_list("user__email", flat=True))
            teams = {team.name: team for team in Team.objects.all()}
            measured = measured_manager_email(plan)
            for index in range(plan.managers):
                first, surname, _female = person(rng)
                email = manager_email(plan.slug, index)
                if email in present:
                    continue
                password = BENCH_PASSWORD if email == measured else None
                user = _user(email, f"{first} {surname}", password)
                member = Membership.objects.create(user=user, role=manager_role)
                team_name = f"Отдел продаж {index % plan.teams + 1}"
                team = teams.get(team_name) or services.team_save(
                    actor=admin, team=None, name=team_name, lead=None
                )
                teams[team_name] = team
                services.member_update(actor=admin, member=member, role=manager_role, team=team)
                if index < plan.teams:
                    services.team_save(actor=admin, team=team, name=team_name, lead=member)
            _ensure_setup(admin)
    return tenant


def _ensure_setup(admin: Membership) -> None:
    """The junk statuses beyond the defaults (loss reasons), the deals' loss reasons
    beyond the defaults, and the inbound channels."""
    names = set(LeadStatus.objects.values_list("name", flat=True))
    last = LeadStatus.objects.order_by("-position").values_list("position", flat=True).first()
    for offset, (name, color) in enumerate(data.EXTRA_JUNK_STATUSES, start=1):
        if name not in names:
            status_save(
                actor=admin,
                status=None,
                data={"name": name, "color": color, "state": "junk", "position": last + offset},
            )
    reasons = {name.casefold() for name in LossReason.objects.values_list("name", flat=True)}
    for name, _weight in data.LOSS_REASONS:
        if name.casefold() not in reasons:
            loss_reason_save(actor=admin, reason=None, data={"name": name})
    present = set(Channel.objects.values_list("name", flat=True))
    # The bot's webhook is not registered: Telegram is never asked (a refused connection
    # leaves the channel with a note on its page, as when Telegram cannot be reached).
    with override_settings(TELEGRAM_API_BASE="http://127.0.0.1:9"):
        for kind, name, _share in data.CHANNELS:
            if name not in present:
                config = {"bot_token": "100000:bench-not-a-bot"} if kind == "telegram" else {}
                channel_create(actor=admin, kind=kind, name=name, config=config)


def tenant_facts(tenant: Tenant) -> Facts:
    """The ids a tenant's generated rows refer to: statuses, pipelines' stages, channels,
    managers."""
    with tenant_context(tenant):
        statuses = list(LeadStatus.objects.order_by("position", "pk"))
        managers = list(
            Membership.objects.filter(role__kind=Role.Kind.MANAGER)
            .order_by("user__email")
            .values_list("pk", flat=True)
        )
        pipelines = list(Pipeline.objects.order_by("position", "pk"))
        stages = list(Stage.objects.order_by("position", "pk"))
        channels = dict(Channel.objects.values_list("name", "pk"))
        reasons = {name.casefold(): pk for name, pk in LossReason.objects.values_list("name", "pk")}

    def ids(state: str) -> list[int]:
        return [s.pk for s in statuses if s.state == state]

    def pipeline(found: Pipeline) -> history.Pipeline:
        own = [s for s in stages if s.pipeline_id == found.pk]
        return history.Pipeline(
            id=found.pk,
            open=[s.pk for s in own if s.kind == Outcome.OPEN],
            won=next(s.pk for s in own if s.kind == Outcome.WON),
            lost=next(s.pk for s in own if s.kind == Outcome.LOST),
        )

    sales = next(p for p in pipelines if p.is_default)
    return Facts(
        tenant_id=tenant.pk,
        slug=tenant.slug,
        currency=tenant.currency,
        sla_minutes=tenant.response_sla_minutes,
        end=tenant.created_at.timestamp(),
        statuses=history.Statuses(
            new=ids("new")[0],
            in_progress=ids("in_progress"),
            converted=ids("converted")[0],
            junk=ids("junk"),
        ),
        sales=pipeline(sales),
        repeat_sales=pipeline(next((p for p in pipelines if p.is_repeat), sales)),
        channels=channels,
        managers=managers,
        loss_reasons={name: reasons[name.casefold()] for name, _weight in data.LOSS_REASONS},
    )


def lead_counts() -> dict[int, int]:
    """Leads per tenant id, as the owner sees them (every tenant)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id, count(*) FROM leads_lead GROUP BY tenant_id")
        return dict(cursor.fetchall())


def drop_indexes() -> None:
    """Drop the secondary indexes of the leads and their search words (not those of
    constraints), remembering them in a table of the database (so that a rerun after an
    interruption restores them)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_dropped_index "
            "(name text PRIMARY KEY, definition text NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO bench_dropped_index "
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = ANY(%s::regclass[]) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            "ON CONFLICT DO NOTHING",
            [list(BULK_TABLES)],
        )
        cursor.execute("SELECT name FROM bench_dropped_index")
        for (name,) in cursor.fetchall():
            cursor.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


def _dropped() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_dropped_index') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return []
        cursor.execute("SELECT name, definition FROM bench_dropped_index ORDER BY name")
        return cursor.fetchall()


def _build_index(name: str, definition: str) -> float:
    began = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            cursor.execute("DELETE FROM bench_dropped_index WHERE name = %s", [name])
    finally:
        connection.close()
    return time.monotonic() - began


def restore_indexes() -> None:
    """Recreate every index `drop_indexes` dropped, two at a time (one per core)."""
    dropped = _dropped()
    if not dropped:
        return
    print(f"Building {len(dropped)} indexes of {', '.join(BULK_TABLES)}…")
    with ThreadPoolExecutor(max_workers=INDEX_BUILDERS) as pool:
        for (name, _definition), seconds in zip(
            dropped, pool.map(lambda item: _build_index(*item), dropped), strict=True
        ):
            print(f"  {name}: {seconds:,.0f} s")


_rows: LeadRows | None = None


def _init_worker(rows: LeadRows) -> None:
    global _rows
    _rows = rows


def _chunk_text(span: tuple[int, int]) -> tuple[str, str, str]:
    assert _rows is not None  # noqa: S101 - set by the pool initializer
    return _rows.chunk(*span)


def reserve_ids(table: str, count: int) -> int:
    """The first of `count` consecutive ids of `table` nobody else will get (its identity
    sequence moves past them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, count])
        return cursor.fetchone()[0] - count + 1


COPIES = (
    ("leads_lead", COLUMNS),
    ("deals_deal", DEAL_COLUMNS),
    ("leads_statusstay", STAY_COLUMNS),
)


def write_chunk(texts: tuple[str, str, str]) -> None:
    """COPY one chunk's leads, deals and stays in one transaction (the foreign keys between
    leads and deals are checked at its commit)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for (table, columns), text in zip(COPIES, texts, strict=True):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(text)


def prepare(tenant: Tenant, plan: TenantPlan, have: int) -> LeadRows:
    """The tenant's row generator, with ids reserved for leads `have`… and their deals."""
    rows = LeadRows(tenant_facts(tenant), plan.leads)
    rows.lead_offset = reserve_ids("leads_lead", plan.leads - have) - have
    rows.deal_offset = reserve_ids("deals_deal", plan.leads - have) - have
    return rows


def load_leads(tenant: Tenant, plan: TenantPlan, have: int) -> int:
    """Top the tenant's leads up from `have` to `plan.leads` with COPY, with their stays and
    deals; return the number of leads added.

    Worker processes generate the chunks (the generator is the slow part), this process
    streams them to PostgreSQL in order, one transaction per chunk. Deal ids are reserved
    one per lead (a fifth are used: ids have gaps).
    """
    if have >= plan.leads:
        return 0
    rows = prepare(tenant, plan, have)
    spans = [
        (start, min(CHUNK_ROWS, plan.leads - start))
        for start in range(have, plan.leads, CHUNK_ROWS)
    ]
    began = time.monotonic()
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(GENERATORS, initializer=_init_worker, initargs=(rows,)) as pool:
        for (start, count), texts in zip(spans, pool.imap(_chunk_text, spans), strict=True):
            write_chunk(texts)
            rate = (start + count - have) / (time.monotonic() - began)
            print(f"  {plan.slug}: {start + count:>11,} / {plan.leads:,} ({rate:,.0f} leads/s)")
    return plan.leads - have


def fill_words(tenant: Tenant, slug: str) -> int:
    """Write the search words (LeadWord) of the tenant's leads that have none; return how
    many words were added. One id range per transaction, starting after the last lead that
    has words, so a tenant whose words are complete costs two index probes and an
    interrupted run resumes (the lead services write the words of leads made through them).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT max(lead_id) FROM leads_leadword WHERE tenant_id = %s), "
            "(SELECT max(id) FROM leads_lead WHERE tenant_id = %s)",
            [tenant.pk, tenant.pk],
        )
        done, last = cursor.fetchone()
    if last is None or (done is not None and done >= last):
        return 0
    insert = sql.SQL(
        "INSERT INTO leads_leadword (tenant_id, lead_id, owner_id, created_at, word) "
        "SELECT l.tenant_id, l.id, l.owner_id, l.created_at, w.word FROM leads_lead l "
        "CROSS JOIN LATERAL ({words}) w "
        "WHERE l.tenant_id = %s AND l.id > %s AND l.id <= %s "
        # Words a lead service wrote meanwhile (not an anti-join: the statement's own rows
        # would be scanned again while the table has no statistics).
        "ON CONFLICT DO NOTHING"
    ).format(words=sql.SQL(WORDS_SQL))
    added, start, began = 0, (done or 0), time.monotonic()
    while start < last:
        end = start + WORD_CHUNK_LEADS
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(insert, [tenant.pk, start, end])
            added += cursor.rowcount
        start = end
        rate = added / (time.monotonic() - began)
        print(f"  {slug}: words of leads up to id {min(end, last):,} ({rate:,.0f} words/s)")
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads of the big tenant")
    parser.add_argument("--tenants", type=int, default=5, help="tenants in all (1 big + small)")
    parser.add_argument(
        "--skip-words",
        action="store_true",
        help="leave the search words out (the analytics benchmark never reads them; a later "
        "run without this flag writes them)",
    )
    args = parser.parse_args()
    began = time.monotonic()
    wanted = [(plan, ensure_tenant(plan)) for plan in plans(args.leads, args.tenants)]
    counts = lead_counts()
    missing = sum(max(0, plan.leads - counts.get(tenant.pk, 0)) for plan, tenant in wanted)
    # Building the indexes afterwards is ~2× faster than maintaining them row by row
    # (measured: 13.5k rows/s with them, 109k rows/s without + their build), but only
    # when the load is large next to what the table already holds.
    if missing >= DROP_INDEXES_AT * max(sum(counts.values()), 1) and missing >= 100_000:
        drop_indexes()
    # The analytics triggers would mark every loaded lead for the rollups' refresh: off
    # during the load, and the loaded tenants' rollups rebuilt once at the end instead.
    analytics_triggers(enabled=False)
    try:
        for plan, tenant in wanted:
            load_leads(tenant, plan, counts.get(tenant.pk, 0))
    finally:
        analytics_triggers(enabled=True)
    words = 0 if args.skip_words else sum(fill_words(t, plan.slug) for plan, t in wanted)
    restore_indexes()
    with connection.cursor() as cursor:
        changes = (
            ("leads_lead", missing),
            ("leads_leadword", words),
            ("leads_statusstay", missing),
            ("deals_deal", missing),
        )
        for table, changed in changes:
            if changed:
                print(f"VACUUM (ANALYZE) {table}…")
                cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
        # The small tables too: autovacuum may never analyze a table of a few dozen rows,
        # and without statistics the planner misjudges the joins to statuses and members.
        for table in connection.introspection.table_names(cursor):
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    if missing:
        for plan, tenant in wanted:
            started = time.monotonic()
            with tenant_context(tenant):
                done = rollups.rebuild(tenant)
            print(
                f"  {plan.slug}: rollups of {done['days']} days rebuilt "
                f"({time.monotonic() - started:,.0f} s)"
            )
        # The rollup tables were analyzed empty above: the planner would take them for a
        # row each (and sort where it should hash).
        with connection.cursor() as cursor:
            for table in triggers.ROLLUP_TABLES:
                cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    print(f"{missing:,} leads added in {time.monotonic() - began:,.0f} s.")


def analytics_triggers(*, enabled: bool) -> None:
    """Turn the tables' own triggers (analytics marks) on or off, as their owner."""
    action = sql.SQL("ENABLE" if enabled else "DISABLE")
    with connection.cursor() as cursor:
        for table in ("leads_lead", "deals_deal", "leads_statusstay"):
            cursor.execute(
                sql.SQL("ALTER TABLE {} {} TRIGGER USER").format(sql.Identifier(table), action)
            )


if __name__ == "__main__":
    main()
