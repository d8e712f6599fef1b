"""Inquiries: the one entry point for "someone asked us" (channels, the quick lead and the
lead form, simple mode's quick deal), with duplicate matching (DESIGN §2).

`inquiry_register` matches the person by E.164 phone, e-mail key and messenger identity:

- classic mode: an open lead of the person takes the inquiry (a timeline event with the
  message and where it came from; its owner is notified) — "attached". Otherwise a known
  contact or an earlier closed lead makes a new lead linked to the contact and, in the
  timeline, to the earlier lead — "repeat". Otherwise a new lead — "created". With
  `create_deal` (a channel's "a deal for every submission") a new or repeat lead also gets
  a deal with its contact, or the contact's open deal takes the inquiry;
- simple mode (no leads): the contact's open deal takes the inquiry, or a new deal is made
  with the known contact ("repeat") or a new one ("created").

Matching sees what the actor may see (channels act as the tenant's robot member, who sees
all). Two identical inquiries at once are serialized by a transaction-scoped advisory lock
on each match key (PostgreSQL), so they make one lead, not two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils.translation import gettext as _

from contacts.models import Contact, MatchKey
from contacts.normalize import email_key, messenger_key, phone_e164
from contacts.selectors import record_list
from contacts.services import contact_create
from crm.access import Action, Entity, check_entity, scope_queryset
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.memo import nested_savepoints
from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.services import timeline_record
from crm.urlnames import tenant_reverse
from deals.models import Deal, Outcome
from deals.services import deal_create, default_pipeline
from leads.conversion import find_contact
from leads.models import OPEN_STATES, Lead, LeadSource
from leads.services import ACTOR, _Actor, intake_fields, lead_create

CREATED, ATTACHED, REPEAT = "created", "attached", "repeat"

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
SENDER_FIELDS = (
    "name",
    "phone",
    "other_phones",
    "email",
    "messenger",
    "messenger_id",
    "company_name",
)
# What `inbound` is expected to carry into the timeline (the card shows channel, page and
# consent); other keys are kept too, as text.
INBOUND_FIELDS = ("channel", "channel_id", "page_url", "consent", "event_id")


@dataclass
class InquiryResult:
    """What an inquiry did: "created" a record, was "attached" to an open one, or made a
    "repeat" lead (or deal) for someone the tenant already knows."""

    outcome: str
    lead: Lead | None = None
    deal: Deal | None = None
    contact: Contact | None = None


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
    locks = ", ".join(["pg_advisory_xact_lock(%s)"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {locks}", ids)  # only placeholders are interpolated


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


def _open_deal(actor: Membership, contact: Contact) -> Deal | None:
    deals = Deal.objects.filter(contact=contact, outcome=Outcome.OPEN)
    return (
        scope_queryset(deals, actor=actor, action=Action.VIEW)
        .select_related("owner__user")
        .order_by("-created_at", "-pk")
        .first()
    )


def _lock(tenant: Tenant, keys: Keys) -> None:
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


def _event_data(data: dict[str, Any], source: str, inbound: dict[str, Any]) -> dict[str, Any]:
    """What an inquiry leaves in a timeline: its source, message, sender, UTM and channel."""
    event: dict[str, Any] = {
        "source": str(LeadSource(source).label),
        "message": str(data.get("message") or "").strip(),
    }
    for group, fields, values in (
        ("sender", SENDER_FIELDS, data),
        ("utm", UTM_FIELDS, data),
        ("inbound", (*INBOUND_FIELDS, *sorted(set(inbound) - set(INBOUND_FIELDS))), inbound),
    ):
        present = {f: _shown(values[f]) for f in fields if _shown(values.get(f))}
        if present:
            event[group] = present
    return event


def _shown(value: Any) -> str:
    """A value as the timeline keeps it (lists, such as other phones, comma-separated)."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


def _notify(owner: Membership | None, actor: Membership, title: str, url: str) -> None:
    if owner is not None and owner.pk != actor.pk:
        notify(recipients=[owner], kind="inquiry.repeat", data={"title": title}, url=url)


def _attach_to_lead(actor: Membership, lead: Lead, event: dict[str, Any]) -> None:
    timeline_record(actor=actor, target=lead, kind="lead.inquiry", data=event)
    url = tenant_reverse("leads:detail", actor.tenant, pk=lead.pk)
    _notify(lead.owner, actor, lead.title, url)


def _attach_to_deal(actor: Membership, deal: Deal, event: dict[str, Any]) -> None:
    timeline_record(actor=actor, target=deal, kind="deal.inquiry", data=event)
    url = tenant_reverse("deals:detail", actor.tenant, pk=deal.pk)
    _notify(deal.owner, actor, deal.title, url)


def _new_contact(actor: Membership, data: dict[str, Any], owner: Membership) -> Contact:
    phone, email = (data.get("phone") or "").strip(), (data.get("email") or "").strip()
    messenger, handle = data.get("messenger") or "", (data.get("messenger_id") or "").strip()
    fields: dict[str, Any] = {
        "first_name": (data.get("name") or "").strip(),
        "phones": [p for p in (phone, *(data.get("other_phones") or [])) if p],
        "emails": [email] if email else [],
    }
    if messenger and handle:
        fields[messenger] = handle
    return contact_create(actor=actor, data=fields, owner=owner)


def _deal_for(
    actor: Membership,
    *,
    contact: Contact,
    data: dict[str, Any],
    owner: Membership,
    products: list[ProductLine],
    event: dict[str, Any],
    attach: bool,
    source_lead: Lead | None = None,
) -> tuple[Deal, bool]:
    """The contact's open deal, which takes the inquiry (when `attach`), or a new deal in
    the default pipeline; returns (deal, attached)."""
    deal = _open_deal(actor, contact) if attach else None
    if deal is not None:
        _attach_to_deal(actor, deal, event)
        return deal, True
    title = (data.get("title") or "").strip() or (data.get("company_name") or "").strip()
    deal = deal_create(
        actor=actor,
        data={"title": title or str(contact), "contact": contact},
        owner=owner,
        pipeline=default_pipeline(),
        products=products,
        source_lead=source_lead,
    )
    timeline_record(actor=actor, target=deal, kind="deal.inquiry", data=event)
    return deal, False


def _register_lead(
    actor: Membership,
    *,
    data: dict[str, Any],
    source: str,
    keys: Keys,
    owner: Membership | _Actor | None,
    products: list[ProductLine],
    event: dict[str, Any],
    channel_id: int | None,
    create_deal: bool,
    attach: bool,
) -> InquiryResult:
    found = matches_for(actor=actor, keys=keys)
    if attach and found.open_lead is not None:
        _attach_to_lead(actor, found.open_lead, event)
        return InquiryResult(ATTACHED, lead=found.open_lead, contact=found.contact)
    lead = lead_create(
        actor=actor,
        data={**data, "source": source},
        owner=owner,
        products=products,
        channel_id=channel_id,
    )
    contact, previous = found.contact, found.open_lead or found.closed_lead
    result = InquiryResult(CREATED, lead=lead, contact=contact)
    if contact is not None or previous is not None:
        lead.contact, lead.is_repeat = contact, True
        lead.save(update_fields=["contact", "is_repeat", "updated_at"])
        result.outcome = REPEAT
        links: dict[str, Any] = {}
        if previous is not None:
            links.update(lead_id=previous.pk, title=previous.title)
        if contact is not None:
            links.update(contact_id=contact.pk, contact=str(contact))
        timeline_record(actor=actor, target=lead, kind="lead.repeat", data={**event, **links})
    elif "inbound" in event:
        timeline_record(actor=actor, target=lead, kind="lead.inquiry", data=event)
    if create_deal:
        deal_owner = lead.owner
        result.contact = contact or _new_contact(actor, data, deal_owner)
        result.deal, attached = _deal_for(
            actor,
            contact=result.contact,
            data=data,
            owner=deal_owner,
            products=products,
            event=event,
            attach=contact is not None,
            source_lead=lead,
        )
        if not attached:
            timeline_record(
                actor=actor,
                target=lead,
                kind="lead.deal_created",
                data={"deal_id": result.deal.pk, "deal": result.deal.title},
            )
    return result


def _register_deal(
    actor: Membership,
    *,
    data: dict[str, Any],
    keys: Keys,
    owner: Membership,
    products: list[ProductLine],
    event: dict[str, Any],
    attach: bool,
) -> InquiryResult:
    known = matches_for(actor=actor, keys=keys, leads=False).contact
    contact = known or _new_contact(actor, data, owner)
    deal, attached = _deal_for(
        actor,
        contact=contact,
        data=data,
        owner=owner,
        products=products,
        event=event,
        attach=attach and known is not None,
    )
    outcome = ATTACHED if attached else (REPEAT if known is not None else CREATED)
    return InquiryResult(outcome, deal=deal, contact=contact)


def inquiry_register(
    *,
    actor: Membership,
    data: dict[str, Any],
    source: str,
    owner: Membership | _Actor | None = ACTOR,
    products: Iterable[ProductLine] = (),
    inbound: dict[str, Any] | None = None,
    create_deal: bool = False,
    attach: bool = True,
) -> InquiryResult:
    """Register an inquiry from `source` (a LeadSource value), matching the person first.

    `data`: name, phone, other_phones, email, messenger, messenger_id, title, message,
    company_name, utm_source…utm_term, custom (by custom-field key); read first as
    `leads.services.intake_fields` says (invisible characters removed, the phone field
    read into its first number, further numbers and a note), so the person is matched by
    the first number and a phone field never loses the inquiry. `inbound`: where it came from, for
    the timeline — channel (name), channel_id, page_url, consent, event_id (other keys are
    kept as text). `owner` as in lead_create (default: the actor; None: the shared inbox;
    a deal always has an owner: the lead's, else the actor). `create_deal`: classic mode
    also makes a deal with its contact. `attach=False` (a manager's "create anyway") never
    attaches to an open lead or deal. The module docstring says what happens when. One
    transaction.

    Raises AccessDenied without the right to create leads (classic) or deals (simple),
    DomainError for an unknown source or an inquiry with no way to reach the person (a
    phone in which no number can be read is none; the error says how to write one). The
    blocklist is the caller's business (contacts.blocklist.blocked_reason): a manager may
    still enter a blocked sender.
    """
    tenant: Tenant = actor.tenant
    classic = tenant.mode == Tenant.Mode.CLASSIC
    check_entity(actor=actor, entity=Entity.LEAD if classic else Entity.DEAL, action=Action.CREATE)
    if source not in LeadSource.values:
        raise DomainError(_("Unknown source."))
    data = intake_fields(data, tenant.default_region)
    if not any(str(data.get(f) or "").strip() for f in ("phone", "email", "messenger_id")):
        raise DomainError(
            _("Give at least one way to reach the person: a phone, an e-mail or a messenger.")
        )
    keys = inquiry_keys(data, tenant.default_region)
    event = _event_data(data, source, inbound or {})
    products = list(products)
    with transaction.atomic(savepoint=nested_savepoints()):
        _lock(tenant, keys)
        if classic:
            return _register_lead(
                actor,
                data=data,
                source=source,
                keys=keys,
                owner=owner,
                products=products,
                event=event,
                channel_id=(inbound or {}).get("channel_id"),
                create_deal=create_deal,
                attach=attach,
            )
        return _register_deal(
            actor,
            data=data,
            keys=keys,
            owner=actor if isinstance(owner, _Actor) else owner,
            products=products,
            event=event,
            attach=attach,
        )


def inquiry_attach(*, actor: Membership, lead: Lead, data: dict[str, Any], source: str) -> Lead:
    """Add a manager's inquiry to the open `lead` they chose ("add to that lead" on the new
    lead form): the same timeline event and notice to its owner as an inquiry attached by
    `inquiry_register`. `data` as there.

    Raises AccessDenied without the right to create leads, DomainError for an unknown
    source or a lead that is not open, not visible to the actor, or of another tenant.
    """
    check_entity(actor=actor, entity=Entity.LEAD, action=Action.CREATE)
    if source not in LeadSource.values:
        raise DomainError(_("Unknown source."))
    visible = scope_queryset(Lead.objects.filter(pk=lead.pk), actor=actor, action=Action.VIEW)
    if lead.tenant_id != actor.tenant_id or not visible.exists():
        raise DomainError(_("That lead is gone or is not yours to see."))
    data = intake_fields(data, actor.tenant.default_region)
    with transaction.atomic(savepoint=nested_savepoints()):
        locked = Lead.objects.select_for_update(of=("self",)).select_related("owner__user")
        lead = locked.get(pk=lead.pk)
        if lead.state not in OPEN_STATES or lead.deleted_at is not None:
            raise DomainError(_("That lead is closed now: create a new lead instead."))
        _attach_to_lead(actor, lead, _event_data(data, source, {}))
    return lead


def lead_is_repeat(lead: Lead) -> bool:
    """Whether the lead was a repeat inquiry of someone the tenant knew (Lead.is_repeat,
    set when the inquiry registered it)."""
    return lead.is_repeat
