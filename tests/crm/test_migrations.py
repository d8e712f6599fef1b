"""Migrations are committed and reversible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, db: Path) -> subprocess.CompletedProcess:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DEBUG="1",
        ENV_FILE="/nonexistent",
        DATABASE_URL=f"sqlite:///{db}",
        DJANGO_SETTINGS_MODULE="crm.settings",
    )
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_no_model_change_lacks_a_migration(tmp_path):
    result = _manage("makemigrations", "--check", "--dry-run", db=tmp_path / "db.sqlite3")
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_apply_unapply_and_reapply(tmp_path):
    db = tmp_path / "db.sqlite3"
    for args in (("migrate",), ("migrate", "crm", "zero"), ("migrate",)):
        result = _manage(*args, "--noinput", db=db)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
