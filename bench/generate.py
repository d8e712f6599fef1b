"""Benchmark data: tenants, their people and up to 10M leads, loaded with COPY.

    DATABASE_URL=postgres://voronka_owner:…@127.0.0.1/voronka_bench \\
        python -m bench.generate --leads 1000000 --tenants 5

Makes one big tenant (`big-1m` for 1M leads, `big-10m` for 10M…) and `--tenants - 1` small
ones (`small-1`… with 5k, 20k, 45k… leads). Tenants, users, roles, teams and memberships are
created through the application's services; leads are written with COPY by the owner role
(it bypasses row-level security), 50k rows per transaction, then their search words (LeadWord)
with INSERT … SELECT. Rerunning is safe: existing tenants and people are kept, each tenant's
leads are topped up to the wanted count and the words of leads that have none are written,
so an interrupted load resumes where it stopped.

Distributions: leads arrive over two years, three times as many per day at the end as at
the start, in office hours; sources are skewed (web forms and calls first); states depend
on age (most recent leads are new or in progress, old ones closed: a few % new overall);
two thirds of new leads are unassigned (the shared inbox), the rest belong to managers.
Names come from Russian name lists with a Zipf-like surname frequency and a long tail.
"""

from __future__ import annotations

import argparse
import bisect
import math
import multiprocessing
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import accumulate

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from psycopg import sql  # noqa: E402

from bench import data  # noqa: E402
from bench.plan import (  # noqa: E402
    BENCH_PASSWORD,
    TenantPlan,
    admin_email,
    manager_email,
    measured_manager_email,
    plans,
)
from crm import services  # noqa: E402
from crm.models import Membership, Role, Team, Tenant, User  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from leads.models import LeadStatus  # noqa: E402
from leads.words import WORDS_SQL  # noqa: E402

CHUNK_ROWS = 50_000
WORD_CHUNK_LEADS = 200_000  # leads whose search words are written per transaction
# Tables whose secondary indexes are dropped for a large load and built afterwards.
BULK_TABLES = ("leads_lead", "leads_leadword")
GENERATORS = 2  # processes generating rows (one per core of the benchmark machine)
INDEX_BUILDERS = 2
DROP_INDEXES_AT = 0.5  # drop indexes when loading at least half the table's size again
SPAN_DAYS = 730
COLUMNS = data.words(
    "created_at updated_at title name company_name phone phone_e164 email email_key messenger "
    "messenger_id message source utm_source utm_medium utm_campaign utm_content utm_term amount "
    "currency temperature custom state first_response_at closed_at archived_at deleted_at "
    "created_by_id owner_id tenant_id status_id"
)
NULL = "\\N"
# Hour-of-day weights (Moscow office hours, shifted to UTC by 3 h below).
HOURS = (1, 1, 1, 1, 1, 2, 4, 7, 10, 14, 15, 14, 11, 13, 14, 13, 11, 8, 6, 5, 4, 3, 2, 1)
# (max age in days, {state: weight}): the older a lead, the likelier it is closed.
STATE_BY_AGE = (
    (2, {"new": 55, "in_progress": 35, "converted": 3, "junk": 7}),
    (14, {"new": 20, "in_progress": 40, "converted": 12, "junk": 28}),
    (60, {"new": 5, "in_progress": 15, "converted": 22, "junk": 58}),
    (math.inf, {"new": 2, "in_progress": 2.5, "converted": 24, "junk": 71.5}),
)
UNASSIGNED_NEW = 0.65
UNASSIGNED_JUNK = 0.03  # spam closed by the spam filter, nobody's
# Within a state, how the tenant's statuses share its leads (by position in the state).
STATUS_WEIGHTS = {"new": (1,), "in_progress": (7, 3), "converted": (1,), "junk": (40, 25, 20, 15)}
PHONE_SHARE = {"call": 1.0, "whatsapp": 1.0, "web_form": 0.9, "manual": 0.8, "import": 0.8}
EMAIL_SHARE = {"email": 1.0, "web_form": 0.55, "import": 0.5, "api": 0.4}
AMOUNT_SHARE = {"new": 0.1, "in_progress": 0.5, "converted": 0.85, "junk": 0.05}
REPEAT_PHONE = 0.08  # leads from a person who wrote before (duplicates by phone)


def _person(rng: random.Random) -> tuple[str, str, bool]:
    """(first name, surname, female) drawn from the name lists."""
    female = rng.random() < 0.5
    first = rng.choice(data.FEMALE_FIRST if female else data.MALE_FIRST)
    if rng.random() < data.COMMON_SHARE:
        surname = rng.choices(data.COMMON_SURNAMES, cum_weights=_COMMON_CUM)[0]
    else:
        surname = rng.choice(data.RARE_SURNAMES)
    return first, data.feminine(surname) if female else surname, female


_COMMON_CUM = tuple(accumulate(data.COMMON_WEIGHTS))


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
                first, surname, _female = _person(rng)
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
    return tenant


def _cum(weights: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


class LeadRows:
    """COPY text for the leads of one tenant; row `i` of `total` is the same on every run."""

    def __init__(self, tenant: Tenant, total: int) -> None:
        self.tenant_id = tenant.pk
        self.total = total
        self.currency = tenant.currency
        self.end = tenant.created_at.timestamp()
        self.start = self.end - SPAN_DAYS * 86400
        with tenant_context(tenant):
            statuses = list(LeadStatus.objects.order_by("position", "pk"))
            managers = list(
                Membership.objects.filter(role__kind=Role.Kind.MANAGER)
                .order_by("user__email")
                .values_list("pk", flat=True)
            )
        self.statuses: dict[str, tuple[list[int], tuple[float, ...]]] = {}
        for state, weights in STATUS_WEIGHTS.items():
            ids = [s.pk for s in statuses if s.state == state][: len(weights)]
            self.statuses[state] = (ids, _cum(weights[: len(ids)]))
        workload = random.Random(f"workload:{tenant.slug}")
        self.managers = [str(pk) for pk in managers]
        self.manager_cum = _cum([workload.lognormvariate(0, 0.3) for _ in managers])
        self.sources = [s for s, _w in data.SOURCES]
        self.source_cum = _cum([w for _s, w in data.SOURCES])
        self.phone_formats = [f for f, _w in data.PHONE_FORMATS]
        self.phone_cum = _cum([w for _f, w in data.PHONE_FORMATS])
        self.domains = [d for d, _w in data.MAIL_DOMAINS]
        self.domain_cum = _cum([w for _d, w in data.MAIL_DOMAINS])
        self.utm = [u for u, _w in data.UTM_SOURCES]
        self.utm_cum = _cum([w for _u, w in data.UTM_SOURCES])
        self.hour_cum = _cum(HOURS)
        self.state_by_age = [(age, list(w), _cum(list(w.values()))) for age, w in STATE_BY_AGE]

    @staticmethod
    def _ts(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat(" ")

    def _created(self, rng: random.Random, index: int) -> float:
        # Density grows linearly from 1 to 3 over the span: invert its CDF (τ + τ²)/2.
        x = (index + rng.random()) / self.total
        tau = (math.sqrt(1 + 8 * x) - 1) / 2
        day = int(tau * SPAN_DAYS)
        hour = bisect.bisect(self.hour_cum, rng.random() * self.hour_cum[-1]) - 3
        moment = self.start + day * 86400 + hour * 3600 + rng.random() * 3600
        return min(moment, self.end - rng.random() * 600)

    def _state(self, rng: random.Random, age_days: float) -> str:
        for max_age, states, cum in self.state_by_age:
            if age_days < max_age:
                return rng.choices(states, cum_weights=cum)[0]
        raise AssertionError(age_days)

    def _phone(self, rng: random.Random, pool: list[str]) -> tuple[str, str]:
        """(as typed, E.164), sometimes a number seen before."""
        if pool and rng.random() < REPEAT_PHONE:
            national = rng.choice(pool)
        else:
            national = f"9{rng.randrange(10**9):09d}"
            pool.append(national)
        pattern = rng.choices(self.phone_formats, cum_weights=self.phone_cum)[0]
        typed = pattern.format(national[:3], national[3:6], national[6:8], national[8:])
        return typed, f"+7{national}"

    def _company(self, rng: random.Random, surname: str, first: str) -> str:
        if rng.random() < 0.2:
            return f"ИП {surname} {first[0]}."
        head, tail = rng.choice(data.COMPANY_HEADS), rng.choice(data.COMPANY_TAILS)
        suffix = rng.choice(data.COMPANY_SUFFIXES)
        return f"{rng.choice(data.COMPANY_FORMS)} «{head}{tail}{suffix}»"

    def _name(self, rng: random.Random, first: str, surname: str, female: bool) -> str:
        shape = rng.random()
        if shape < 0.5:
            return f"{first} {surname}"
        if shape < 0.75:
            return first
        if shape < 0.85:
            return f"{surname} {first}"
        if shape < 0.95:
            male = data.PATRONYMIC_MALE.get(rng.choice(data.MALE_FIRST), "Иванович")
            middle = data.patronymic_female(male) if female else male
            return f"{surname} {first} {middle}"
        return ""

    def row(self, rng: random.Random, index: int, pool: list[str]) -> str:
        created = self._created(rng, index)
        age_days = (self.end - created) / 86400
        state = self._state(rng, age_days)
        source = rng.choices(self.sources, cum_weights=self.source_cum)[0]
        first, surname, female = _person(rng)
        name = self._name(rng, first, surname, female)
        company = self._company(rng, surname, first) if rng.random() < 0.3 else ""
        phone = phone_e164 = email = email_key = messenger = messenger_id = ""
        if rng.random() < PHONE_SHARE.get(source, 0.4):
            phone, phone_e164 = self._phone(rng, pool)
        if rng.random() < EMAIL_SHARE.get(source, 0.15):
            domain = rng.choices(self.domains, cum_weights=self.domain_cum)[0]
            local = f"{data.latin(first)}.{data.latin(surname)}{rng.randrange(100)}"
            email = f"{local.capitalize() if rng.random() < 0.2 else local}@{domain}"
            email_key = email.lower()
        if source in ("telegram", "whatsapp", "vk") or rng.random() < 0.05:
            messenger = source if source in ("telegram", "whatsapp", "vk") else "telegram"
            if messenger == "whatsapp":
                messenger_id = phone_e164 or f"+79{rng.randrange(10**9):09d}"
            elif messenger == "vk":
                messenger_id = f"id{rng.randrange(10**8)}"
            else:
                messenger_id = f"@{data.latin(first)}_{data.latin(surname)}{rng.randrange(1000)}"
        if not (phone or email or messenger_id):
            phone, phone_e164 = self._phone(rng, pool)
        topic = rng.choice(data.TOPICS)
        who = name or company or phone or email or messenger_id
        title = rng.choice(data.TITLE_PREFIX[source]).format(topic=topic, who=who)
        if source in ("web_form", "call", "email") and name and rng.random() < 0.3:
            title = f"{title} — {name}"
        message = ""
        if source in ("web_form", "email", "api") and rng.random() < 0.6:
            message = rng.choice(data.MESSAGES).format(topic=topic)
        utm = ("", "", "", "", "")
        if source == "web_form" and rng.random() < 0.75:
            utm_source = rng.choices(self.utm, cum_weights=self.utm_cum)[0]
            utm = (
                utm_source,
                data.UTM_MEDIUM[utm_source],
                rng.choice(data.UTM_CAMPAIGNS),
                rng.choice(data.UTM_CONTENT),
                rng.choice(data.UTM_TERMS),
            )
        amount = "0"
        if rng.random() < AMOUNT_SHARE[state]:
            amount = str(min(99_999_900, round(rng.lognormvariate(10.6, 1.0), -2)))
        temperature = rng.choices(("", "warm", "hot", "cold"), cum_weights=(45, 70, 85, 100))[0]
        custom = f'{{"city": "{rng.choice(data.CITIES)}"}}' if rng.random() < 0.08 else "{}"
        ids, cum = self.statuses[state]
        status_id = str(rng.choices(ids, cum_weights=cum)[0])
        owner = rng.choices(self.managers, cum_weights=self.manager_cum)[0]
        if (state == "new" and rng.random() < UNASSIGNED_NEW) or (
            state == "junk" and rng.random() < UNASSIGNED_JUNK
        ):
            owner = NULL
        created_by = owner if source == "manual" else NULL
        first_response = closed = archived = deleted = None
        updated = created
        if state != "new":
            first_response = min(self.end, created + rng.expovariate(1 / 7200))
            updated = first_response
        if state in ("converted", "junk"):
            closed = min(self.end, updated + rng.expovariate(1 / (3 * 86400)))
            updated = closed
            if age_days > 365 and rng.random() < 0.1:
                archived = closed + 180 * 86400
                updated = archived
        if rng.random() < 0.003:
            deleted = max(created, self.end - rng.random() * 30 * 86400)
            updated = max(updated, deleted)
        stamps = [
            self._ts(moment) if moment is not None else NULL
            for moment in (first_response, closed, archived, deleted)
        ]
        fields = (
            self._ts(created),
            self._ts(updated),
            title,
            name,
            company,
            phone,
            phone_e164,
            email,
            email_key,
            messenger,
            messenger_id,
            message,
            source,
            *utm,
            amount,
            self.currency,
            temperature,
            custom,
            state,
            *stamps,
            created_by,
            owner,
            str(self.tenant_id),
            status_id,
        )
        return "\t".join(fields) + "\n"

    def chunk(self, start: int, count: int) -> str:
        """Rows start…start+count-1 as COPY text (deterministic: seeded by tenant and start)."""
        rng = random.Random(f"leads:{self.tenant_id}:{start}")
        pool: list[str] = []
        return "".join(self.row(rng, index, pool) for index in range(start, start + count))


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


def _chunk_text(span: tuple[int, int]) -> str:
    assert _rows is not None  # noqa: S101 - set by the pool initializer
    return _rows.chunk(*span)


def load_leads(tenant: Tenant, plan: TenantPlan, have: int) -> int:
    """Top the tenant's leads up from `have` to `plan.leads` with COPY; return the number added.

    Worker processes generate the chunks (the generator is the slow part), this process
    streams them to PostgreSQL in order, one transaction per chunk.
    """
    if have >= plan.leads:
        return 0
    rows = LeadRows(tenant, plan.leads)
    spans = [
        (start, min(CHUNK_ROWS, plan.leads - start))
        for start in range(have, plan.leads, CHUNK_ROWS)
    ]
    copy_sql = f"COPY leads_lead ({', '.join(COLUMNS)}) FROM STDIN"
    began = time.monotonic()
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(GENERATORS, initializer=_init_worker, initargs=(rows,)) as pool:
        for (start, count), text in zip(spans, pool.imap(_chunk_text, spans), strict=True):
            with transaction.atomic(), connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                copy.write(text)
            rate = (start + count - have) / (time.monotonic() - began)
            print(f"  {plan.slug}: {start + count:>11,} / {plan.leads:,} ({rate:,.0f} rows/s)")
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
    for plan, tenant in wanted:
        load_leads(tenant, plan, counts.get(tenant.pk, 0))
    words = sum(fill_words(tenant, plan.slug) for plan, tenant in wanted)
    restore_indexes()
    with connection.cursor() as cursor:
        for table, changed in (("leads_lead", missing), ("leads_leadword", words)):
            if changed:
                print(f"VACUUM (ANALYZE) {table}…")
                cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
        # The small tables too: autovacuum may never analyze a table of a few dozen rows,
        # and without statistics the planner misjudges the joins to statuses and members.
        for table in connection.introspection.table_names(cursor):
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    print(f"{missing:,} leads added in {time.monotonic() - began:,.0f} s.")


if __name__ == "__main__":
    main()
