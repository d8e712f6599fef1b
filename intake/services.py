"""Intake's use cases: every way "someone asked us" ends in a lead, an attached inquiry or
a deal (DESIGN §2, §5).

`inquiry_register` is the one entry point. It matches the person (intake.matching) by E.164
phone, e-mail key and messenger identity:

- classic mode: an open lead of the person takes the inquiry (a timeline event with the
  message and where it came from; its owner is notified) — "attached". Otherwise a known
  contact or an earlier closed lead makes a new lead linked to the contact and, in the
  timeline, to the earlier lead — "repeat". Otherwise a new lead — "created". With
  `create_deal` (a channel's "a deal for every submission") a new or repeat lead also gets
  a deal with its contact, or the contact's open deal takes the inquiry;
- simple mode (no leads): the contact's open deal takes the inquiry, or a new deal is made
  with the known contact ("repeat") or a new one ("created").

Around it: `inquiry_receive` takes a channel's normalized `Inquiry` (the blocklist, the
responsible, behaviour events and button presses, a shared own phone) and says in a
`Receipt` what became of it; `inquiry_register_manual` is a manager's new lead with its
explicit choice when an open lead matches; `inquiry_attach` adds an inquiry to a chosen
lead. Matching sees what the actor may see (channels act as the tenant's robot member, who
sees all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from contacts.blocklist import blocked_reason
from contacts.models import Contact
from contacts.normalize import phone_e164
from contacts.services import contact_add_phone, contact_create
from crm.access import Action, Entity, check_entity, scope_queryset
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.memo import nested_savepoints
from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.services import ACTOR, _Actor, timeline_record
from crm.sources import LeadSource
from crm.urlnames import tenant_reverse
from deals.models import Deal, Outcome
from deals.services import deal_create, default_pipeline
from intake.duplicates import Found, duplicate_lead, duplicates_lookup
from intake.identities import identities_note
from intake.matching import Keys, inquiry_keys, lock_keys, matches_for
from leads.distribution import RoutingContext, pick_owner
from leads.models import OPEN_STATES, Lead
from leads.qualification import event_record
from leads.services import intake_fields, lead_create, lead_learn_ways, lead_take_phone

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


def _open_deal(actor: Membership, contact: Contact) -> Deal | None:
    deals = Deal.objects.filter(contact=contact, outcome=Outcome.OPEN)
    return (
        scope_queryset(deals, actor=actor, action=Action.VIEW)
        .select_related("owner__user")
        .order_by("-created_at", "-pk")
        .first()
    )


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


def _attach_to_lead(
    actor: Membership,
    lead: Lead,
    event: dict[str, Any],
    data: dict[str, Any],
    source: str,
    *,
    own_phone: bool = False,
) -> None:
    """The open lead takes the inquiry: it goes to the lead's history, the ways to reach
    the person it brings are noted and fill what the lead lacks, its owner is told. A phone
    the person shared as their own is left to inquiry_receive (it becomes the main one)."""
    timeline_record(actor=actor, target=lead, kind="lead.inquiry", data=event)
    via = str((event.get("inbound") or {}).get("channel", ""))
    identities_note(tenant=actor.tenant, data=data, source=source, via=via, lead=lead)
    learned = {k: v for k, v in data.items() if k not in ("phone", "other_phones")}
    lead_learn_ways(actor=actor, lead=lead, data=learned if own_phone else data)
    event_record(actor=actor, lead=lead, name="wrote_again", properties={"channel": via})
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
    own_phone: bool,
) -> InquiryResult:
    found = matches_for(actor=actor, keys=keys)
    if attach and found.open_lead is not None:
        _attach_to_lead(actor, found.open_lead, event, data, source, own_phone=own_phone)
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
    via = str((event.get("inbound") or {}).get("channel", ""))
    identities_note(
        tenant=actor.tenant, data=data, source=source, via=via, lead=lead, contact=contact
    )
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
        if contact is None:
            result.contact = _new_contact(actor, data, deal_owner)
            identities_note(
                tenant=actor.tenant, data=data, source=source, via=via, contact=result.contact
            )
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
    source: str,
    keys: Keys,
    owner: Membership,
    products: list[ProductLine],
    event: dict[str, Any],
    attach: bool,
) -> InquiryResult:
    known = matches_for(actor=actor, keys=keys, leads=False).contact
    contact = known or _new_contact(actor, data, owner)
    via = str((event.get("inbound") or {}).get("channel", ""))
    identities_note(tenant=actor.tenant, data=data, source=source, via=via, contact=contact)
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
    own_phone: bool = False,
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
    attaches to an open lead or deal. `own_phone`: the phone is the person's own, as their
    messenger confirms it; the caller makes it the lead's (an open lead then does not
    learn it as a further number). The module docstring says what happens when. One
    transaction.

    Raises AccessDenied without the right to create leads (classic) or deals (simple),
    DomainError for an unknown source or an inquiry with no way to reach the person (a
    phone in which no number can be read is none; the error says how to write one). The
    blocklist is the caller's business (inquiry_receive refuses a blocked sender's
    deliveries; a manager may still enter one, inquiry_register_manual points it out).
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
        lock_keys(tenant, keys)
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
                own_phone=own_phone,
            )
        return _register_deal(
            actor,
            data=data,
            source=source,
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
        _attach_to_lead(actor, lead, _event_data(data, source, {}), data, source)
    return lead


def inquiry_join(
    *,
    actor: Membership,
    record: Lead | Deal,
    data: dict[str, Any],
    source: str,
    inbound: dict[str, Any],
) -> None:
    """Add an inquiry to the open lead or deal its channel already tied it to (an e-mail
    that replies to one this record received): the same history entry, ways to reach the
    person and notice to the owner as an inquiry attached by matching. `data` is read as
    inquiry_register reads it."""
    data = intake_fields(data, actor.tenant.default_region)
    event = _event_data(data, source, inbound)
    via = str(inbound.get("channel", ""))
    with transaction.atomic(savepoint=nested_savepoints()):
        if isinstance(record, Lead):
            _attach_to_lead(actor, record, event, data, source)
            return
        _attach_to_deal(actor, record, event)
        if record.contact_id is not None:
            identities_note(
                tenant=actor.tenant, data=data, source=source, via=via, contact=record.contact
            )


# --- A manager's new lead ------------------------------------------------------------------


@dataclass
class ManualResult:
    """What a manager's new lead did: "created", "repeat" or "attached" (to the lead they
    chose), with the lead and the sender's blocklist entry if any; or nothing yet
    (`outcome` "matches"), with the open leads that match for the manager to choose."""

    outcome: str
    lead: Lead | None = None
    found: Found | None = None
    blocked: str = ""


def inquiry_register_manual(
    *,
    actor: Membership,
    data: dict[str, Any],
    owner: Membership | _Actor | None = ACTOR,
    products: Iterable[ProductLine] = (),
    attach_to: int | None = None,
    create_anyway: bool = False,
) -> ManualResult:
    """Register a manager's inquiry (the lead form, the quick lead) as they chose.

    `attach_to`: the open lead they chose to add it to ("Add to that lead"); it must still
    be open, visible and match the typed phone or e-mail, else DomainError. Without it and
    without `create_anyway`, an open lead that matches stops the registration: the result
    carries the matches, so the choice stays explicit. A known contact makes a repeat lead.
    A blocked sender is not refused here, only pointed out (`blocked`). Raises what
    inquiry_register and inquiry_attach raise.
    """
    check_entity(actor=actor, entity=Entity.LEAD, action=Action.CREATE)
    source = data.get("source") or LeadSource.MANUAL
    region = actor.tenant.default_region
    keys = inquiry_keys(intake_fields(data, region), region)
    if attach_to is not None:
        chosen = duplicate_lead(actor=actor, keys=keys, lead_id=attach_to)
        if chosen is None:
            raise DomainError(
                _("That lead is closed now or does not match this phone or e-mail: choose again.")
            )
        lead = inquiry_attach(actor=actor, lead=chosen, data=data, source=source)
        return ManualResult(ATTACHED, lead=lead)
    if not create_anyway:
        found = duplicates_lookup(actor=actor, keys=keys)
        if found.leads:
            return ManualResult("matches", found=found)
    result = inquiry_register(
        actor=actor, data=data, source=source, owner=owner, products=products, attach=False
    )
    return ManualResult(result.outcome, lead=result.lead, blocked=_blocked(keys))


# --- What a channel hands over ---------------------------------------------------------------

DONE, IGNORED, REJECTED, SPAM = "done", "ignored", "rejected", "spam"
DEAL = "deal"  # simple mode: a new deal, no lead


@dataclass(frozen=True)
class Inquiry:
    """A normalized inquiry as a channel hands it over, whatever the provider.

    `data`: the person and the message (inquiry_register's `data`); `source`: a LeadSource
    value; `kind`: "inquiry", "behaviour" (an event on the site: noted on the person's open
    lead) or "button" (a button pressed in a chat: noted on their record); `event` and
    `properties`: the behaviour's or the button's name and details; `inbound`: where it came
    from, for the timeline; `channel_id`, `default_owner`, `create_deal`: the channel's
    settings; `own_phone`: the person shared their own number (it joins their record).
    """

    data: dict[str, Any]
    source: str
    kind: str = "inquiry"
    event: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    inbound: dict[str, Any] = field(default_factory=dict)
    channel_id: int | None = None
    default_owner: Membership | None = None
    create_deal: bool = False
    own_phone: bool = False
    # When a behaviour event happened (the sender's time, else the delivery's receipt).
    at: datetime | None = None


@dataclass
class Receipt:
    """What became of a channel's inquiry: `status` done, ignored, rejected or spam (with
    `detail`), `outcome` created, attached, repeat or deal, and the records it touched."""

    status: str
    outcome: str = ""
    detail: str = ""
    lead: Lead | None = None
    deal: Deal | None = None
    contact: Contact | None = None


def _owner_for(inquiry: Inquiry, region: str) -> Membership | None:
    """The channel's responsible when available, else the assignment rules' pick, else
    nobody (the shared inbox)."""
    owner = inquiry.default_owner
    if owner is not None and owner.is_active and not owner.is_away:
        return owner
    data = inquiry.data
    context = RoutingContext(
        channel_id=inquiry.channel_id,
        source=inquiry.source,
        utm={key: value for key, value in data.items() if key.startswith("utm_")},
        custom=data.get("custom") or {},
        phone_e164=phone_e164(data.get("phone") or "", region),
    )
    return pick_owner(context=context)


def _behaviour(actor: Membership, inquiry: Inquiry, keys: Keys) -> Receipt:
    lead = matches_for(actor=actor, keys=keys).open_lead
    if lead is None:
        return Receipt(IGNORED, detail=_("No open lead with these contacts."))
    timeline_record(
        actor=actor,
        target=lead,
        kind="lead.behaviour",
        data={
            "event": inquiry.event,
            "properties": inquiry.properties,
            "url": inquiry.inbound.get("page_url", ""),
        },
    )
    event_record(
        actor=actor,
        lead=lead,
        name=inquiry.event,
        properties=inquiry.properties,
        url=str(inquiry.inbound.get("page_url", "")),
        at=inquiry.at,
    )
    return Receipt(DONE, ATTACHED, lead=lead)


def _button(actor: Membership, inquiry: Inquiry, keys: Keys) -> Receipt:
    """A button press: noted on the timeline of the person's lead (open, else the newest),
    else of their contact; from someone unknown it is ignored — a press makes no lead."""
    classic = actor.tenant.mode == Tenant.Mode.CLASSIC
    found = matches_for(actor=actor, keys=keys, leads=classic)
    record = found.open_lead or found.closed_lead or found.contact
    if record is None:
        return Receipt(
            IGNORED,
            detail=_("A button pressed by someone without a lead or contact: nothing made."),
        )
    timeline_record(
        actor=actor,
        target=record,
        kind="inbound.button",
        data={
            "label": inquiry.event,
            **inquiry.properties,
            "channel": inquiry.inbound.get("channel", ""),
        },
    )
    lead = record if isinstance(record, Lead) else None
    if lead is not None and lead.state in OPEN_STATES:
        event_record(actor=actor, lead=lead, name=inquiry.event, properties=inquiry.properties)
    return Receipt(DONE, ATTACHED, lead=lead, contact=found.contact)


def _take_own_phone(actor: Membership, inquiry: Inquiry, result: InquiryResult) -> None:
    """The person shared their own number: the open lead that took the inquiry gets it (a
    new or repeat lead has it already); in simple mode their contact, new or known, has it
    then."""
    phone = inquiry.data.get("phone") or ""
    if result.lead is not None:
        if result.outcome == ATTACHED:
            channel = inquiry.inbound.get("channel", "")
            lead_take_phone(actor=actor, lead=result.lead, phone=phone, channel=channel)
    elif result.contact is not None:
        contact_add_phone(actor=actor, contact=result.contact, phone=phone)


def sender_blocked(*, actor: Membership, data: dict[str, Any]) -> str:
    """Why the sender of inquiry `data` is on the blocklist ("" when not): a blocked
    sender's messages, edits, button presses and events all stop at intake."""
    keys = inquiry_keys(data, actor.tenant.default_region)
    return _blocked(keys)


def _blocked(keys: Keys) -> str:
    return blocked_reason(
        phone_e164=keys.phone_e164,
        email_key=keys.email_key,
        messenger=keys.messenger,
        messenger_id=keys.messenger_id,
    )


def inquiry_receive(*, actor: Membership, inquiry: Inquiry) -> Receipt:
    """Take a channel's inquiry: a blocked sender's stops here (spam), a behaviour event or
    a button press is noted on the person's record, anything else is registered
    (inquiry_register) for the channel's responsible or the assignment rules' pick. Domain
    refusals (no way to reach the person…) end rejected, with the reason."""
    keys = inquiry_keys(inquiry.data, actor.tenant.default_region)
    if blocked := _blocked(keys):
        return Receipt(SPAM, detail=blocked)
    if inquiry.kind == "behaviour":
        return _behaviour(actor, inquiry, keys)
    if inquiry.kind == "button":
        return _button(actor, inquiry, keys)
    try:
        result = inquiry_register(
            actor=actor,
            data=inquiry.data,
            source=inquiry.source,
            owner=_owner_for(inquiry, actor.tenant.default_region),
            inbound=inquiry.inbound,
            create_deal=inquiry.create_deal,
            own_phone=inquiry.own_phone,
        )
    except DomainError as error:
        return Receipt(REJECTED, detail=str(error))
    receipt = Receipt(
        DONE, result.outcome, lead=result.lead, deal=result.deal, contact=result.contact
    )
    if result.outcome == CREATED and result.lead is None:
        receipt.outcome = DEAL
    if inquiry.own_phone:
        try:
            _take_own_phone(actor, inquiry, result)
        except DomainError as error:  # the inquiry stands; the number is noted, not taken
            receipt.detail = _("The shared phone was not taken: %(reason)s") % {"reason": error}
    return receipt
