"""Helpers for tests that run separate processes: manage.py in a production-like
environment (nothing of the test run leaks in), a free loopback port, bounded waiting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `python manage.py ARGS` with only PATH/HOME/LANG and `env` in the environment."""
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    clean.update({"ENV_FILE": "/nonexistent", **env})
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], Any], what: str, *, seconds: float = 60) -> Any:
    """Poll `check` every 0.1 s until it returns something truthy, at most `seconds`."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.1) + 1):
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")
