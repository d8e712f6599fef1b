"""Inserting many rows of one model in one statement, fast: an import's batch.

On PostgreSQL the rows go in as one `INSERT … SELECT … FROM unnest(<one array per
column>)`: a single statement with one parameter per column whatever the number of rows,
so Django does not build a placeholder per value (the bulk_create of a thousand leads
spent most of its time there), and the arrays are sent in binary through a cursor
binding them on the server (Django's client-side cursor quotes each of them into the SQL
text: most of an import's Python time in its inserts). Row-level security checks every
row as for any INSERT (COPY FROM, faster still, is refused on tables under row-level
security). Elsewhere (SQLite in development) it is Django's bulk_create.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, models
from django.utils import timezone

from crm.tenancy import _claim

# Fields whose Python value psycopg sends as it is: no need for Django's per-value
# preparation (the bulk of an insert's Python time).
_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.DecimalField,
    models.DateTimeField,
    models.DateField,
)


def _plain(field: models.Field) -> bool:
    if field.is_relation:
        return isinstance(field.target_field, models.AutoField | models.IntegerField)
    return isinstance(field, _PLAIN) and type(field).get_db_prep_value in (
        models.Field.get_db_prep_value,
        models.DateTimeField.get_db_prep_value,
        models.DateField.get_db_prep_value,
        models.DecimalField.get_db_prep_value,
        models.IntegerField.get_db_prep_value,
    )


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False)
    ]


@contextmanager
def _binary_cursor() -> Iterator[Any]:
    """A cursor of the current connection (its transaction) whose `%b` parameters go in
    binary, logged and wrapped as Django's own cursors are."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = ServerBindingCursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        yield cursor


def _insert(
    model: type[models.Model],
    fields: list[models.Field],
    values: list[list],
    *,
    returning: bool,
    ignore_conflicts: bool,
) -> list[Any]:
    """One INSERT … SELECT FROM unnest(one array per column); the new primary keys in
    the order of the values when `returning`."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
    # Names come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608
        f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS given({names}, ord) "
        "ORDER BY ord"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    with _binary_cursor() as cursor:
        cursor.execute(sql, values)
        return [row[0] for row in cursor.fetchall()] if returning else []


def insert_many(
    model: type[models.Model], objs: Sequence[models.Model], *, ignore_conflicts: bool = False
) -> None:
    """Insert `objs` (new instances of `model`) with their fields' pre-save values, as
    bulk_create does, and give them their primary keys (not with `ignore_conflicts`: a
    row that met a unique constraint is skipped)."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    for obj in objs:
        _claim(obj)  # the tenant's check, as save() does
    fields = _columns(model)
    plain = [_plain(field) for field in fields]
    values: list[list] = [[] for _ in fields]
    for obj in objs:
        for index, field in enumerate(fields):
            value = field.pre_save(obj, True)
            if not plain[index]:
                value = field.get_db_prep_save(value, connection)
            values[index].append(value)
    ids = _insert(
        model, fields, values, returning=not ignore_conflicts, ignore_conflicts=ignore_conflicts
    )
    if ignore_conflicts:
        return
    for obj, pk_value in zip(objs, ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows given as tuples of the values of `names` (field attnames, e.g.
    "lead_id"), building no model instances: the side rows an import writes by the
    thousand (search words, status stays, history). Other fields take their default (the
    moment of the call for created/updated times). The caller vouches for the tenant."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(names, row, strict=True))) for row in rows],
            ignore_conflicts=ignore_conflicts,
        )
        return
    by_attname = {f.attname: f for f in _columns(model)}
    given = [by_attname[name] for name in names]
    now = timezone.now()
    values: list[list] = [list(column) for column in zip(*rows, strict=True)]
    for index, field in enumerate(given):
        if not _plain(field):
            values[index] = [field.get_db_prep_save(v, connection) for v in values[index]]
    fields = list(given)
    for field in _columns(model):
        if field.attname in names:
            continue
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        default = now if auto else field.get_db_prep_save(field.get_default(), connection)
        fields.append(field)
        values.append([default] * len(rows))
    _insert(model, fields, values, returning=False, ignore_conflicts=ignore_conflicts)


def update_many(
    model: type[models.Model], objs: Sequence[models.Model], names: Sequence[str]
) -> None:
    """Save fields `names` of several saved instances in one statement: `UPDATE … FROM
    unnest(<the ids>, <one array per field>)` on PostgreSQL (bulk_update's CASE per row
    costs more in Python than the update in the database); elsewhere bulk_update."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, list(names), batch_size=500)
        return
    fields = [model._meta.get_field(name) for name in names]
    columns: list[list] = [[obj.pk for obj in objs]]
    for field in fields:
        column = []
        for obj in objs:
            value = field.pre_save(obj, False)
            column.append(value if _plain(field) else field.get_db_prep_save(value, connection))
        columns.append(column)
    quote = connection.ops.quote_name
    pk = model._meta.pk
    given = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in [pk, *fields])
    sets = ", ".join(f"{quote(f.column)} = given.{quote(f.column)}" for f in fields)
    table = quote(model._meta.db_table)
    # Names come from the model; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {sets} FROM unnest({arrays}) "  # noqa: S608
        f"AS given(given_pk, {given}) WHERE {table}.{quote(pk.column)} = given.given_pk"
    )
    with _binary_cursor() as cursor:
        cursor.execute(sql, columns)
