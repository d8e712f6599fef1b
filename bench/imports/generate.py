"""A realistic leads CSV for the import benchmark, written as a stream, with the counts an
import of it must report (no Django: the run gives it what it needs from the database).

The file is a Bitrix24 lead export: Russian headers (`HEADERS`), UTF-8 with a BOM, ";"
between cells, every cell quoted, CRLF; names from the benchmark's name lists, phones typed
every way people type them (`MOBILE_FORMATS`; two numbers in a cell; an office number with
its extension), e-mails, sources and statuses by their Russian names, comments (some of
several lines), "Дата создания" as dd.mm.yyyy HH:MM in the workspace's zone. Kinds of rows:

- `new`: a person the tenant does not know (87%);
- `db_phone`, `db_email`: a lead already in the tenant (`Existing`), by its phone written in
  another format (7%) or its e-mail in another case (3%);
- `file_dup`: a person of an earlier `new` row of the file again, by the phone in another
  format or the e-mail in another case (2%): near it or far from it, each `new` row at most
  once;
- rejected (≈ 1%): `no_contact` (no phone, no e-mail), `bad_phone` (an unreadable phone
  and nothing else), `bad_date` (a date that does not exist).

New phones and e-mails are unique by construction (counters through a permutation, so no
set of them is kept) and checked against the tenant a chunk at a time (`taken`): a row
whose key the tenant has gets new ones. Beside FILE it writes FILE.expected.json (what each
policy must report, and the rejected rows' numbers as the file numbers them: the header is
row 1) and, for the floor, FILE.copy: every row that is not rejected as COPY text of
`leads_lead` (`FLOOR_COLUMNS`), parsed already.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import data
from bench.rows import person

# The file's columns and the import fields they fill (transfer/fields.py): the benchmark
# saves this as a mapping, so it measures the import, not the guessing of headers.
FIELD_OF = {
    "ID": "external_id",
    "Название лида": "title",
    "Имя": "first_name",
    "Отчество": "middle_name",
    "Фамилия": "last_name",
    "Мобильный телефон": "phone",
    "Рабочий телефон": "phone",
    "Рабочий e-mail": "email",
    "Название компании": "company_name",
    "Должность": "position",
    "Источник": "source",
    "Статус": "status",
    "Комментарий": "message",
    "Дата создания": "created_at",
    "Ответственный": "owner",
    "UTM Source": "utm_source",
    "UTM Medium": "utm_medium",
    "UTM Campaign": "utm_campaign",
}
HEADERS = tuple(FIELD_OF)
POLICIES = ("merge", "replace", "skip", "create")
NEW, DB_PHONE, DB_EMAIL, FILE_DUP = "new", "db_phone", "db_email", "file_dup"
NO_CONTACT, BAD_PHONE, BAD_DATE = "no_contact", "bad_phone", "bad_date"
REJECTED = (NO_CONTACT, BAD_PHONE, BAD_DATE)
# (kind, share of the rows); `new` is the rest.
KINDS = (
    (DB_PHONE, 0.07),
    (DB_EMAIL, 0.03),
    (FILE_DUP, 0.02),
    (NO_CONTACT, 0.004),
    (BAD_PHONE, 0.003),
    (BAD_DATE, 0.003),
)
# (name in the file, source, weight): the lead sources by their Russian names.
SOURCES = (
    ("Веб-форма", "web_form", 40),
    ("Звонок", "call", 25),
    ("Эл. почта", "email", 10),
    ("Telegram", "telegram", 7),
    ("WhatsApp", "whatsapp", 7),
    ("Вручную", "manual", 6),
    ("Другое", "other", 5),
)
STATUSES = (("Новый", 75), ("В работе", 20), ("Уточняется информация", 5))
POSITIONS = ("Директор", "Менеджер по закупкам", "Главный инженер", "Бухгалтер", "Снабженец")
# A mobile number "9XX XXX XX XX" (its four groups) as people type it.
MOBILE_FORMATS = (
    "+7 ({0}) {1}-{2}-{3}",
    "8 ({0}) {1}-{2}-{3}",
    "8 {0} {1} {2} {3}",
    "{0}{1}{2}{3}",
    "+7{0}{1}{2}{3}",
    "8{0}{1}{2}{3}",
    "+7-{0}-{1}-{2}-{3}",
    "8-{0}-{1}-{2}-{3}",
)
# An office number (area code, the rest) and its extension.
OFFICE_FORMATS = (
    "+7 ({0}) {1}-{2}-{3} доб. {4}",
    "8 ({0}) {1}-{2}-{3}, доб. {4}",
    "8 {0} {1} {2} {3} ext. {4}",
)
AREA_CODES = ("495", "499", "812", "343", "383")
TWO_PHONES = (", ", "; ", " или ")
UNREADABLE = ("12-34", "нет", "уточнить", "+7 (9", "000", "—", "тел. позже")
BAD_DATES = ("31.02.{y} {hm}", "32.01.{y} {hm}", "00.00.0000 00:00", "{d}.13.{y} {hm}", "вчера")
# Permutations of the counters (n → n·STEP + OFFSET mod SPACE, STEP coprime with SPACE):
# every number drawn in one run is different without a set of them in memory.
MOBILE_SPACE, MOBILE_STEP = 10**9, 3**18
OFFICE_SPACE, OFFICE_STEP = 10**7, 3**14
TOKEN_SPACE, TOKEN_STEP = 36**6, 5**13
BASE36 = string.digits + string.ascii_lowercase
CHUNK = 5_000  # rows whose new keys are checked against the tenant at once
RESERVOIR = 4_000  # earlier new rows an in-file duplicate may repeat
PERSON = ("Имя", "Отчество", "Фамилия", "Название компании")  # what a repeat copies
SPAN_DAYS = 730
FLOOR_COLUMNS = data.words(
    "created_at updated_at title name company_name phone phone_e164 other_phones email "
    "email_key messenger messenger_id message source utm_source utm_medium utm_campaign "
    "utm_content utm_term amount currency temperature custom state is_repeat "
    "postpone_reason external_id tenant_id status_id"
)


@dataclass(frozen=True)
class Existing:
    """A lead the tenant has, which a `db_*` row repeats: its only lead with this key."""

    phone_e164: str = ""
    phone: str = ""  # as the lead keeps it (the file writes it another way)
    email: str = ""  # as the lead keeps it (the file writes it in another case)
    converted: bool = False  # a merge keeps a converted lead as it was: skipped


@dataclass(frozen=True)
class Floor:
    """Where the floor's COPY puts the rows: the scratch tenant and its statuses' ids."""

    tenant_id: int
    statuses: dict[str, tuple[int, str]]  # status name -> (id, state)


@dataclass
class Spec:
    """What to write: `rows` data rows; duplicates of `phone_leads` and `email_leads` (each
    used once, as far as they go); owners by name; `taken(phones, emails)` says which of
    these keys (E.164, lower-case e-mail) the tenant has."""

    rows: int
    phone_leads: Sequence[Existing] = ()
    email_leads: Sequence[Existing] = ()
    owners: Sequence[str] = ()
    taken: Callable[[list[str], list[str]], set[str]] = lambda phones, emails: set()
    zone: str = "Europe/Moscow"
    now: datetime | None = None  # naive, the workspace's wall time; None: now
    floor: Floor | None = None


@dataclass
class Row:
    kind: str
    cells: dict[str, str]
    created: datetime  # the workspace's wall time
    phones: list[tuple[str, str]] = field(default_factory=list)  # (as written, E.164)
    email: str = ""
    fresh: bool = False  # its phones and e-mail were drawn new: checked against the tenant
    kept: bool = False  # it repeats a converted lead, which a merge leaves as it was


def _token(n: int) -> str:
    value, digits = n, []
    for _ in range(6):
        value, digit = divmod(value, 36)
        digits.append(BASE36[digit])
    return "".join(digits)


def mobile_text(national: str, pattern: str) -> str:
    """A mobile number (10 digits, 9XXXXXXXXX) written with `pattern`."""
    return pattern.format(national[:3], national[3:6], national[6:8], national[8:])


class Keys:
    """New phones and e-mails, each drawn once in the life of the object (one benchmark
    run writes all its files with one)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"keys:{seed}")
        self.offsets = (
            rng.randrange(MOBILE_SPACE),
            rng.randrange(OFFICE_SPACE),
            rng.randrange(TOKEN_SPACE),
        )
        self.mobiles, self.offices, self.tokens = count(), count(), count()

    def mobile(self) -> str:
        """A national mobile number, 9XXXXXXXXX."""
        n = (next(self.mobiles) * MOBILE_STEP + self.offsets[0]) % MOBILE_SPACE
        return f"9{n:09d}"

    def office(self) -> tuple[str, str]:
        """An office number: (area code, seven digits)."""
        n = next(self.offices)
        area = AREA_CODES[n % len(AREA_CODES)]
        number = (n // len(AREA_CODES) * OFFICE_STEP + self.offsets[1]) % OFFICE_SPACE
        return area, f"{number:07d}"

    def token(self) -> str:
        return _token((next(self.tokens) * TOKEN_STEP + self.offsets[2]) % TOKEN_SPACE)


def _cum(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class Writer:
    """Writes files of rows for one tenant; `write` streams one file and its companions."""

    def __init__(
        self,
        spec: Spec,
        *,
        seed: int,
        keys: Keys | None = None,
        chunk: int = CHUNK,
        reservoir: int = RESERVOIR,
    ) -> None:
        self.spec = spec
        self.rng = random.Random(f"rows:{seed}")
        self.keys = keys or Keys(seed)
        self.zone = ZoneInfo(spec.zone)
        self.phone_leads = iter(spec.phone_leads)
        self.email_leads = iter(spec.email_leads)
        self.kind_cum = _cum([share for _k, share in KINDS])
        self.source_cum = _cum([w for *_s, w in SOURCES])
        self.status_cum = _cum([w for _s, w in STATUSES])
        self.utm_cum = _cum([w for _s, w in data.UTM_SOURCES])
        self.now = spec.now or datetime.now(self.zone).replace(tzinfo=None, second=0, microsecond=0)
        # Earlier new rows (their person's cells, first phone as written, E.164, e-mail).
        self.reservoir: list[tuple[str, ...]] = []
        self.reservoir_size = reservoir
        self.chunk_size = chunk
        self.external = count(1 + seed % 1000 * 10**7)

    # -- one row -------------------------------------------------------------------------

    def _kind(self) -> str:
        draw = self.rng.random()
        for (kind, _share), bound in zip(KINDS, self.kind_cum, strict=True):
            if draw < bound:
                return kind
        return NEW

    def _other_format(self, national: str, written: str = "") -> str:
        choices = [p for p in MOBILE_FORMATS if mobile_text(national, p) != written]
        return mobile_text(national, self.rng.choice(choices))

    def _email(self, first: str, surname: str) -> str:
        domain = self.rng.choice(data.MAIL_DOMAINS)[0]
        local = f"{data.latin(first)}.{data.latin(surname)}.{self.keys.token()}"
        return f"{local.capitalize() if self.rng.random() < 0.2 else local}@{domain}"

    def _other_case(self, email: str) -> str:
        for variant in (email.upper(), email.title(), email.swapcase(), email.capitalize()):
            if variant != email:
                return variant
        raise AssertionError(email)  # an e-mail always has letters

    def _new_mobile(self) -> tuple[str, str]:
        national = self.keys.mobile()
        return mobile_text(national, self.rng.choice(MOBILE_FORMATS)), f"+7{national}"

    def _fresh_contacts(self, row: Row, first: str, surname: str) -> None:
        """New phones and e-mail for a `new` row (or a redraw after a clash)."""
        row.phones, row.email, row.fresh = [], "", True
        cells = row.cells
        cells["Мобильный телефон"] = cells["Рабочий телефон"] = cells["Рабочий e-mail"] = ""
        draw = self.rng.random()
        if draw >= 0.30:
            row.phones.append(self._new_mobile())
            if self.rng.random() < 0.10:
                row.phones.append(self._new_mobile())
            cells["Мобильный телефон"] = self.rng.choice(TWO_PHONES).join(t for t, _e in row.phones)
        if 0.25 <= draw < 0.30 or (draw >= 0.30 and self.rng.random() < 0.08):
            area, number = self.keys.office()
            pattern = self.rng.choice(OFFICE_FORMATS)
            extension = str(self.rng.randrange(1, 999))
            text = pattern.format(area, number[:3], number[3:5], number[5:], extension)
            row.phones.append((text, f"+7{area}{number}"))
            cells["Рабочий телефон"] = text
        if draw < 0.30 or self.rng.random() < 0.35:
            row.email = self._email(first, surname)
            cells["Рабочий e-mail"] = row.email

    def _row(self, kind: str, created: datetime) -> Row:
        rng = self.rng
        first, surname, female = person(rng)
        middle = ""
        if rng.random() < 0.4:
            male = data.PATRONYMIC_MALE.get(rng.choice(data.MALE_FIRST), "Иванович")
            middle = male[:-4] + "овна" if female and male.endswith("ович") else male
            middle = middle[:-4] + "евна" if female and male.endswith("евич") else middle
        source, code = rng.choices(SOURCES, cum_weights=self.source_cum)[0][:2]
        company = ""
        if rng.random() < 0.3:
            head, tail = rng.choice(data.COMPANY_HEADS), rng.choice(data.COMPANY_TAILS)
            company = f"{rng.choice(data.COMPANY_FORMS)} «{head}{tail}»"
        topic = rng.choice(data.TOPICS)
        who = " ".join(p for p in (first, surname) if p)
        title = rng.choice(data.TITLE_PREFIX[code]).format(topic=topic, who=who)
        comment = ""
        if rng.random() < 0.5:
            comment = rng.choice(data.MESSAGES).format(topic=topic)
            if rng.random() < 0.2:
                comment += "\nПерезвонить после обеда.\nКП отправить на почту."
        utm = ("", "", "")
        if code == "web_form" and rng.random() < 0.7:
            utm_source = rng.choices(data.UTM_SOURCES, cum_weights=self.utm_cum)[0][0]
            utm = (utm_source, data.UTM_MEDIUM[utm_source], rng.choice(data.UTM_CAMPAIGNS)[0])
        status = rng.choices(STATUSES, cum_weights=self.status_cum)[0][0]
        owner = rng.choice(self.spec.owners) if self.spec.owners and rng.random() < 0.7 else ""
        cells = dict.fromkeys(HEADERS, "")
        cells.update(
            {
                "ID": str(next(self.external)),
                "Название лида": title,
                "Имя": first,
                "Отчество": middle,
                "Фамилия": surname,
                "Название компании": company,
                "Должность": rng.choice(POSITIONS) if company else "",
                "Источник": source,
                "Статус": status,
                "Комментарий": comment,
                "Дата создания": created.strftime("%d.%m.%Y %H:%M"),
                "Ответственный": owner,
                "UTM Source": utm[0],
                "UTM Medium": utm[1],
                "UTM Campaign": utm[2],
            }
        )
        row = Row(kind=kind, cells=cells, created=created)
        if kind in (NEW, BAD_DATE):
            self._fresh_contacts(row, first, surname)
        if kind == BAD_DATE:
            day = created.strftime("%d")
            row.cells["Дата создания"] = rng.choice(BAD_DATES).format(
                y=created.year, d=day, hm=created.strftime("%H:%M")
            )
        elif kind == BAD_PHONE:
            row.cells["Мобильный телефон"] = rng.choice(UNREADABLE)
        return row

    def _again(self, row: Row) -> None:
        """A repeat's comment, its own (a merge that brings nothing new skips the row)."""
        said = row.cells["Комментарий"].split("\n")[0]
        row.cells["Комментарий"] = f"Повторная заявка (ID {row.cells['ID']}). {said}".strip()

    def _existing(self, row: Row) -> bool:
        """Make `row` repeat a lead of the tenant; False when none is left."""
        self._again(row)
        if row.kind == DB_PHONE:
            lead = next(self.phone_leads, None)
            if lead is None:
                return False
            row.kept = lead.converted
            national = lead.phone_e164[2:]
            text = self._other_format(national, lead.phone)
            row.phones = [(text, lead.phone_e164)]
            row.cells["Мобильный телефон"] = text
            return True
        lead = next(self.email_leads, None)
        if lead is None:
            return False
        row.kept = lead.converted
        row.email = self._other_case(lead.email)
        row.cells["Рабочий e-mail"] = row.email
        return True

    def _repeat(self, row: Row) -> None:
        """Make `row` an earlier new row's person again (its first phone or its e-mail)."""
        self._again(row)
        # Each earlier row once: two rows of one person in a batch would meet one record.
        index = self.rng.randrange(len(self.reservoir))
        self.reservoir[index], self.reservoir[-1] = self.reservoir[-1], self.reservoir[index]
        *person, text, e164, email = self.reservoir.pop()
        row.cells.update(zip(PERSON, person, strict=True))
        if e164.startswith("+79") and (not email or self.rng.random() < 0.7):
            written = self._other_format(e164[2:], text)
            row.phones = [(written, e164)]
            row.cells["Мобильный телефон"] = written
        else:
            row.email = self._other_case(email)
            row.cells["Рабочий e-mail"] = row.email

    def _created(self) -> datetime:
        days = SPAN_DAYS * self.rng.random() ** 0.6
        moment = self.now - timedelta(days=days)
        hour = self.rng.choice((9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 16, 17, 18, 19))
        return moment.replace(hour=hour, minute=self.rng.randrange(60), second=0, microsecond=0)

    # -- a chunk -------------------------------------------------------------------------

    def _chunk(self, size: int) -> list[Row]:
        """`size` rows; new keys checked against the tenant, redrawn where it has them."""
        rows = []
        for _ in range(size):
            kind = self._kind()
            row = self._row(kind, self._created())
            if kind in (DB_PHONE, DB_EMAIL) and not self._existing(row):
                row = self._row(NEW, row.created)
            rows.append(row)
        while clash := self._clashes([r for r in rows if r.fresh]):
            for row in clash:
                first, surname = row.cells["Имя"], row.cells["Фамилия"]
                self._fresh_contacts(row, first or "Клиент", surname or "Новый")
        return rows

    def _clashes(self, rows: list[Row]) -> list[Row]:
        phones = [e164 for row in rows for _t, e164 in row.phones]
        emails = [row.email.lower() for row in rows if row.email]
        taken = self.spec.taken(phones, emails) if phones or emails else set()
        return [
            row
            for row in rows
            if row.email.lower() in taken or any(e164 in taken for _t, e164 in row.phones)
        ]

    def rows(self, total: int) -> Iterator[Row]:
        """The file's rows in order; in-file duplicates repeat earlier new rows."""
        for start in range(0, total, self.chunk_size):
            for row in self._chunk(min(self.chunk_size, total - start)):
                if row.kind == FILE_DUP:
                    if not self.reservoir:
                        row = self._row(NEW, row.created)
                        while self._clashes([row]):
                            self._fresh_contacts(row, row.cells["Имя"], row.cells["Фамилия"])
                    else:
                        self._repeat(row)
                if row.kind == NEW:
                    self._remember(row)
                yield row

    def _remember(self, row: Row) -> None:
        text, e164 = row.phones[0] if row.phones else ("", "")
        earlier = (*(row.cells[h] for h in PERSON), text, e164, row.email)
        if len(self.reservoir) < self.reservoir_size:
            self.reservoir.append(earlier)
        else:
            self.reservoir[self.rng.randrange(self.reservoir_size)] = earlier

    # -- the files -----------------------------------------------------------------------

    def write(self, path: Path) -> dict:
        """Write `spec.rows` rows to `path` (and its .expected.json, and .copy with a
        floor); return the expected figures."""
        kinds = dict.fromkeys((NEW, DB_PHONE, DB_EMAIL, FILE_DUP, *REJECTED), 0)
        rejected: list[int] = []
        kept = 0
        copy = path.with_name(path.name + ".copy") if self.spec.floor else None
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            writer.writerow(HEADERS)
            lines = copy.open("w", encoding="utf-8", newline="") if copy else None
            try:
                for number, row in enumerate(self.rows(self.spec.rows), start=2):
                    kinds[row.kind] += 1
                    kept += row.kept
                    writer.writerow([row.cells[h] for h in HEADERS])
                    if row.kind in REJECTED:
                        rejected.append(number)
                    elif lines is not None and self.spec.floor is not None:
                        lines.write(self._copy_line(row, self.spec.floor))
            finally:
                if lines is not None:
                    lines.close()
        expected = expected_counts(kinds, kept)
        figures = {
            "file": path.name,
            "rows": self.spec.rows,
            "kinds": kinds,
            "of_converted_leads": kept,
            "policies": expected,
            "rejected_rows": rejected,
            "floor_rows": self.spec.rows - len(rejected),
        }
        path.with_name(path.name + ".expected.json").write_text(
            json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        return figures

    def _copy_line(self, row: Row, floor: Floor) -> str:
        cells = row.cells
        status_id, state = floor.statuses[cells["Статус"]]
        source = next(code for name, code, _w in SOURCES if name == cells["Источник"])
        created = row.created.replace(tzinfo=self.zone).isoformat()
        name = " ".join(p for p in (cells["Имя"], cells["Отчество"], cells["Фамилия"]) if p)
        values = {
            "created_at": created,
            "updated_at": created,
            "title": cells["Название лида"],
            "name": name,
            "company_name": cells["Название компании"],
            "phone": row.phones[0][0] if row.phones else "",
            "phone_e164": row.phones[0][1] if row.phones else "",
            "other_phones": json.dumps([t for t, _e in row.phones[1:]], ensure_ascii=False),
            "email": row.email,
            "email_key": row.email.lower(),
            "messenger": "",
            "messenger_id": "",
            "message": cells["Комментарий"],
            "source": source,
            "utm_source": cells["UTM Source"],
            "utm_medium": cells["UTM Medium"],
            "utm_campaign": cells["UTM Campaign"],
            "utm_content": "",
            "utm_term": "",
            "amount": "0",
            "currency": "",
            "temperature": "",
            "custom": "{}",
            "state": state,
            "is_repeat": "f",
            "postpone_reason": "",
            "external_id": cells["ID"],
            "tenant_id": str(floor.tenant_id),
            "status_id": str(status_id),
        }
        return "\t".join(_copy_text(values[c]) for c in FLOOR_COLUMNS) + "\n"


def _copy_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def expected_counts(kinds: dict[str, int], kept: int = 0) -> dict[str, dict[str, int]]:
    """What an import must report under each policy, from the rows' kinds: a duplicate (of
    a lead the tenant had, or of an earlier row of the file) is updated under merge and
    replace — but the `kept` ones, which repeat a converted lead, are skipped (a converted
    lead is not changed) —, skipped under skip, created under create; rejected rows are
    rejected."""
    rejected = sum(kinds[k] for k in REJECTED)
    repeats = kinds[DB_PHONE] + kinds[DB_EMAIL] + kinds[FILE_DUP]
    new = kinds[NEW]
    merged = {"created": new, "updated": repeats - kept, "skipped": kept, "rejected": rejected}
    return {
        "merge": merged,
        "replace": dict(merged),
        "skip": {"created": new, "updated": 0, "skipped": repeats, "rejected": rejected},
        "create": {"created": new + repeats, "updated": 0, "skipped": 0, "rejected": rejected},
    }
