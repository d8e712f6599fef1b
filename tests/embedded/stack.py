"""The embedded setup (`make run` without REDIS_URL) as a real server in a subprocess.

`make run`'s own settings (crm.settings with the values of .env.example: DEBUG on, no
DATABASE_URL or REDIS_URL) on a SQLite file of the test's own folder, served by the command
`make run` uses on a free loopback port, and stopped by its PID. The pytest database is not
involved (CI runs the suite on PostgreSQL): the test reads the SQLite file directly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
# What `make run` serves with (Makefile, the branch without REDIS_URL).
SERVE_COMMAND = "runembedded"


def migrated_database(folder: Path) -> Path:
    """A freshly migrated SQLite file of the embedded setup (for copying into each test)."""
    database = folder / "template.sqlite3"
    EmbeddedStack(folder=folder, database=database).manage("migrate", "--noinput")
    return database


class EmbeddedStack:
    """One SQLite file, the server of `make run` on it, and ways to look inside."""

    def __init__(self, *, folder: Path, database: Path, port: int | None = None) -> None:
        self.folder = folder
        self.database = database
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env.update(
            # .env.example's development values, and nothing of the test run's environment.
            ENV_FILE="/nonexistent",
            DJANGO_SETTINGS_MODULE="crm.settings",
            DEBUG="1",
            SECRET_KEY="embedded-test-only-0123456789abcdefghijklmnopqrstuvwxyz",
            DATABASE_URL=f"sqlite:///{self.database}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def manage(self, *args: str) -> str:
        """`python manage.py ARGS` on this database; its standard output."""
        return self._run([sys.executable, "manage.py", *args])

    def seed(self, *flags: str) -> dict[str, Any]:
        """tests/embedded/seed.py on this database: the ids and token it created."""
        return json.loads(self._run([sys.executable, "-m", "tests.embedded.seed", *flags]))

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(  # noqa: S603 - our own code with fixed arguments
            command,
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        """Serve with `make run`'s command, without the autoreloader (one process, its PID)."""
        self.log_path = self.folder / "server.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command
                [
                    sys.executable,
                    "manage.py",
                    SERVE_COMMAND,
                    f"127.0.0.1:{self.port}",
                    "--noreload",
                ],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def answers() -> bool:
            assert self.process.poll() is None, f"the server exited:\n{self.log()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(answers, "the server to listen", seconds=60)

    def stop(self) -> None:
        """SIGTERM to our server (SIGINT may be ignored in a background job), then SIGKILL
        if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)

    def log(self) -> str:
        path = getattr(self, "log_path", None)
        return path.read_text(errors="replace")[-6000:] if path and path.exists() else ""

    def rows(self, query: str, *params: Any) -> list[tuple]:
        """Read the database as it is now (read-only; WAL readers do not block writers)."""
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(query, params).fetchall()
        finally:
            connection.close()

    def value(self, query: str, *params: Any) -> Any:
        return self.rows(query, *params)[0][0]


def copy_database(template: Path, folder: Path) -> Path:
    database = folder / "db.sqlite3"
    shutil.copyfile(template, database)
    return database
