"""Activities for the benchmark's data: what the lists' and boards' "next activity" reads.

    DATABASE_URL=<owner url> python -m bench.activities --slug big-1m

`make bench` runs it after loading (`bench/run.py`); it adds nothing to a tenant that
already has activities, so a rerun (or a data set loaded before it existed) is topped up
once. One `INSERT … SELECT` per kind of record, by the owner role (it bypasses row-level
security), each row decided by a hash of the record's id, so every run makes the same:

- open leads with an owner: 3 in 4 have an open activity (a call 60%, a task 25%, a
  meeting 15%) due between 3 days ago and 7 days ahead (≈ 30% overdue), and those in
  progress also a done one (the first call);
- closed leads that were taken into work (converted, and junk after work): 3 in 5 have a
  done call;
- open deals: 4 in 5 have an open activity (due −5 … +14 days), all a done one; closed deals
  a done one.

Unassigned new leads have none (nobody planned anything yet). At 1M leads: ≈ 0.7M rows.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

# A record's own pseudo-random number 0…99 (the same on every run), from its id.
_HASH = "mod(mod({id} * 2654435761, 4294967296), 100)"

_INSERT = """
INSERT INTO crm_activity (created_at, updated_at, tenant_id, target_type_id, target_id,
                          kind, subject, note, due_at, remind_at, reminded_at, done_at,
                          owner_id, created_by_id)
SELECT {created}, {created}, r.tenant_id, %(type)s, r.id, {kind}, {subject}, '', {due}, NULL,
       NULL, {done}, r.owner_id, r.owner_id
FROM {table} r
WHERE r.tenant_id = %(tenant)s AND {where}
"""


def _kind(id_: str) -> str:
    h = _HASH.format(id=id_)
    return f"CASE WHEN {h} < 60 THEN 'call' WHEN {h} < 85 THEN 'task' ELSE 'meeting' END"


def _subject(id_: str) -> str:
    h = _HASH.format(id=id_)
    return (
        f"CASE WHEN {h} < 60 THEN 'Перезвонить' WHEN {h} < 85 THEN 'Отправить предложение'"
        " ELSE 'Встреча с клиентом' END"
    )


def statements() -> list[tuple[str, str, str]]:
    """(what, table, SQL) of each insert; the SQL takes %(tenant)s, %(type)s, %(now)s."""
    lead_h = _HASH.format(id="r.id")
    spread = f"mod({lead_h} * 37, 100)"  # another 0…99, for the due time
    return [
        (
            "open activities of open leads",
            "leads_lead",
            _INSERT.format(
                table="leads_lead",
                created="r.created_at",
                kind=_kind("r.id"),
                subject=_subject("r.id"),
                due=f"%(now)s + ({spread} * 240 / 100 - 72) * interval '1 hour'",
                done="NULL",
                where=(
                    "r.deleted_at IS NULL AND r.owner_id IS NOT NULL"
                    f" AND r.state IN ('new', 'in_progress') AND {lead_h} < 75"
                ),
            ),
        ),
        (
            "done calls of leads in progress",
            "leads_lead",
            _INSERT.format(
                table="leads_lead",
                created="r.created_at",
                kind="'call'",
                subject="'Первый звонок'",
                due="r.created_at + interval '30 minutes'",
                done="r.created_at + interval '40 minutes'",
                where="r.deleted_at IS NULL AND r.state = 'in_progress'",
            ),
        ),
        (
            "done calls of closed leads",
            "leads_lead",
            _INSERT.format(
                table="leads_lead",
                created="r.created_at",
                kind="'call'",
                subject="'Первый звонок'",
                due="COALESCE(r.taken_at, r.created_at) + interval '1 hour'",
                done="COALESCE(r.taken_at, r.created_at) + interval '1 hour'",
                where=(
                    f"r.state IN ('converted', 'junk') AND r.taken_at IS NOT NULL AND {lead_h} < 60"
                ),
            ),
        ),
        (
            "open activities of open deals",
            "deals_deal",
            _INSERT.format(
                table="deals_deal",
                created="r.created_at",
                kind=_kind("r.id"),
                subject=_subject("r.id"),
                due=f"%(now)s + ({spread} * 19 / 100 - 5) * interval '1 day'",
                done="NULL",
                where=f"r.outcome = 'open' AND {lead_h} < 80",
            ),
        ),
        (
            "done activities of deals",
            "deals_deal",
            _INSERT.format(
                table="deals_deal",
                created="r.created_at",
                kind="'meeting'",
                subject="'Обсудить условия'",
                due="r.created_at + interval '1 day'",
                done="r.created_at + interval '1 day'",
                where="TRUE",
            ),
        ),
    ]


def top_up(database_url: str, slug: str) -> int:
    """Add the activities of tenant `slug` unless it has some; the number of rows added."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT id FROM crm_tenant WHERE slug = %s", [slug]).fetchone()
        if row is None:
            raise SystemExit(f"no tenant {slug}")
        tenant = row[0]
        if connection.execute(
            "SELECT 1 FROM crm_activity WHERE tenant_id = %s LIMIT 1", [tenant]
        ).fetchone():
            print(f"activities of {slug}: already there")
            return 0
        types = dict(
            connection.execute(
                "SELECT model, id FROM django_content_type WHERE app_label IN ('leads', 'deals')"
                " AND model IN ('lead', 'deal')"
            ).fetchall()
        )
        (now,) = connection.execute("SELECT now()").fetchone()
        added = 0
        for what, table, statement in statements():
            started = time.monotonic()
            model = "lead" if table == "leads_lead" else "deal"
            cursor = connection.execute(
                statement, {"tenant": tenant, "type": types[model], "now": now}
            )
            added += cursor.rowcount
            print(f"  {what}: {cursor.rowcount:,} in {time.monotonic() - started:.1f} s")
        connection.commit()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) crm_activity")
    print(f"activities of {slug}: {added:,} added")
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", required=True)
    args = parser.parse_args()
    top_up(os.environ["DATABASE_URL"], args.slug)


if __name__ == "__main__":
    main()
