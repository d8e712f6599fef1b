"""Migrations are committed and reversible."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.processes import run_manage


def _manage(*args: str, db: Path) -> subprocess.CompletedProcess:
    return run_manage(
        *args, DEBUG="1", DATABASE_URL=f"sqlite:///{db}", DJANGO_SETTINGS_MODULE="crm.settings"
    )


def test_no_model_change_lacks_a_migration(tmp_path):
    result = _manage("makemigrations", "--check", "--dry-run", db=tmp_path / "db.sqlite3")
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_apply_unapply_and_reapply(tmp_path):
    db = tmp_path / "db.sqlite3"
    for args in (("migrate",), ("migrate", "crm", "zero"), ("migrate",)):
        result = _manage(*args, "--noinput", db=db)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
