"""How a row becomes a lead, a contact, a company or a deal: one adapter per entity.

An adapter reads a row (`read`: the values, the match keys, notes on what it could not
read — kept in the record's comment, never dropped), finds the batch's existing records
with one query per kind of key (`find`), builds a new record (`build`), merges a row into
an existing one (`merge`: "merge" fills what the record lacks and adds new phones and
notes; "replace" also overwrites with the file's non-empty values — an empty cell never
erases), and saves a batch in bulk through the entity's services (`save`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Case, Q, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from contacts.models import Company, Contact, MatchKey
from contacts.names import split_full_name
from contacts.normalize import email_key, phone_e164, phones_in
from contacts.services import (
    parties_bulk_create,
    parties_bulk_update,
    party_normalize,
)
from crm.amounts import parse_amount
from crm.errors import DomainError
from crm.models import CustomField, Membership
from crm.sources import LeadSource
from crm.text import clean_line
from deals.models import Deal, Outcome, Pipeline, Stage
from deals.services import deals_bulk_create, deals_bulk_update
from intake.identities import identities_note_many
from intake.services import UTM_FIELDS
from leads.models import OPEN_STATES, Lead, LeadState, LeadStatus, Messenger
from leads.services import (
    intake_fields,
    lead_normalize,
    leads_bulk_create,
    leads_bulk_update,
)
from leads.words import SOURCE_FIELDS
from transfer import values as parse
from transfer.fields import custom_definitions
from transfer.models import Entity, ImportJob
from transfer.rows import Cells, Item, RowError, job_mapping
from transfer.rows import Outcome as BatchOutcome

# Status names of other CRMs (Bitrix24, amoCRM, HubSpot) by the state they mean; a
# workspace's own status names are matched first.
STATE_WORDS = {
    LeadState.NEW: ("новый", "новый лид", "не обработан", "необработанный", "new", "open"),
    LeadState.IN_PROGRESS: (
        "в работе",
        "обработан",
        "обрабатывается",
        "назначен ответственный",
        "ожидание деталей",
        "in progress",
        "working",
        "attempted to contact",
        "connected",
        "open deal",
    ),
    LeadState.CONVERTED: (
        "качественный лид",
        "сконвертирован",
        "конвертирован",
        "converted",
        "qualified",
        "customer",
    ),
    LeadState.JUNK: (
        "некачественный лид",
        "брак",
        "спам",
        "junk",
        "unqualified",
        "bad timing",
    ),
}
SOURCE_WORDS = {
    LeadSource.CALL: ("звонок", "телефон", "входящий звонок", "call", "phone", "phone call"),
    LeadSource.WEB_FORM: (
        "веб-сайт",
        "вебсайт",
        "сайт",
        "форма",
        "crm-форма",
        "web",
        "website",
        "web form",
        "form",
        "organic search",
        "direct traffic",
    ),
    LeadSource.EMAIL: ("электронная почта", "e-mail", "email", "почта", "email marketing"),
    LeadSource.TELEGRAM: ("telegram", "телеграм", "телеграмм"),
    LeadSource.WHATSAPP: ("whatsapp", "ватсап", "вотсап"),
    LeadSource.VK: ("вконтакте", "вк", "vk", "vkontakte"),
    LeadSource.MANUAL: ("вручную", "manual", "offline sources", "offline"),
    LeadSource.API: ("api",),
    LeadSource.OTHER: ("другое", "other", "прочее"),
    LeadSource.IMPORT: ("импорт", "import"),
}
TRUE_WORDS = {"да", "yes", "true", "1", "y", "д", "+", "истина"}
FALSE_WORDS = {"нет", "no", "false", "0", "n", "н", "-", "ложь"}


def _key_owners(pairs: Iterable[tuple[str, str]], owner_field: str) -> dict[str, int]:
    """The live contact (or company: `owner_field`) each ("phone"|"email", key) belongs to,
    as {"phone:+7…": id}, the newest first (one query for a batch)."""
    wanted = Q()
    for kind in (MatchKey.Kind.PHONE, MatchKey.Kind.EMAIL):
        values = {value for key, value in pairs if key == kind}
        if values:
            wanted |= Q(kind=kind, value__in=values)
    if not wanted:
        return {}
    rows = MatchKey.objects.filter(
        wanted,
        **{
            f"{owner_field}__isnull": False,
            f"{owner_field}__deleted_at": None,
            f"{owner_field}__merged_into": None,
        },
    ).order_by(f"-{owner_field}__created_at")
    owners: dict[str, int] = {}
    for kind, value, pk in rows.values_list("kind", "value", f"{owner_field}_id"):
        owners.setdefault(f"{kind}:{value}", pk)
    return owners


def _person_key(text: str) -> str:
    return " ".join(sorted(parse.same_name(text).split()))


def _note(label: str, text: str) -> str:
    return f"{label}: {text}"


class Adapter:
    """What every entity's import shares: members, owner, dates, custom fields, notes."""

    model: type
    entity: str
    note_field: str = "notes"
    # Fields merged from a row: (field attname, row data key).
    merged: tuple[str, ...] = ()

    def __init__(self, job: ImportJob, actor: Membership) -> None:
        self.job = job
        self.actor = actor
        self.tenant = actor.tenant
        self.region = self.tenant.default_region
        self.mapping = job_mapping(job)
        self.policy = job.policy
        self.match_by = job.match_by
        self.order = job.date_order
        self.event = {"import": job.pk, "file": job.filename}
        defaults = job.defaults or {}
        self.members = self._members()
        self.default_owner = (
            Membership.objects.filter(pk=defaults.get("owner"), is_active=True).first()
            if defaults.get("owner")
            else None
        )
        self.custom = custom_definitions(job.entity)
        self.reset()

    def reset(self) -> None:
        """Forget the previous batch."""
        self.before: dict[int, dict[str, Any]] = {}
        self.other_created: dict[str, list[int]] = {}
        self.row_data: dict[int, dict[str, Any]] = {}

    def take_other_created(self) -> dict[str, list[int]]:
        taken, self.other_created = self.other_created, {}
        return taken

    # --- reading ----------------------------------------------------------------------

    def _members(self) -> dict[str, Membership]:
        """Active members by e-mail and by name (words in any order: "Иван Петров" is
        "Петров Иван")."""
        found: dict[str, Membership] = {}
        for member in Membership.objects.filter(is_active=True).select_related("user"):
            for name in (member.user.email, member.user.full_name):
                if name and name.strip():
                    found.setdefault(_person_key(name), member)
        return found

    def owner(self, cells: Cells, notes: list[str]) -> Membership | None:
        text = cells.text("owner")
        if text:
            member = self.members.get(_person_key(text))
            if member is not None:
                return member
            notes.append(_note(_("Responsible in the file"), text))
        return self.default_owner

    def created(self, cells: Cells) -> datetime.datetime | None:
        text = cells.text("created_at")
        if not text or parse.no_date(text):
            return None
        try:
            return parse.parse_datetime(text, self.order)
        except ValueError as error:
            raise RowError(_("Created: %(error)s") % {"error": error}) from None

    def custom_values(self, cells: Cells, notes: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, definition in self.custom.items():
            text = cells.text(key)
            if not text:
                continue
            try:
                found[definition.key] = self._custom_value(definition, text)
            except ValueError as error:
                if definition.field_type in (CustomField.Type.NUMBER, CustomField.Type.DATE):
                    raise RowError(f"{definition.label}: {error}") from None
                notes.append(_note(definition.label, text))
        return found

    def _custom_value(self, definition: CustomField, text: str) -> Any:
        kind = definition.field_type
        if kind == CustomField.Type.NUMBER:
            amount = parse_amount(text)
            return int(amount) if amount == amount.to_integral() else float(amount)
        if kind == CustomField.Type.DATE:
            return parse.parse_date(text, self.order).isoformat()
        if kind == CustomField.Type.BOOL:
            word = text.strip().lower()
            if word in TRUE_WORDS | FALSE_WORDS:
                return word in TRUE_WORDS
            raise ValueError(text)
        if kind in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE):
            choices = {parse.same_name(c): c for c in definition.choices}
            parts = [p for p in (t.strip() for t in text.split(",")) if p]
            if kind == CustomField.Type.CHOICE:
                parts = [text.strip()]
            picked = [choices.get(parse.same_name(p)) for p in parts]
            if not all(picked):
                raise ValueError(text)
            return picked[0] if kind == CustomField.Type.CHOICE else picked
        if kind == CustomField.Type.USER:
            member = self.members.get(_person_key(text))
            if member is None:
                raise ValueError(text)
            return member.pk
        return clean_line(text)[:500]

    def emails(self, cells: Cells, notes: list[str]) -> list[str]:
        good, bad = parse.emails_in(" ".join(cells.texts("email")))
        for text in bad:
            notes.append(_note(_("E-mail in the file"), text))
        return good

    def money(self, cells: Cells, notes: list[str]) -> dict[str, Any]:
        """The row's amount and currency (a currency named in the amount's cell counts;
        an unknown currency is kept as a note)."""
        found: dict[str, Any] = {}
        if amount := cells.text("amount"):
            try:
                found["amount"] = parse_amount(amount)
            except ValueError as error:
                raise RowError(_("Amount: %(error)s") % {"error": error}) from None
            found["currency"] = parse.currency_in(amount)
        if currency := cells.text("currency"):
            try:
                found["currency"] = parse.parse_currency(currency)
            except ValueError:
                notes.append(_note(_("Currency"), currency))
        return found

    def phones(self, cells: Cells, notes: list[str]) -> list[str]:
        """Every number in the row's phone columns; a cell with none is kept as a note."""
        found = []
        for text in cells.texts("phone"):
            numbers = phones_in(clean_line(text), self.region)
            if not numbers:
                notes.append(_note(_("Phone in the file"), text))
            found += [p.display for p in numbers]
        return found

    def keys_for(self, *, phones: list[str], emails: list[str], external_id: str) -> list[str]:
        """The row's match keys as the job matches: phone/e-mail or the external id."""
        keys = []
        if self.match_by in (ImportJob.MatchBy.CONTACTS, ImportJob.MatchBy.PHONE):
            keys += [f"phone:{p}" for p in phones if p]
        if self.match_by in (ImportJob.MatchBy.CONTACTS, ImportJob.MatchBy.EMAIL):
            keys += [f"email:{e}" for e in emails if e]
        if self.match_by == ImportJob.MatchBy.EXTERNAL_ID and external_id:
            keys.append(f"external:{external_id}")
        return keys

    def prepare(self, item: Item) -> None:
        """What can be done for a read row without a query, in the reading thread (the
        lead adapter builds its lead there); nothing by default."""

    # --- merging ----------------------------------------------------------------------

    def set_field(self, record: Any, attname: str, value: Any, *, replace: bool) -> bool:
        """Write `value` into an empty field (or any, with `replace`); remember the old."""
        if value in (None, "", [], {}):
            return False
        old = getattr(record, attname)
        if old == value or (old not in (None, "", [], {}, Decimal("0")) and not replace):
            return False
        self.before.setdefault(record.pk, {}).setdefault(attname, parse.jsonable(old))
        setattr(record, attname, value)
        return True

    def add_note(self, record: Any, text: str) -> bool:
        """Append text to the record's comment field unless it is there already."""
        if not text:
            return False
        old = getattr(record, self.note_field) or ""
        if text in old:
            return False
        self.before.setdefault(record.pk, {}).setdefault(self.note_field, old)
        setattr(record, self.note_field, f"{old}\n\n{text}".strip())
        return True

    def merge_custom(self, record: Any, custom: dict[str, Any], *, replace: bool) -> bool:
        current = dict(record.custom or {})
        changed = False
        for key, value in custom.items():
            if current.get(key) in (None, "", []) or (replace and current.get(key) != value):
                current[key] = value
                changed = True
        if changed:
            self.before.setdefault(record.pk, {}).setdefault("custom", dict(record.custom or {}))
            record.custom = current
        return changed

    def after_values(self, record: Any, before: dict[str, Any]) -> dict[str, Any]:
        return {name: parse.jsonable(getattr(record, name)) for name in before}

    def changed_fields(self, items: list[Item]) -> set[str]:
        return {name for item in items for name in self.before.get(item.record.pk, {})}

    def find_in(self, items: list[Item], records: dict[str, Any]) -> None:
        for item in items:
            item.match = next((records[k] for k in item.keys if k in records), None)

    def created_moments(self, items: list[Item]) -> dict[int, datetime.datetime]:
        return {
            i: item.data["created_at"]
            for i, item in enumerate(items)
            if item.data.get("created_at")
        }


class LeadAdapter(Adapter):
    model = Lead
    entity = Entity.LEADS
    note_field = "message"
    merged = (
        "title",
        "name",
        "company_name",
        "email",
        "messenger",
        "messenger_id",
        *UTM_FIELDS,
        "amount",
        "currency",
        "external_id",
    )

    def __init__(self, job: ImportJob, actor: Membership) -> None:
        super().__init__(job, actor)
        statuses = list(LeadStatus.objects.order_by("position", "pk"))
        self.statuses = {parse.same_name(s.name): s for s in statuses}
        self.state_defaults = {s.state: s for s in statuses if s.is_default}
        defaults = job.defaults or {}
        chosen = next((s for s in statuses if s.pk == defaults.get("status")), None)
        self.default_status = chosen or self.state_defaults.get(LeadState.NEW)
        self.default_source = defaults.get("source") or LeadSource.IMPORT
        self.source_names = {
            parse.same_name(str(label)): value for value, label in LeadSource.choices
        }
        for value, words in SOURCE_WORDS.items():
            for word in words:
                self.source_names.setdefault(parse.same_name(word), value)
        self.state_names = {
            parse.same_name(word): state for state, words in STATE_WORDS.items() for word in words
        }

    def _status(self, cells: Cells, notes: list[str]) -> LeadStatus:
        text = cells.text("status")
        if text:
            key = parse.same_name(text)
            if key in self.statuses:
                return self.statuses[key]
            state = self.state_names.get(key)
            if state in self.state_defaults:
                return self.state_defaults[state]
            notes.append(_note(_("Status in the file"), text))
        if self.default_status is None:
            raise RowError(_("No status is set up for new leads: ask an administrator."))
        return self.default_status

    def _source(self, cells: Cells, notes: list[str]) -> str:
        text = cells.text("source")
        if text:
            value = self.source_names.get(parse.same_name(text))
            if value:
                return value
            notes.append(_note(_("Source in the file"), text))
        return self.default_source

    def read(self, cells: Cells) -> Item:
        notes: list[str] = []
        name = cells.text("name") or " ".join(
            p
            for p in (cells.text("last_name"), cells.text("first_name"), cells.text("middle_name"))
            if p
        )
        emails = self.emails(cells, notes)
        for other in emails[1:]:
            notes.append(_note(_("E-mail"), other))
        messenger, handle = "", ""
        for kind in (Messenger.TELEGRAM, Messenger.WHATSAPP, Messenger.VK):
            if text := cells.text(kind):
                if messenger:
                    notes.append(_note(str(Messenger(kind).label), text))
                else:
                    messenger, handle = kind, text
        if position := cells.text("position"):
            notes.append(_note(pgettext("job", "Position"), position))
        data = {
            "title": cells.text("title"),
            "name": name,
            "company_name": cells.text("company_name"),
            "phone": ", ".join(cells.texts("phone")),
            "email": emails[0] if emails else "",
            "messenger": messenger,
            "messenger_id": handle,
            "message": "\n".join(cells.texts("message")),
            **{f: cells.text(f) for f in UTM_FIELDS},
        }
        try:
            data = intake_fields(data, self.region)
        except DomainError as error:
            raise RowError(str(error)) from None
        if not (data["phone"] or data["email"] or data["messenger_id"]):
            raise RowError(_("No phone, e-mail or messenger: there is no way to reach the person."))
        data.update(self.money(cells, notes))
        data["external_id"] = cells.text("external_id")[:100]
        data["created_at"] = self.created(cells)
        data["status"] = self._status(cells, notes)
        data["source"] = self._source(cells, notes)
        data["owner"] = self.owner(cells, notes)
        data["custom"] = self.custom_values(cells, notes)
        for line in data["message"].splitlines():
            if line and line in notes:
                notes.remove(line)
        phones = [data["phone"], *(data.get("other_phones") or [])]
        keys = self.keys_for(
            phones=[phone_e164(p, self.region) for p in phones],
            emails=[email_key(data["email"])],
            external_id=data["external_id"],
        )
        return Item(cells=cells, data=data, keys=keys, notes=notes)

    def find(self, items: list[Item]) -> None:
        wanted = Q()
        for prefix, field in (
            ("phone:", "phone_e164"),
            ("email:", "email_key"),
            ("external:", "external_id"),
        ):
            values = {k[len(prefix) :] for item in items for k in item.keys if k.startswith(prefix)}
            if values:
                wanted |= Q(**{f"{field}__in": values})
        if not wanted:
            return
        leads = (
            Lead.objects.filter(wanted, deleted_at=None)
            .annotate(
                is_open=Case(When(state__in=list(OPEN_STATES), then=Value(1)), default=Value(0))
            )
            .order_by("-is_open", "-created_at", "-pk")
        )
        records: dict[str, Lead] = {}
        for lead in leads:
            for key in (
                f"phone:{lead.phone_e164}",
                f"email:{lead.email_key}",
                f"external:{lead.external_id}",
            ):
                if not key.endswith(":"):
                    records.setdefault(key, lead)
        self.find_in(items, records)
        self._known_contacts([item for item in items if item.match is None])

    def _known_contacts(self, items: list[Item]) -> None:
        """A new lead of a person the workspace knows as a contact is a repeat inquiry
        linked to that contact, as a channel's is (one query for the batch)."""
        pairs = {tuple(k.split(":", 1)) for item in items for k in item.keys}
        contacts = _key_owners(pairs, "contact")
        for item in items:
            item.data["contact_id"] = next((contacts[k] for k in item.keys if k in contacts), None)

    def prepare(self, item: Item) -> None:
        """Build the lead the row would make (most rows make one), or keep why it cannot
        be made: `build` takes it."""
        try:
            item.draft = self._new_lead(item)
        except RowError as error:
            item.draft = error

    def build(self, item: Item) -> Lead:
        draft, item.draft = item.draft, None
        if isinstance(draft, RowError):
            raise draft
        lead = draft or self._new_lead(item)
        lead.contact_id = item.data.get("contact_id")
        lead.is_repeat = lead.contact_id is not None
        return lead

    def _new_lead(self, item: Item) -> Lead:
        data = item.data
        status = data["status"]
        message = data["message"]
        if item.notes:
            message = "\n\n".join(p for p in (message, "\n".join(item.notes)) if p)
        lead = Lead(
            tenant=self.tenant,
            title=data["title"][:200],
            name=data["name"][:200],
            company_name=data["company_name"][:200],
            phone=data["phone"],
            other_phones=data.get("other_phones") or [],
            email=data["email"],
            messenger=data["messenger"],
            messenger_id=data["messenger_id"][:128],
            message=message,
            source=data["source"],
            **{f: data[f][:200] for f in UTM_FIELDS},
            amount=data.get("amount") or Decimal("0"),
            currency=data.get("currency") or "",
            custom=data["custom"],
            external_id=data["external_id"],
            status=status,
            state=status.state,
            owner=data["owner"],
            created_by=self.actor,
        )
        try:
            lead_normalize(lead, self.tenant, cleaned=True)  # read() cleaned its values
        except DomainError as error:
            raise RowError(str(error)) from None
        return lead

    def merge(self, item: Item, *, replace: bool) -> bool | None:
        lead: Lead = item.record
        if lead.pk is not None and lead.state == LeadState.CONVERTED:
            return None  # a converted lead is kept as it was
        data = item.data
        changed = False
        for name in self.merged:
            value = data.get(name)
            if isinstance(value, str):
                value = value[: Lead._meta.get_field(name).max_length or None]
            changed |= self.set_field(lead, name, value, replace=replace)
        if data["phone"]:
            if not lead.phone:
                changed |= self.set_field(lead, "phone", data["phone"], replace=True)
            new = [data["phone"], *(data.get("other_phones") or [])]
            known = {phone_e164(p, self.region) for p in [lead.phone, *(lead.other_phones or [])]}
            extra = [p for p in new if phone_e164(p, self.region) not in known]
            if extra:
                self.before.setdefault(lead.pk, {}).setdefault(
                    "other_phones", list(lead.other_phones or [])
                )
                lead.other_phones = [*(lead.other_phones or []), *extra]
                changed = True
        if replace and data["owner"] is not None and cells_named(item, "owner"):
            changed |= self.set_field(lead, "owner_id", data["owner"].pk, replace=True)
        changed |= self.merge_custom(lead, data["custom"], replace=replace)
        note = "\n".join(p for p in (data["message"], *item.notes) if p)
        changed |= self.add_note(lead, note)
        if changed:
            try:
                lead_normalize(lead, self.tenant)
            except DomainError as error:
                raise RowError(str(error)) from None
        return changed

    def save(self, outcome: BatchOutcome) -> None:
        leads = [item.record for item in outcome.created]
        if leads:
            leads_bulk_create(
                actor=self.actor,
                leads=leads,
                created=self.created_moments(outcome.created),
                event=self.event,
            )
        updated = [item.record for item in outcome.updated]
        if updated:
            named = set(SOURCE_FIELDS)
            leads_bulk_update(
                actor=self.actor,
                leads=updated,
                fields=self.changed_fields(outcome.updated),
                event=self.event,
                renamed=[lead for lead in updated if named & set(self.before.get(lead.pk, ()))],
            )
        pairs = [(item.data, item.record) for item in (*outcome.created, *outcome.updated)]
        identities_note_many(tenant=self.tenant, pairs=pairs, source=LeadSource.IMPORT)


def _ways(data: dict[str, Any]) -> dict[str, Any]:
    """A contact row's ways to reach as an inquiry's fields (for its identities)."""
    phones, emails = data["phones"], data["emails"]
    return {
        "phone": phones[0] if phones else "",
        "other_phones": phones[1:],
        "email": emails[0] if emails else "",
    }


def cells_named(item: Item, key: str) -> bool:
    """Whether the row itself gave `key` (not a default)."""
    return bool(item.cells.text(key))


class PartyAdapter(Adapter):
    """Contacts and companies: phones and e-mails as lists, match keys in contacts' table."""

    note_field = "notes"

    def find(self, items: list[Item]) -> None:
        records: dict[str, Any] = {}
        owner_field = "contact" if self.model is Contact else "company"
        pairs = {tuple(k.split(":", 1)) for item in items for k in item.keys}
        ids: dict[int, list[str]] = {}
        for key, pk in _key_owners(pairs, owner_field).items():
            ids.setdefault(pk, []).append(key)
        externals = {v for k, v in pairs if k == "external"}
        live = self.model.objects.filter(deleted_at=None, merged_into=None)
        found = live.filter(
            Q(pk__in=ids) | Q(external_id__in=externals) if externals else Q(pk__in=ids)
        )
        for record in found.order_by("-created_at", "-pk") if (ids or externals) else []:
            for key in ids.get(record.pk, []):
                records.setdefault(key, record)
            if record.external_id:
                records.setdefault(f"external:{record.external_id}", record)
        self.find_in(items, records)

    def party_keys(self, phones: list[str], emails: list[str], external_id: str) -> list[str]:
        e164 = [phone_e164(p, self.region) for p in phones]
        return self.keys_for(
            phones=e164, emails=[email_key(e) for e in emails], external_id=external_id
        )

    def merge_party(self, item: Item, fields: tuple[str, ...], *, replace: bool) -> bool:
        record = item.record
        data = item.data
        changed = False
        for name in fields:
            changed |= self.set_field(record, name, data.get(name), replace=replace)
        for name in ("phones", "emails"):
            key = email_key if name == "emails" else (lambda p: phone_e164(p, self.region))
            known = {key(v) for v in getattr(record, name) or []}
            extra = [v for v in data.get(name, []) if key(v) not in known]
            if extra:
                self.before.setdefault(record.pk, {}).setdefault(
                    name, list(getattr(record, name) or [])
                )
                setattr(record, name, [*(getattr(record, name) or []), *extra])
                changed = True
        if replace and cells_named(item, "owner") and data["owner"] is not None:
            changed |= self.set_field(record, "owner_id", data["owner"].pk, replace=True)
        changed |= self.merge_custom(record, data["custom"], replace=replace)
        note = "\n".join(p for p in (data.get("notes", ""), *item.notes) if p)
        changed |= self.add_note(record, note)
        if changed:
            try:
                party_normalize(record, self.tenant)
            except DomainError as error:
                raise RowError(str(error)) from None
        return changed

    def new_party(self, item: Item, **fields: Any) -> Any:
        data = item.data
        notes = "\n".join(p for p in (data.get("notes", ""), *item.notes) if p)
        record = self.model(
            tenant=self.tenant,
            owner=data["owner"],
            created_by=self.actor,
            phones=data["phones"],
            emails=data["emails"],
            notes=notes,
            custom=data["custom"],
            **fields,
        )
        try:
            party_normalize(record, self.tenant)
        except DomainError as error:
            raise RowError(str(error)) from None
        return record

    def save_parties(self, outcome: BatchOutcome) -> None:
        created = [item.record for item in outcome.created]
        parties_bulk_create(
            actor=self.actor,
            records=created,
            created=self.created_moments(outcome.created),
            event=self.event,
        )
        parties_bulk_update(
            actor=self.actor,
            records=[item.record for item in outcome.updated],
            fields=self.changed_fields(outcome.updated),
            event=self.event,
        )


class Companies:
    """Companies named by rows of another entity: found by name, made when missing."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def resolve(self, items: list[Item], key: str = "company_name") -> None:
        names = {
            parse.same_name(item.data[key]): item.data[key] for item in items if item.data.get(key)
        }
        if not names:
            return
        known: dict[str, Company] = {}
        candidates = Company.objects.filter(
            deleted_at=None, merged_into=None, name__in=list(names.values())
        ).order_by("created_at", "pk")
        for company in candidates:
            known.setdefault(parse.same_name(company.name), company)
        missing = [
            Company(
                tenant=self.adapter.tenant,
                name=name[:200],
                owner=self.adapter.default_owner or self.adapter.actor,
                created_by=self.adapter.actor,
            )
            for norm, name in names.items()
            if norm not in known
        ]
        if missing:
            parties_bulk_create(
                actor=self.adapter.actor, records=missing, created={}, event=self.adapter.event
            )
            self.adapter.other_created.setdefault("company", []).extend(c.pk for c in missing)
            for company in missing:
                known[parse.same_name(company.name)] = company
        for item in items:
            if item.data.get(key):
                item.data["company_obj"] = known[parse.same_name(item.data[key])]


class ContactAdapter(PartyAdapter):
    model = Contact
    entity = Entity.CONTACTS
    fields = (
        "last_name",
        "first_name",
        "middle_name",
        "position",
        "telegram",
        "whatsapp",
        "vk",
        "external_id",
    )

    def read(self, cells: Cells) -> Item:
        notes: list[str] = []
        last, first, middle = (
            cells.text("last_name"),
            cells.text("first_name"),
            cells.text("middle_name"),
        )
        if not (last or first or middle) and cells.text("name"):
            parts = split_full_name(cells.text("name"))
            last, first, middle = parts.last, parts.first, parts.middle
        data = {
            "last_name": last[:100],
            "first_name": first[:100],
            "middle_name": middle[:100],
            "position": cells.text("position")[:120],
            "telegram": cells.text("telegram")[:128],
            "whatsapp": cells.text("whatsapp")[:64],
            "vk": cells.text("vk")[:128],
            "company_name": cells.text("company")[:200],
            "phones": self.phones(cells, notes),
            "emails": self.emails(cells, notes),
            "notes": "\n".join(cells.texts("notes")),
            "external_id": cells.text("external_id")[:100],
            "created_at": self.created(cells),
        }
        data["owner"] = self.owner(cells, notes)
        data["custom"] = self.custom_values(cells, notes)
        if not (
            last
            or first
            or middle
            or data["phones"]
            or data["emails"]
            or data["telegram"]
            or data["whatsapp"]
            or data["vk"]
        ):
            raise RowError(_("Give the person's name or a way to reach them."))
        keys = self.party_keys(data["phones"], data["emails"], data["external_id"])
        return Item(cells=cells, data=data, keys=keys, notes=notes)

    def find(self, items: list[Item]) -> None:
        Companies(self).resolve(items)
        super().find(items)

    def build(self, item: Item) -> Contact:
        data = item.data
        return self.new_party(
            item,
            company=data.get("company_obj"),
            **{f: data[f] for f in self.fields},
        )

    def merge(self, item: Item, *, replace: bool) -> bool:
        changed = False
        if item.data.get("company_obj") is not None:
            changed |= self.set_field(
                item.record, "company_id", item.data["company_obj"].pk, replace=replace
            )
            if changed:
                item.record.company = item.data["company_obj"]
        return self.merge_party(item, self.fields, replace=replace) or changed

    def save(self, outcome: BatchOutcome) -> None:
        self.save_parties(outcome)
        pairs = [(_ways(item.data), item.record) for item in (*outcome.created, *outcome.updated)]
        identities_note_many(tenant=self.tenant, pairs=pairs, source=LeadSource.IMPORT)


class CompanyAdapter(PartyAdapter):
    model = Company
    entity = Entity.COMPANIES
    fields = ("name", "tax_id", "website", "address", "external_id")

    def read(self, cells: Cells) -> Item:
        notes: list[str] = []
        data = {
            "name": cells.text("name")[:200],
            "tax_id": cells.text("tax_id")[:20],
            "website": cells.text("website")[:200],
            "address": ", ".join(cells.texts("address"))[:300],
            "phones": self.phones(cells, notes),
            "emails": self.emails(cells, notes),
            "notes": "\n".join(cells.texts("notes")),
            "external_id": cells.text("external_id")[:100],
            "created_at": self.created(cells),
        }
        if not data["name"]:
            raise RowError(_("Give the company's name."))
        data["owner"] = self.owner(cells, notes)
        data["custom"] = self.custom_values(cells, notes)
        keys = self.party_keys(data["phones"], data["emails"], data["external_id"])
        return Item(cells=cells, data=data, keys=keys, notes=notes)

    def build(self, item: Item) -> Company:
        return self.new_party(item, **{f: item.data[f] for f in self.fields})

    def merge(self, item: Item, *, replace: bool) -> bool:
        return self.merge_party(item, self.fields, replace=replace)

    def save(self, outcome: BatchOutcome) -> None:
        self.save_parties(outcome)


# Stage names of other CRMs by the outcome they mean (a workspace's own names first).
OUTCOME_WORDS = {
    Outcome.WON: (
        "успешно реализовано",
        "сделка успешна",
        "успешно",
        "выиграна",
        "closed won",
        "won",
    ),
    Outcome.LOST: (
        "закрыто и не реализовано",
        "сделка провалена",
        "провалена",
        "проиграна",
        "closed lost",
        "lost",
    ),
}


class DealAdapter(Adapter):
    """Deals: pipeline and stage by name, the customer found (or made) by phone, e-mail or
    name; a row's duplicate is the deal with its external id, or its customer's newest open
    deal."""

    model = Deal
    entity = Entity.DEALS
    merged = ("title", "amount", "currency", "expected_close", "external_id")

    def __init__(self, job: ImportJob, actor: Membership) -> None:
        super().__init__(job, actor)
        defaults = job.defaults or {}
        self.pipelines = {parse.same_name(p.name): p for p in Pipeline.objects.all()}
        pipelines = list(self.pipelines.values())
        chosen = next((p for p in pipelines if p.pk == defaults.get("pipeline")), None)
        self.default_pipeline = (
            chosen
            or next((p for p in pipelines if p.is_default), None)
            or (pipelines[0] if pipelines else None)
        )
        self.stages: dict[int, list[Stage]] = {}
        for stage in Stage.objects.order_by("position", "pk"):
            self.stages.setdefault(stage.pipeline_id, []).append(stage)
        self.default_stage = next(
            (
                st
                for stages in self.stages.values()
                for st in stages
                if st.pk == defaults.get("stage")
            ),
            None,
        )
        self.outcome_names = {
            parse.same_name(word): outcome
            for outcome, words in OUTCOME_WORDS.items()
            for word in words
        }

    def _pipeline(self, cells: Cells, notes: list[str]) -> Pipeline:
        text = cells.text("pipeline")
        if text:
            found = self.pipelines.get(parse.same_name(text))
            if found is not None:
                return found
            notes.append(_note(_("Pipeline in the file"), text))
        if self.default_pipeline is None:
            raise RowError(_("No pipeline is set up: ask an administrator."))
        return self.default_pipeline

    def _stage(self, pipeline: Pipeline, cells: Cells, notes: list[str]) -> Stage:
        stages = self.stages.get(pipeline.pk, [])
        text = cells.text("stage")
        if text:
            key = parse.same_name(text)
            found = next((st for st in stages if parse.same_name(st.name) == key), None)
            outcome = self.outcome_names.get(key)
            found = found or next((st for st in stages if st.kind == outcome), None)
            if found is not None:
                return found
            notes.append(_note(_("Stage in the file"), text))
        if self.default_stage is not None and self.default_stage.pipeline_id == pipeline.pk:
            return self.default_stage
        first = next((st for st in stages if st.kind == Outcome.OPEN), None)
        if first is None:
            raise RowError(_("This pipeline has no stage of that kind: ask an administrator."))
        return first

    def read(self, cells: Cells) -> Item:
        notes: list[str] = []
        pipeline = self._pipeline(cells, notes)
        stage = self._stage(pipeline, cells, notes)
        phones = self.phones(cells, notes)
        data: dict[str, Any] = {
            "title": cells.text("title")[:200],
            "pipeline": pipeline,
            "stage": stage,
            "contact_name": cells.text("contact_name")[:200],
            "phones": phones,
            "emails": self.emails(cells, notes),
            "company": cells.text("company")[:200],
            "notes": "\n".join(cells.texts("notes")),
            "external_id": cells.text("external_id")[:100],
            "created_at": self.created(cells),
        }
        data.update(self.money(cells, notes))
        for key in ("expected_close", "closed_at"):
            if (text := cells.text(key)) and not parse.no_date(text):
                try:
                    data[key] = (
                        parse.parse_date(text, self.order)
                        if key == "expected_close"
                        else parse.parse_datetime(text, self.order)
                    )
                except ValueError as error:
                    raise RowError(f"{FIELD_LABELS[key]}: {error}") from None
        if not (
            data["title"] or data["contact_name"] or data["company"] or phones or data["emails"]
        ):
            raise RowError(_("Give the deal's title or its customer."))
        data["owner"] = self.owner(cells, notes)
        data["custom"] = self.custom_values(cells, notes)
        keys = self.keys_for(
            phones=[phone_e164(p, self.region) for p in phones],
            emails=[email_key(e) for e in data["emails"]],
            external_id=data["external_id"],
        )
        return Item(cells=cells, data=data, keys=keys, notes=notes)

    def _contacts(self, items: list[Item]) -> None:
        """Every row's customer: the contact with one of its phones or e-mails, else a new
        contact made from its name, phones and e-mails (one query, one insert)."""
        values = {
            (kind, key)
            for item in items
            for kind, key in [
                *((MatchKey.Kind.PHONE, phone_e164(p, self.region)) for p in item.data["phones"]),
                *((MatchKey.Kind.EMAIL, email_key(e)) for e in item.data["emails"]),
            ]
            if key
        }
        owners = _key_owners(values, "contact")
        contacts = Contact.objects.in_bulk(set(owners.values()))
        known: dict[str, Contact] = {key: contacts[pk] for key, pk in owners.items()}
        new: list[Contact] = []
        for item in items:
            data = item.data
            keys = [f"phone:{phone_e164(p, self.region)}" for p in data["phones"]]
            keys += [f"email:{email_key(e)}" for e in data["emails"]]
            contact = next((known[k] for k in keys if k in known), None)
            if contact is None and (data["contact_name"] or data["phones"] or data["emails"]):
                parts = split_full_name(data["contact_name"])
                contact = Contact(
                    tenant=self.tenant,
                    last_name=parts.last[:100],
                    first_name=parts.first[:100],
                    middle_name=parts.middle[:100],
                    phones=data["phones"],
                    emails=data["emails"],
                    company=data.get("company_obj"),
                    owner=data["owner"],
                    created_by=self.actor,
                )
                try:
                    party_normalize(contact, self.tenant)
                except DomainError:
                    contact = None
                else:
                    new.append(contact)
                    for key in keys:
                        known.setdefault(key, contact)
            data["contact_obj"] = contact
        if new:
            parties_bulk_create(actor=self.actor, records=new, created={}, event=self.event)
            self.other_created.setdefault("contact", []).extend(c.pk for c in new)
            pairs = [(_ways({"phones": c.phones, "emails": c.emails}), c) for c in new]
            identities_note_many(tenant=self.tenant, pairs=pairs, source=LeadSource.IMPORT)

    def find(self, items: list[Item]) -> None:
        Companies(self).resolve(items, key="company")
        self._contacts(items)
        records: dict[str, Deal] = {}
        externals = {k[9:] for item in items for k in item.keys if k.startswith("external:")}
        if externals:
            for deal in Deal.objects.filter(external_id__in=externals).order_by("-created_at"):
                records.setdefault(f"external:{deal.external_id}", deal)
        contacts = {item.data["contact_obj"].pk for item in items if item.data.get("contact_obj")}
        by_contact: dict[int, Deal] = {}
        if contacts and self.match_by != ImportJob.MatchBy.EXTERNAL_ID:
            open_deals = Deal.objects.filter(contact_id__in=contacts, outcome=Outcome.OPEN)
            for deal in open_deals.order_by("-created_at", "-pk"):
                by_contact.setdefault(deal.contact_id, deal)
        for item in items:
            item.match = next((records[k] for k in item.keys if k in records), None)
            contact = item.data.get("contact_obj")
            by_person = any(k.startswith(("phone:", "email:")) for k in item.keys)
            if item.match is None and by_person and contact is not None:
                item.match = by_contact.get(contact.pk)

    def build(self, item: Item) -> Deal:
        data = item.data
        stage: Stage = data["stage"]
        return Deal(
            tenant=self.tenant,
            title=data["title"],
            amount=data.get("amount") or Decimal("0"),
            currency=data.get("currency") or "",
            pipeline=data["pipeline"],
            stage=stage,
            outcome=stage.kind,
            closed_at=data.get("closed_at") if stage.kind != Outcome.OPEN else None,
            expected_close=data.get("expected_close"),
            contact=data.get("contact_obj"),
            company=data.get("company_obj"),
            owner=data["owner"],
            created_by=self.actor,
            custom=data["custom"],
            external_id=data["external_id"],
        )

    def merge(self, item: Item, *, replace: bool) -> bool:
        deal: Deal = item.record
        changed = False
        for name in self.merged:
            changed |= self.set_field(deal, name, item.data.get(name), replace=replace)
        for name, obj in (("contact_id", "contact_obj"), ("company_id", "company_obj")):
            if item.data.get(obj) is not None:
                changed |= self.set_field(deal, name, item.data[obj].pk, replace=replace)
        if replace and cells_named(item, "owner") and item.data["owner"] is not None:
            changed |= self.set_field(deal, "owner_id", item.data["owner"].pk, replace=True)
        changed |= self.merge_custom(deal, item.data["custom"], replace=replace)
        return changed

    def save(self, outcome: BatchOutcome) -> None:
        notes = {
            i: "\n".join(p for p in (item.data["notes"], *item.notes) if p)
            for i, item in enumerate(outcome.created)
            if item.data["notes"] or item.notes
        }
        deals_bulk_create(
            actor=self.actor,
            deals=[item.record for item in outcome.created],
            created=self.created_moments(outcome.created),
            notes=notes,
            event=self.event,
        )
        deals_bulk_update(
            actor=self.actor,
            deals=[item.record for item in outcome.updated],
            fields=self.changed_fields(outcome.updated),
            event=self.event,
        )


FIELD_LABELS = {"expected_close": _("Expected close date"), "closed_at": _("Closed")}


ADAPTERS: dict[str, type[Adapter]] = {
    Entity.LEADS: LeadAdapter,
    Entity.CONTACTS: ContactAdapter,
    Entity.COMPANIES: CompanyAdapter,
    Entity.DEALS: DealAdapter,
}


def adapter_for(job: ImportJob, actor: Membership) -> Adapter:
    """The adapter that imports `job`'s entity (inside the job's tenant)."""
    return ADAPTERS[job.entity](job, actor)
