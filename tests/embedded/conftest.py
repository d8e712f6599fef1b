"""Fixtures of the embedded-setup tests: a migrated SQLite file per test session, copied
for each test, and the server of `make run` on it, stopped by its PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded.stack import EmbeddedStack, copy_database, migrated_database


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_database(tmp_path_factory.mktemp("embedded-template"))


@pytest.fixture
def embedded(tmp_path: Path, embedded_template: Path) -> Iterator[EmbeddedStack]:
    """A seeded copy of the migrated database and the embedded server, not started yet."""
    stack = EmbeddedStack(folder=tmp_path, database=copy_database(embedded_template, tmp_path))
    try:
        yield stack
    finally:
        stack.stop()
