"""The import benchmark's CSV generator (bench/imports/generate.py): the file is what a
Bitrix24 export looks like (BOM, ";", every cell quoted, its headers), the counts it writes
beside the file are what a row-by-row reading of the file gives (an oracle built on the
application's own phone reading, not on the generator), new people never repeat a lead the
tenant has, the floor's COPY rows fill every required column of `leads_lead`, and memory does
not grow with the file.

No database: the tenant's leads are given as lists, as the benchmark reads them.
"""

from __future__ import annotations

import codecs
import csv
import json
import tracemalloc
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import NOT_PROVIDED, GeneratedField

from bench.imports.generate import (
    FLOOR_COLUMNS,
    HEADERS,
    REJECTED,
    Existing,
    Floor,
    Keys,
    Spec,
    Writer,
)
from contacts.normalize import phones_in
from leads.models import Lead

ROWS = 3000
STATUSES = {
    "Новый": (1, "new"),
    "В работе": (2, "in_progress"),
    "Уточняется информация": (3, "in_progress"),
}
# A fifth of them converted: a merge keeps those as they were (skipped).
PHONE_LEADS = [
    Existing(phone_e164=f"+7916{n:07d}", phone=f"8916{n:07d}", converted=n % 5 == 0)
    for n in range(400)
]
EMAIL_LEADS = [Existing(email=f"Olga.Ivanova{n}@mail.ru", converted=n % 5 == 0) for n in range(200)]
CONVERTED = {lead.phone_e164 for lead in PHONE_LEADS if lead.converted} | {
    lead.email.lower() for lead in EMAIL_LEADS if lead.converted
}


class Tenant:
    """The tenant's keys as `taken` sees them; it also "has" the first new phone it is
    asked about, so the generator must redraw a row."""

    def __init__(self) -> None:
        self.keys = {lead.phone_e164 for lead in PHONE_LEADS} | {
            lead.email.lower() for lead in EMAIL_LEADS
        }
        self.clashes = 0

    def taken(self, phones: list[str], emails: list[str]) -> set[str]:
        if not self.clashes and phones:
            self.keys.add(phones[0])
            self.clashes += 1
        return {key for key in [*phones, *emails] if key in self.keys}


def _spec(rows: int, tenant: Tenant) -> Spec:
    return Spec(
        rows=rows,
        phone_leads=PHONE_LEADS,
        email_leads=EMAIL_LEADS,
        owners=["Анна Смирнова", "Пётр Козлов"],
        taken=tenant.taken,
        now=datetime(2026, 12, 1, 12, 0),  # noqa: DTZ001 - the workspace's wall time
        floor=Floor(tenant_id=7, statuses=STATUSES),
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tenant = Tenant()
    path = tmp_path_factory.mktemp("imports") / "leads.csv"
    figures = Writer(_spec(ROWS, tenant), seed=3).write(path)
    return path, figures, tenant


def _keys(row: dict[str, str]) -> tuple[list[str], bool]:
    """The row's match keys (its first phone, its e-mail) read as the application reads
    them, and whether its date is a date."""
    phones = [
        phone
        for header in ("Мобильный телефон", "Рабочий телефон")
        for phone in phones_in(row[header], "RU")
    ]
    keys = [phones[0].e164] if phones else []
    if row["Рабочий e-mail"]:
        try:
            validate_email(row["Рабочий e-mail"])
            keys.append(row["Рабочий e-mail"].lower())
        except ValidationError:
            pass
    try:
        datetime.strptime(row["Дата создания"], "%d.%m.%Y %H:%M")  # noqa: DTZ007 - a wall time
    except ValueError:
        return keys, False
    return keys, True


def test_the_file_is_a_bitrix24_export(written):
    path, figures, _tenant = written
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ";".join(f'"{h}"' for h in HEADERS)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert len(rows) == ROWS + 1 == figures["rows"] + 1
    assert {len(row) for row in rows} == {len(HEADERS)}
    cells = [dict(zip(HEADERS, row, strict=True)) for row in rows[1:]]
    # Phones typed every way: with +7 and 8, brackets, dashes, bare digits, two in a cell,
    # extensions; comments of several lines.
    mobiles = [c["Мобильный телефон"] for c in cells]
    assert any(m.startswith("+7 (9") for m in mobiles)
    assert any(m.startswith("8 9") for m in mobiles)
    assert any(m[:1] == "9" and m.isdigit() for m in mobiles)
    assert any(len(phones_in(m, "RU")) == 2 for m in mobiles)
    assert any("доб." in c["Рабочий телефон"] for c in cells)
    assert any("\n" in c["Комментарий"] for c in cells)


def test_expected_counts_are_what_a_row_by_row_reading_gives(written):
    path, figures, tenant = written
    known = set(tenant.keys)  # the tenant's leads (and the key it claimed to have)
    kinds = {"new": 0, "repeat": 0, "kept": 0}
    rejected = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter=";"), start=2):
            keys, dated = _keys(row)
            if not keys or not dated:
                rejected.append(number)
                continue
            kinds["repeat" if known.intersection(keys) else "new"] += 1
            kinds["kept"] += bool(CONVERTED.intersection(keys))
            known.update(keys)
    assert rejected == figures["rejected_rows"]
    assert sum(figures["kinds"][k] for k in REJECTED) == len(rejected) > 0
    new, repeats, kept = kinds["new"], kinds["repeat"], kinds["kept"]
    assert 0 < kept < repeats
    merged = {"created": new, "updated": repeats - kept, "skipped": kept, "rejected": len(rejected)}
    assert figures["policies"] == {
        "merge": merged,
        "replace": merged,
        "skip": {"created": new, "updated": 0, "skipped": repeats, "rejected": len(rejected)},
        "create": {"created": new + repeats, "updated": 0, "skipped": 0, "rejected": len(rejected)},
    }
    # About 10% repeat the tenant's leads, 2% earlier rows, 1% are rejected.
    assert 0.08 * ROWS < figures["kinds"]["db_phone"] + figures["kinds"]["db_email"] < 0.12 * ROWS
    assert 0 < figures["kinds"]["file_dup"] < 0.04 * ROWS
    assert 0.003 * ROWS < len(rejected) < 0.02 * ROWS
    assert tenant.clashes == 1
    assert json.loads(path.with_name("leads.csv.expected.json").read_text()) == figures


def test_new_keys_differ_between_files_of_a_run(tmp_path):
    keys, tenant = Keys(5), Tenant()
    seen: set[str] = set()
    for number in (1, 2):
        spec = _spec(500, tenant)
        spec.phone_leads, spec.email_leads = (), ()
        Writer(spec, seed=number, keys=keys).write(tmp_path / f"{number}.csv")
        with (tmp_path / f"{number}.csv").open(encoding="utf-8-sig", newline="") as handle:
            file_keys = set()
            for row in csv.DictReader(handle, delimiter=";"):
                keys_of_row, _dated = _keys(row)
                file_keys.update(keys_of_row)
        assert not seen & file_keys
        seen |= file_keys


def test_floor_rows_fill_every_required_column(written):
    path, figures, _tenant = written
    required = {
        field.column
        for field in Lead._meta.concrete_fields
        if not field.null
        and not field.primary_key
        and field.db_default is NOT_PROVIDED
        and not isinstance(field, GeneratedField)
    }
    assert required - set(FLOOR_COLUMNS) == set()
    lines = path.with_name("leads.csv.copy").read_text(encoding="utf-8").splitlines()
    assert len(lines) == figures["floor_rows"] == ROWS - len(figures["rejected_rows"])
    rows = [dict(zip(FLOOR_COLUMNS, line.split("\t"), strict=True)) for line in lines]
    assert {row["tenant_id"] for row in rows} == {"7"}
    assert {(row["status_id"], row["state"]) for row in rows} <= {
        ("1", "new"),
        ("2", "in_progress"),
        ("3", "in_progress"),
    }
    assert all(row["phone_e164"] or row["email_key"] for row in rows)
    assert all(datetime.fromisoformat(row["created_at"]).utcoffset() is not None for row in rows)


def test_memory_does_not_grow_with_the_file(tmp_path):
    def peak(rows: int) -> int:
        tenant = Tenant()
        tracemalloc.start()
        writer = Writer(_spec(rows, tenant), seed=1, chunk=200, reservoir=100)
        writer.write(tmp_path / f"{rows}.csv")
        _now, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(1000), peak(6000)
    assert large < small * 1.3
