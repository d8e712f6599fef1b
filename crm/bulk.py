"""Inserting many rows of one model in one statement, fast: an import's batch.

On PostgreSQL the rows go in as one `INSERT … SELECT … FROM unnest(<one array per
column>)`: a single statement with one parameter per column whatever the number of rows,
so Django does not build a placeholder per value (the bulk_create of a thousand leads
spent most of its time there). Row-level security checks every row as for any INSERT
(COPY FROM, faster still, is refused on tables under row-level security). Elsewhere
(SQLite in development) it is Django's bulk_create.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

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
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    pk = quote(model._meta.pk.column)
    # Names come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608
        f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS given({names}, ord) "
        "ORDER BY ord"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    else:
        sql += f" RETURNING {pk}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if ignore_conflicts:
            return
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = connection.alias
