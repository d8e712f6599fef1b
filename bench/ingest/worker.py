"""The benchmark's Celery app (`celery -A bench.ingest.worker worker`): the application's
own app plus the floor task, one autocommitted one-row INSERT (bench_floor_row)."""

from __future__ import annotations

from django.db import connection

from crm.celery import app


@app.task(name="bench.floor_insert", ignore_result=True)
def floor_insert(n: int) -> None:
    """The least a task writing one row can cost."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_floor_row (n) VALUES (%s)", [n])


__all__ = ["app"]
