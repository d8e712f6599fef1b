"""The Celery app of the real-worker tests (`celery -A tests.channels.worker_app worker`).

It is the application's own app (crm.celery) with test-only faults a delivery asks for in
its JSON body (the API adapter ignores unknown keys), so a test can drive one worker:

- `"test_fault": "slow-once"`: the first attempt creates the lead, writes the pool process'
  PID to `$TEST_WORKER_DIR/slow-<event id>` and sleeps before its transaction commits (the
  test kills that process there); later attempts run normally;
- `"test_fault": "fail"`: every attempt raises;
- any fault a module named in `$TEST_WORKER_FAULT_MODULES` (comma-separated) adds to
  `FAULTS`: `FAULTS[name](event, process)` runs in place of the processing.

It also writes `$TEST_WORKER_DIR/ready` once the worker consumes, has a task that records
its database connection's backend PID (to see connections reused), and forgets cached
content types before each task (the tests flush the database between tests, which gives
content types new ids; a production database never does that).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django
from celery import signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402

from channels import pipeline  # noqa: E402
from crm.celery import app  # noqa: E402

DIR = Path(os.environ["TEST_WORKER_DIR"])
SLOW_SECONDS = 60
_process = pipeline.process


def _fault(event: Any) -> str:
    try:
        return str(json.loads(bytes(event.body)).get("test_fault", ""))
    except (ValueError, AttributeError):
        return ""


# Faults other test modules add: name → a function of (event, the real processing).
FAULTS: dict[str, Callable[[Any, Callable[[Any], None]], None]] = {}


def process(event: Any) -> None:
    fault = _fault(event)
    if fault in FAULTS:
        FAULTS[fault](event, _process)
        return
    if fault == "fail":
        raise RuntimeError("test fault: this delivery always fails")
    _process(event)
    if fault == "slow-once" and event.attempts == 1:
        marker = DIR / f"slow-{event.pk}"
        marker.write_text(str(os.getpid()))
        time.sleep(SLOW_SECONDS)


pipeline.process = process
for _module in filter(None, os.environ.get("TEST_WORKER_FAULT_MODULES", "").split(",")):
    importlib.import_module(_module.strip())


@app.task(name="tests.record_backend_pid")
def record_backend_pid(name: str) -> None:
    """Write the PostgreSQL backend PID of this task's connection to `$TEST_WORKER_DIR/name`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (DIR / name).write_text(str(cursor.fetchone()[0]))


@signals.worker_ready.connect
def _ready(**kwargs: Any) -> None:
    (DIR / "ready").write_text(str(os.getpid()))


@signals.task_prerun.connect
def _forget_content_types(**kwargs: Any) -> None:
    ContentType.objects.clear_cache()


__all__ = ["app"]
