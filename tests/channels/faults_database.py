"""Worker faults of the database-fault tests (tests/channels/test_database_faults.py),
loaded by the worker's app (tests/channels/worker_app.py) through
`TEST_WORKER_FAULT_MODULES=tests.channels.faults_database`. A delivery asks for one in its
JSON body (`"test_fault"`):

- `"stall-once"`: the first attempt does the real processing (the lead, its contact and
  deal are written, not committed), writes its connection's PostgreSQL backend PID to
  `$TEST_WORKER_DIR/backend-<event id>` and waits, inside its transaction, until the test
  writes `$TEST_WORKER_DIR/go-<event id>` (at most STALL_SECONDS) — the test terminates
  that backend meanwhile; later attempts run normally;
- `"dawdle"`: the real processing, then a short sleep inside the transaction, so that a
  burst keeps a batch open long enough for a fault to land in the middle of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from tests.channels.worker_app import DIR, FAULTS

STALL_SECONDS = 30
DAWDLE_SECONDS = 0.1


def _stall_once(event: Any, process: Callable[[Any], None]) -> None:
    process(event)
    if event.attempts != 1:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    (DIR / f"backend-{event.pk}").write_text(str(backend))
    go = DIR / f"go-{event.pk}"
    deadline = time.monotonic() + STALL_SECONDS
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _dawdle(event: Any, process: Callable[[Any], None]) -> None:
    process(event)
    time.sleep(DAWDLE_SECONDS)


FAULTS["stall-once"] = _stall_once
FAULTS["dawdle"] = _dawdle
