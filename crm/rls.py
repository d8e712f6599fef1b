"""PostgreSQL row-level security, generated from the model registry.

After every `migrate`, for each tenant-owned table (every concrete `TenantModel`):
ENABLE + FORCE row level security and one policy that fails closed: with no
`app.tenant_id` set a query sees no rows and an insert is rejected. Tables that declare
`rls_user_column` also show a user their own rows in other tenants (reads only). The
migrating role (the tables' owner) then grants the application role row rights on every
table it owns, and nothing else: no TRUNCATE (row-level security does not filter it), no
DDL, no REFERENCES or TRIGGER. A model may narrow them with `app_role_privileges` (the
channel routes are read-only for the app: decision 009). The application role is neither
superuser nor owner, so the policies bind it.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from psycopg import sql

from crm.tenancy import tenant_models

POLICY = "tenant_isolation"
USER_POLICY = "own_rows_across_tenants"
TENANT_EXPR = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"
# Row rights only: no TRUNCATE (RLS does not filter it) and no DDL. A model's
# `app_role_privileges` may narrow them (never widen: checked in _table_privileges).
APP_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
APP_SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")


def _owned_tables(cursor: Any, tables: list[str]) -> set[str]:
    """The tables in `tables` that the connected role may alter (owns, or is superuser)."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%s) "
        "AND pg_has_role(current_user, c.relowner, 'USAGE')",
        [tables],
    )
    return {row[0] for row in cursor.fetchall()}


def apply_policies(using: str = "default") -> list[str]:
    """(Re)create the RLS policies and grants; return the tables that were secured."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    tables = {model._meta.db_table: model for model in tenant_models()}
    with transaction.atomic(using=using), connection.cursor() as cursor:
        owned = _owned_tables(cursor, list(tables))
        for table in sorted(owned):
            model = tables[table]
            ident = sql.Identifier(table)
            cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(ident))
            cursor.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(ident))
            cursor.execute(
                sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(POLICY), ident)
            )
            cursor.execute(
                sql.SQL("CREATE POLICY {} ON {} USING ({expr}) WITH CHECK ({expr})").format(
                    sql.Identifier(POLICY), ident, expr=sql.SQL(TENANT_EXPR)
                )
            )
            cursor.execute(
                sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(USER_POLICY), ident)
            )
            if model.rls_user_column:
                column = model._meta.get_field(model.rls_user_column).column
                cursor.execute(
                    sql.SQL(
                        "CREATE POLICY {} ON {} FOR SELECT USING "
                        "({} = NULLIF(current_setting('app.user_id', true), '')::bigint)"
                    ).format(sql.Identifier(USER_POLICY), ident, sql.Identifier(column))
                )
        _grant_app_role(cursor)
    return sorted(owned)


def _table_privileges(table: str) -> tuple[str, ...]:
    """The app role's rights on `table`: row rights, or fewer where its model says so."""
    model = next(
        (m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table),
        None,
    )
    wanted = tuple(getattr(model, "app_role_privileges", APP_TABLE_PRIVILEGES))
    if not set(wanted) <= set(APP_TABLE_PRIVILEGES):
        raise ValueError(f"{table}: app_role_privileges may only narrow the row rights")
    return wanted


def _grant_app_role(cursor: Any) -> None:
    """Give the application role row rights (not TRUNCATE, not DDL) on every table the
    migrating role owns, and take back anything else it was given earlier."""
    role = settings.DATABASE_APP_ROLE
    cursor.execute(
        "SELECT current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [role]
    )
    current, exists = cursor.fetchone()
    if not role or not exists or role == current:
        return
    cursor.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'S') "
        "AND pg_has_role(current_user, c.relowner, 'USAGE')"
    )
    for name, kind in cursor.fetchall():
        privileges = APP_SEQUENCE_PRIVILEGES if kind == "S" else _table_privileges(name)
        target = sql.SQL("SEQUENCE {}" if kind == "S" else "TABLE {}").format(sql.Identifier(name))
        grantee = sql.Identifier(role)
        cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, grantee))
        cursor.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), target, grantee
            )
        )


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: connected once in CrmConfig.ready()."""
    apply_policies(using)
