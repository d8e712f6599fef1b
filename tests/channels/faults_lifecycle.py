"""Worker faults of tests/channels/test_worker_lifecycle.py (loaded by the worker when the
stack's TEST_WORKER_FAULT_MODULES names this module; see tests/channels/worker_app.py).

- `"test_fault": "hold", "test_gate": NAME`: the first attempt processes the delivery (the
  lead written, not committed), writes the pool process' PID to
  `$TEST_WORKER_DIR/held-<event id>` and waits, its transaction open, until the test
  creates `$TEST_WORKER_DIR/NAME` (at most HOLD_SECONDS); later attempts run normally.
  It holds a drain's whole batch, as a slow delivery (or a slow database) would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from tests.channels import worker_app

HOLD_SECONDS = 45


def hold(event: Any, process: Callable[[Any], None]) -> None:
    process(event)
    if event.attempts != 1:
        return
    gate = worker_app.DIR / str(json.loads(bytes(event.body))["test_gate"])
    (worker_app.DIR / f"held-{event.pk}").write_text(str(os.getpid()))
    deadline = time.monotonic() + HOLD_SECONDS
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


worker_app.FAULTS["hold"] = hold
