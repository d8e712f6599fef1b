"""Worker faults of tests/channels/test_delivery_faults.py (loaded by the real worker through
`TEST_WORKER_FAULT_MODULES=tests.channels.faults_delivery`; see tests/channels/worker_app.py).

- `"test_fault": "crash"`: every attempt ends the pool process at once (`os._exit(1)`: no
  exception, no rollback handler, no Celery failure — the process is gone), after appending
  its PID to `$TEST_WORKER_DIR/crash-<event id>` (one line per attempt);
- `"test_fault": "slow"`: the delivery is processed normally, a little slowly (a steady
  cost per delivery, so a burst takes long enough to watch other tenants pass it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tests.channels.worker_app import DIR, FAULTS

SLOW_SECONDS = 0.1


def crash(event: Any, process: Callable[[Any], None]) -> None:
    with (DIR / f"crash-{event.pk}").open("a") as marker:
        marker.write(f"{os.getpid()}\n")
    os._exit(1)


def slow(event: Any, process: Callable[[Any], None]) -> None:
    time.sleep(SLOW_SECONDS)
    process(event)


FAULTS["crash"] = crash
FAULTS["slow"] = slow
