"""Database triggers that mark a rolled-up day as changed (analytics.models.RollupMark), in
the same transaction as the change, whatever wrote it: a service's save, a
`QuerySet.update`, a cascade, a bulk import. A lead marks its creation instant when it is
inserted, deleted or changed in a column a rollup reads (both instants when its creation
moves); a deal marks the creation instants of the leads it came from when its outcome,
amount or closing changes, or when it is deleted; a status stay (time in status) marks its
lead's creation instant when it is inserted, deleted or changed (closed, say).

Installed after every `migrate` (a post_migrate receiver, as the RLS policies are:
decision 001) rather than by a migration: SQLite remakes a table to alter it, which drops
the table's triggers and refuses a rename while another table's trigger names it. So on
SQLite they are removed before migrations run and installed again afterwards, and when
migrations were applied the rollups are dropped (read raw, rolled up again by the worker):
a data migration ran without marks. PostgreSQL keeps triggers through ALTER TABLE; they are
replaced all the same. Without the marks table (analytics migrated to zero) none is left.
"""

# ruff: noqa: S608 - the statements are built from this module's constant names only

from __future__ import annotations

from typing import Any

from django.db import connections

MARKS = "analytics_rollupmark"
ROLLUP_TABLES = (
    "analytics_rollupday",
    "analytics_leadday",
    "analytics_leadduration",
    "analytics_stayday",
    MARKS,
)
# The lead columns the rollups group or count by.
LEAD_COLUMNS = (
    "created_at",
    "deleted_at",
    "tenant_id",
    "state",
    "status_id",
    "source",
    "channel_id",
    "owner_id",
    "is_repeat",
    "taken_at",
    "first_response_at",
    "closed_at",
    "deal_id",
    "utm_source",
    "utm_campaign",
    "mql_at",
    "sal_at",
    "sql_at",
)
DEAL_COLUMNS = ("outcome", "amount", "closed_at")
STAY_COLUMNS = ("lead_id", "status_id", "entered_at", "left_at", "tenant_id")

POSTGRESQL = [
    """
    CREATE FUNCTION analytics_mark_lead() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at)
            VALUES (OLD.tenant_id, OLD.created_at, now(), now());
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (
            NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.tenant_id <> OLD.tenant_id
        )) THEN
            INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at)
            VALUES (NEW.tenant_id, NEW.created_at, now(), now());
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER analytics_mark_lead AFTER INSERT OR DELETE ON leads_lead
    FOR EACH ROW EXECUTE FUNCTION analytics_mark_lead()
    """,
    "CREATE TRIGGER analytics_mark_lead_update AFTER UPDATE ON leads_lead FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in LEAD_COLUMNS)
    + ") EXECUTE FUNCTION analytics_mark_lead()",
    """
    CREATE FUNCTION analytics_mark_deal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at)
        SELECT lead.tenant_id, lead.created_at, now(), now()
        FROM leads_lead lead WHERE lead.deal_id = OLD.id;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER analytics_mark_deal AFTER UPDATE ON deals_deal FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in DEAL_COLUMNS)
    + ") EXECUTE FUNCTION analytics_mark_deal()",
    """
    CREATE TRIGGER analytics_mark_deal_delete AFTER DELETE ON deals_deal
    FOR EACH ROW EXECUTE FUNCTION analytics_mark_deal()
    """,
    """
    CREATE FUNCTION analytics_mark_stay() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at)
            SELECT lead.tenant_id, lead.created_at, now(), now()
            FROM leads_lead lead WHERE lead.id = OLD.lead_id;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.lead_id <> OLD.lead_id) THEN
            INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at)
            SELECT lead.tenant_id, lead.created_at, now(), now()
            FROM leads_lead lead WHERE lead.id = NEW.lead_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER analytics_mark_stay AFTER INSERT OR DELETE ON leads_statusstay
    FOR EACH ROW EXECUTE FUNCTION analytics_mark_stay()
    """,
    "CREATE TRIGGER analytics_mark_stay_update AFTER UPDATE ON leads_statusstay FOR EACH ROW "
    "WHEN (" + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in STAY_COLUMNS) + ") "
    "EXECUTE FUNCTION analytics_mark_stay()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS analytics_mark_stay_update ON leads_statusstay",
    "DROP TRIGGER IF EXISTS analytics_mark_stay ON leads_statusstay",
    "DROP FUNCTION IF EXISTS analytics_mark_stay()",
    "DROP TRIGGER IF EXISTS analytics_mark_deal_delete ON deals_deal",
    "DROP TRIGGER IF EXISTS analytics_mark_deal ON deals_deal",
    "DROP FUNCTION IF EXISTS analytics_mark_deal()",
    "DROP TRIGGER IF EXISTS analytics_mark_lead_update ON leads_lead",
    "DROP TRIGGER IF EXISTS analytics_mark_lead ON leads_lead",
    "DROP FUNCTION IF EXISTS analytics_mark_lead()",
]

_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_mark(row: str) -> str:
    return (
        "INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at) "
        f"VALUES ({row}.tenant_id, {row}.created_at, {_NOW}, {_NOW});"
    )


def _sqlite_lead_mark(row: str) -> str:
    """The mark of the lead a stay row belongs to."""
    return (
        "INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at) "
        f"SELECT tenant_id, created_at, {_NOW}, {_NOW} FROM leads_lead "
        f"WHERE id = {row}.lead_id;"
    )


SQLITE = [
    f"CREATE TRIGGER analytics_mark_lead_insert AFTER INSERT ON leads_lead BEGIN "
    f"{_sqlite_mark('NEW')} END",
    f"CREATE TRIGGER analytics_mark_lead_delete AFTER DELETE ON leads_lead BEGIN "
    f"{_sqlite_mark('OLD')} END",
    "CREATE TRIGGER analytics_mark_lead_update AFTER UPDATE ON leads_lead WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in LEAD_COLUMNS)
    + f" BEGIN {_sqlite_mark('OLD')} "
    "INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at) "
    f"SELECT NEW.tenant_id, NEW.created_at, {_NOW}, {_NOW} "
    "WHERE NEW.created_at IS NOT OLD.created_at OR NEW.tenant_id IS NOT OLD.tenant_id; END",
    "CREATE TRIGGER analytics_mark_deal_update AFTER UPDATE ON deals_deal WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in DEAL_COLUMNS)
    + " BEGIN INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at) "
    f"SELECT tenant_id, created_at, {_NOW}, {_NOW} FROM leads_lead WHERE deal_id = OLD.id; END",
    "CREATE TRIGGER analytics_mark_deal_delete AFTER DELETE ON deals_deal BEGIN "
    "INSERT INTO analytics_rollupmark (tenant_id, at, created_at, updated_at) "
    f"SELECT tenant_id, created_at, {_NOW}, {_NOW} FROM leads_lead WHERE deal_id = OLD.id; END",
    "CREATE TRIGGER analytics_mark_stay_insert AFTER INSERT ON leads_statusstay BEGIN "
    f"{_sqlite_lead_mark('NEW')} END",
    "CREATE TRIGGER analytics_mark_stay_delete AFTER DELETE ON leads_statusstay BEGIN "
    f"{_sqlite_lead_mark('OLD')} END",
    "CREATE TRIGGER analytics_mark_stay_update AFTER UPDATE ON leads_statusstay WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in STAY_COLUMNS)
    + f" BEGIN {_sqlite_lead_mark('OLD')} "
    + _sqlite_lead_mark("NEW").replace(";", " AND NEW.lead_id IS NOT OLD.lead_id;")
    + " END",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "analytics_mark_stay_update",
        "analytics_mark_stay_delete",
        "analytics_mark_stay_insert",
        "analytics_mark_deal_delete",
        "analytics_mark_deal_update",
        "analytics_mark_lead_update",
        "analytics_mark_lead_delete",
        "analytics_mark_lead_insert",
    )
]


def _statements(vendor: str, *, install: bool) -> list[str]:
    if vendor == "postgresql":
        return POSTGRESQL if install else POSTGRESQL_REVERSE
    if vendor == "sqlite":
        return SQLITE if install else SQLITE_REVERSE
    return []


def _may_alter(cursor: Any, vendor: str) -> bool:
    """Whether the connected role owns the tables (PostgreSQL: the migrating owner does,
    the application role — tests' flush, say — does not, and leaves them alone)."""
    if vendor != "postgresql":
        return True
    cursor.execute(
        "SELECT bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() "
        "AND c.relname IN ('leads_lead', 'deals_deal', 'leads_statusstay')"
    )
    return bool(cursor.fetchone()[0])


def remove(using: str = "default") -> bool:
    """Drop the triggers (and their functions) if they exist; whether it could."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if not _may_alter(cursor, connection.vendor):
            return False
        for statement in _statements(connection.vendor, install=False):
            cursor.execute(statement)
    return True


def install(using: str = "default") -> bool:
    """(Re)create the triggers when the marks table exists; whether they were."""
    connection = connections[using]
    if not remove(using):
        return False
    with connection.cursor() as cursor:
        if MARKS not in connection.introspection.table_names(cursor):
            return False
        for statement in _statements(connection.vendor, install=True):
            cursor.execute(statement)
    return True


def before_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """pre_migrate receiver: SQLite migrates without the triggers (see the module)."""
    if connections[using].vendor == "sqlite":
        remove(using)


def after_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """post_migrate receiver: install the triggers; on SQLite, after applied migrations,
    drop the rollups (the worker rolls the days up again; reports read raw meanwhile)."""
    connection = connections[using]
    if connection.vendor == "sqlite" and plan:
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            if MARKS in tables:
                for table in ROLLUP_TABLES:
                    if table in tables:
                        cursor.execute(f"DELETE FROM {table}")
    install(using)
