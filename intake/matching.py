"""Who is this person: an inquiry's match keys and what the workspace already knows of
them (DESIGN §2).

An inquiry is matched by E.164 phone, e-mail key (case-folded) and messenger identity:
`matches_for` finds the newest open lead, else the newest closed one, and the contact, as
one member may see them. Two inquiries with a shared key are serialized by transaction-
scoped advisory locks on the keys (PostgreSQL: `lock_keys`, or `inquiry_batch` for a
drain's batch), so twenty identical deliveries at once make one lead, not twenty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, Q, Value, When

from contacts.models import Contact, MatchKey
from contacts.normalize import email_key, messenger_key, phone_e164, phones_in
from contacts.selectors import find_contact, record_list
from crm.access import Action, scope_queryset
from crm.models import Membership, Tenant
from crm.text import clean_line
from leads.models import OPEN_STATES, Lead


@dataclass(frozen=True)
class Keys:
    """An inquiry's match keys."""

    phone_e164: str = ""
    email_key: str = ""
    messenger: str = ""
    messenger_id: str = ""  # the handle as given (leads keep it so)
    messenger_key: str = ""  # the handle normalized (contacts' match keys)

    def __bool__(self) -> bool:
        return bool(self.phone_e164 or self.email_key or self.messenger_key)

    def names(self) -> list[str]:
        """The keys as strings, e.g. for locks."""
        pairs = [("phone", self.phone_e164), ("email", self.email_key)]
        pairs.append((self.messenger, self.messenger_key))
        return sorted(f"{kind}:{value}" for kind, value in pairs if kind and value)


def inquiry_keys(data: dict[str, Any], region: str) -> Keys:
    """The match keys of inquiry `data` read with the tenant's phone `region`."""
    messenger = data.get("messenger") or ""
    handle = (data.get("messenger_id") or "").strip()
    return Keys(
        phone_e164=phone_e164(data.get("phone") or "", region),
        email_key=email_key(data.get("email") or ""),
        messenger=messenger if handle else "",
        messenger_id=handle if messenger else "",
        messenger_key=messenger_key(messenger, handle, region) if messenger and handle else "",
    )


def lookup_keys(*, phone: str, email: str, region: str) -> Keys:
    """The match keys of what a manager has typed so far; a partial phone or e-mail gives
    none (the new-lead form's duplicate warnings)."""
    email = clean_line(email)
    phones = phones_in(clean_line(phone)[:200], region)
    return Keys(
        phone_e164=phones[0].e164 if phones else "",
        email_key=email_key(email) if "@" in email.strip("@") else "",
    )


@dataclass(frozen=True)
class Matches:
    """What the tenant already knows of a person, as one member may see it."""

    open_lead: Lead | None = None
    closed_lead: Lead | None = None
    contact: Contact | None = None


def _lead_q(keys: Keys) -> Q:
    wanted = Q()
    if keys.phone_e164:
        wanted |= Q(phone_e164=keys.phone_e164)
    if keys.email_key:
        wanted |= Q(email_key=keys.email_key)
    if keys.messenger_id:
        # Leads keep handles as given: "@anna" and "anna" are both looked for.
        handles = {keys.messenger_id, keys.messenger_key, f"@{keys.messenger_key}"} - {"", "@"}
        wanted |= Q(messenger=keys.messenger, messenger_id__in=handles)
    return wanted


def _newest_lead(actor: Membership, keys: Keys) -> Lead | None:
    """The newest open lead with these keys, else the newest closed one (one query)."""
    leads = Lead.objects.filter(_lead_q(keys), deleted_at=None).annotate(
        is_open=Case(When(state__in=list(OPEN_STATES), then=Value(1)), default=Value(0))
    )
    return (
        scope_queryset(leads, actor=actor, action=Action.VIEW)
        .select_related("status", "owner__user")
        .order_by("-is_open", "-created_at", "-pk")
        .first()
    )


@dataclass
class _Batch:
    """Inquiries registered together in one transaction (inquiry_batch)."""

    locked: set[str]  # keys whose advisory locks the transaction holds
    absent: set[str]  # phone and e-mail keys no lead or contact had when they were locked


_BATCH: ContextVar[_Batch | None] = ContextVar("inquiry_batch", default=None)


def _lock_ids(tenant: Tenant, names: Iterable[str]) -> list[int]:
    return [
        int.from_bytes(
            hashlib.blake2b(f"inquiry:{tenant.pk}:{name}".encode(), digest_size=8).digest(),
            "big",
            signed=True,
        )
        for name in sorted(names)
    ]


def _take_locks(ids: list[int]) -> None:
    # One statement; its target list is evaluated left to right, so in the sorted order.
    # A long list (an import's batch) is locked from a sorted subquery instead: a target
    # list holds at most 1664 entries.
    ids = sorted(ids)  # one order for every caller, so two never wait in a cycle
    with connection.cursor() as cursor:
        if len(ids) <= 64:
            locks = ", ".join(["pg_advisory_xact_lock(%s)"] * len(ids))
            cursor.execute(f"SELECT {locks}", ids)  # only placeholders are interpolated
        else:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS sorted",
                [ids],
            )


def _known_names(phones: set[str], emails: set[str]) -> set[str]:
    """The phone and e-mail keys some lead (live or not) or contact already has."""
    wanted = Q(phone_e164__in=phones) | Q(email_key__in=emails)
    known = set()
    for phone, email in Lead.objects.filter(wanted).values_list("phone_e164", "email_key"):
        known |= {f"phone:{phone}", f"email:{email}"}
    kind = MatchKey.Kind
    keys = MatchKey.objects.filter(
        Q(kind=kind.PHONE, value__in=phones) | Q(kind=kind.EMAIL, value__in=emails)
    )
    known |= {f"{kind}:{value}" for kind, value in keys.values_list("kind", "value")}
    return known


@contextmanager
def inquiry_batch(tenant: Tenant, batch: Iterable[Keys]) -> Iterator[None]:
    """Register several inquiries in the current transaction with fewer statements.

    Takes the advisory locks of every key of the batch at once (sorted, so two batches never
    wait for each other in a cycle) and reads which phones and e-mails nobody has yet; inside
    the block an inquiry whose keys are all among those skips the look-ups of matches_for
    (its keys count as known from then on), and no key is locked twice. Holding the locks
    makes that answer hold until the transaction ends: whoever adds such a key must take its
    lock first. Use inside the transaction that registers them, for the tenant's robot
    (who sees every record).
    """
    names = {name for keys in batch for name in keys.names()}
    if connection.vendor == "postgresql" and names:
        _take_locks(_lock_ids(tenant, names))
    phones = {n.partition(":")[2] for n in names if n.startswith("phone:")}
    emails = {n.partition(":")[2] for n in names if n.startswith("email:")}
    absent = {f"phone:{p}" for p in phones} | {f"email:{e}" for e in emails}
    if absent:
        absent -= _known_names(phones, emails)
    token = _BATCH.set(_Batch(locked=names, absent=absent))
    try:
        yield
    finally:
        _BATCH.reset(token)


def matches_for(*, actor: Membership, keys: Keys, leads: bool = True) -> Matches:
    """The newest open lead, the newest closed lead (when no lead is open) and the contact
    with these keys that `actor` may see; `leads=False` looks for the contact only."""
    if not keys:
        return Matches()
    batch = _BATCH.get()
    if batch is not None:
        names = keys.names()
        unknown = batch.absent.issuperset(names)
        batch.absent.difference_update(names)  # from now on they may be somebody's
        if unknown:
            return Matches()
    newest = _newest_lead(actor, keys) if leads else None
    is_open = newest is not None and newest.state in OPEN_STATES
    open_lead, closed_lead = (newest, None) if is_open else (None, newest)
    contact = find_contact(
        actor=actor,
        phone_e164=keys.phone_e164,
        email_key=keys.email_key,
        messenger=keys.messenger,
        messenger_id=keys.messenger_id,
    )
    if contact is None and newest is not None and newest.contact_id is not None:
        contact = record_list(actor=actor, model=Contact).filter(pk=newest.contact_id).first()
    return Matches(open_lead=open_lead, closed_lead=closed_lead, contact=contact)


def inquiry_matches(*, actor: Membership, data: dict[str, Any]) -> Matches:
    """What the tenant knows of the person in inquiry `data` (the lead form warns with it)."""
    keys = inquiry_keys(data, actor.tenant.default_region)
    return matches_for(actor=actor, keys=keys, leads=actor.tenant.mode == Tenant.Mode.CLASSIC)


def lock_keys(tenant: Tenant, keys: Keys) -> None:
    """Serialize inquiries with a shared key until the transaction ends (PostgreSQL).

    A row lock cannot guard rows that do not exist yet, hence advisory locks on the keys.
    They are taken in sorted order, so two inquiries never wait for each other in a cycle
    (inquiry_batch holds its batch's locks already). SQLite (development) gets no lock.
    """
    if connection.vendor != "postgresql":
        return
    batch = _BATCH.get()
    names = set(keys.names()) - (batch.locked if batch is not None else set())
    if names:
        _take_locks(_lock_ids(tenant, names))


def lock_names(tenant: Tenant, names: Iterable[str]) -> None:
    """Serialize with every inquiry and import touching these keys (`Keys.names()` form)
    until the transaction ends, in one statement (PostgreSQL; SQLite takes no lock)."""
    names = set(names)
    if connection.vendor == "postgresql" and names:
        _take_locks(_lock_ids(tenant, names))
