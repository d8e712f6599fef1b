"""Ways to reach a person and how they were learned (intake.models.Identity).

`identities_note` records the phones, e-mail and messenger account of an inquiry on the
lead and the contact it made or joined (new ones only: a way already known keeps the day
and channel it was first learned from). `identities_of` lists them for a card.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from contacts.models import Contact
from contacts.normalize import email_key, messenger_key, phone_e164
from crm.bulk import insert_rows
from crm.models import Tenant
from intake.models import Identity
from leads.models import Lead


def _ways(data: dict[str, Any], region: str) -> list[tuple[str, str, str]]:
    """(kind, match key, as given) of every way to reach the person in inquiry `data`."""
    ways = []
    for phone in (data.get("phone") or "", *(data.get("other_phones") or [])):
        if key := phone_e164(str(phone), region):
            ways.append((Identity.Kind.PHONE, key, str(phone)))
    email = str(data.get("email") or "").strip()
    if key := email_key(email):
        ways.append((Identity.Kind.EMAIL, key, email))
    messenger, handle = data.get("messenger") or "", str(data.get("messenger_id") or "").strip()
    key = messenger_key(messenger, handle, region) if handle else ""
    if messenger in Identity.Kind.values and key:
        ways.append((messenger, key, handle))
    return ways


def identities_note(
    *,
    tenant: Tenant,
    data: dict[str, Any],
    source: str,
    via: str = "",
    lead: Lead | None = None,
    contact: Contact | None = None,
) -> None:
    """Record the ways to reach the person in inquiry `data` (read by intake_fields) on
    `lead` and on `contact`; ways they have already are left as they were."""
    pairs = [(data, record) for record in (lead, contact) if record is not None]
    identities_note_many(tenant=tenant, pairs=pairs, source=source, via=via)


def identities_note_many(
    *,
    tenant: Tenant,
    pairs: list[tuple[dict[str, Any], Lead | Contact]],
    source: str,
    via: str = "",
) -> None:
    """identities_note for many (inquiry data, record) pairs at once (an import): one
    insert for all."""
    region = tenant.default_region
    rows = [
        (
            tenant.pk,
            record.pk if isinstance(record, Lead) else None,
            record.pk if isinstance(record, Contact) else None,
            kind,
            key[:254],
            shown[:254],
            source,
            via[:120],
        )
        for data, record in pairs
        for kind, key, shown in _ways(data, region)
    ]
    columns = ("tenant_id", "lead_id", "contact_id", "kind", "value", "shown", "source", "via")
    insert_rows(Identity, columns, rows, ignore_conflicts=True)


SHOWN = 30  # ways listed on a card


def identities_of(*, lead: Lead | None = None, contact: Contact | None = None) -> list[Identity]:
    """A card's ways to reach the person, first learned first, each way once: the lead's
    own; a contact's own and those of the leads converted into it or registered as its
    repeat inquiries (one query)."""
    if lead is not None:
        rows = Identity.objects.filter(lead=lead)
    elif contact is not None:
        rows = Identity.objects.filter(Q(contact=contact) | Q(lead__contact=contact))
    else:
        return []
    seen: set[tuple[str, str]] = set()
    ways = []
    for row in rows.order_by("learned_at", "pk")[: SHOWN * 4]:
        if (row.kind, row.value) not in seen:
            seen.add((row.kind, row.value))
            ways.append(row)
    return ways[:SHOWN]
