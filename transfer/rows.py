"""One row of an import on its way: its cells by field, what its adapter read from it, and
what a batch of rows did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transfer import reading
from transfer.models import ImportJob


class RowError(ValueError):
    """A row that cannot be imported; the message says why (for the report)."""


@dataclass
class Cells:
    """One data row as the mapping reads it: field key -> the texts of its columns."""

    number: int
    raw: list[Any]
    values: dict[str, list[str]]

    def text(self, key: str) -> str:
        """The field's first non-empty text ("" when none)."""
        return next((v for v in self.values.get(key, ()) if v), "")

    def texts(self, key: str) -> list[str]:
        return [v for v in self.values.get(key, ()) if v]


@dataclass
class Item:
    """A row read by its adapter: the values to write, its match keys, and what became of it."""

    cells: Cells
    data: dict[str, Any]
    keys: list[str] = field(default_factory=list)  # "phone:+7…", "email:…", "external:…"
    notes: list[str] = field(default_factory=list)  # what could not be read, kept as text
    match: Any = None  # the existing (or earlier-in-batch) record of this person
    record: Any = None  # the record this row created or changed
    draft: Any = None  # the record it would make, or why not (its adapter's `prepare`)


@dataclass
class Outcome:
    """What one batch did (the job's counters move by it)."""

    created: list[Item] = field(default_factory=list)
    updated: list[Item] = field(default_factory=list)  # existing records changed
    merged: int = 0  # rows merged into a record an earlier row of the import made or changed
    skipped: int = 0
    rejected: list[tuple[Cells, str]] = field(default_factory=list)


def mapped_cells(number: int, row: list[Any], mapping: dict[int, str]) -> Cells:
    """The row's cells by field key, as texts with surrounding blanks removed."""
    values: dict[str, list[str]] = {}
    for index, key in mapping.items():
        if key and index < len(row):
            text = reading.cell_text(row[index]).strip()
            if text:
                values.setdefault(key, []).append(text)
    return Cells(number=number, raw=row, values=values)


def job_mapping(job: ImportJob) -> dict[int, str]:
    return {int(index): key for index, key in (job.mapping or {}).items() if key}
