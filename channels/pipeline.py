"""The shared steps after an adapter has read a delivery: validate, match, create or
attach, assign, notify — and record the outcome on the InboundEvent.

Runs in the worker, inside the tenant's transaction, as the tenant's robot member.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from channels.adapters import InboundMessage, RawDelivery, Rejected, adapter_for, read_delivery
from channels.calls import call_event_record
from channels.models import Channel, InboundEvent
from contacts.blocklist import blocked_reason
from contacts.normalize import phone_e164
from contacts.services import contact_add_phone
from crm.errors import DomainError
from crm.models import Membership, Tenant
from crm.services import system_actor, timeline_record
from deals.inquiries import (
    ATTACHED,
    CREATED,
    REPEAT,
    InquiryResult,
    Keys,
    inquiry_keys,
    inquiry_register,
    matches_for,
)
from leads.distribution import RoutingContext, pick_owner
from leads.models import Lead, LeadState
from leads.services import lead_take_phone

Status = InboundEvent.Status
Outcome = InboundEvent.Outcome
OUTCOMES = {CREATED: Outcome.CREATED, ATTACHED: Outcome.ATTACHED, REPEAT: Outcome.REPEAT}


def _owner_for(channel: Channel, message: InboundMessage) -> Membership | None:
    """The channel's responsible when available, else the assignment rules' pick, else
    nobody (the shared inbox)."""
    owner = channel.default_owner
    if owner is not None and owner.is_active and not owner.is_away:
        return owner
    data = message.lead_data()
    context = RoutingContext(
        channel_id=channel.pk,
        source=message.source,
        utm={key: value for key, value in data.items() if key.startswith("utm_")},
        custom=message.custom,
        phone_e164=phone_e164(message.phone, channel.tenant.default_region),
    )
    return pick_owner(context=context)


def _inbound_data(channel: Channel, event: InboundEvent, message: InboundMessage) -> dict:
    data: dict[str, Any] = {"channel": channel.name, "channel_id": channel.pk, "event_id": event.pk}
    for key in ("page_url", "consent", "start_param"):
        if getattr(message, key):
            data[key] = getattr(message, key)
    return data


def _behaviour(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    keys = inquiry_keys(message.lead_data(), actor.tenant.default_region)
    lead = matches_for(actor=actor, keys=keys).open_lead
    if lead is None:
        event.status, event.detail = Status.IGNORED, _("No open lead with these contacts.")
        return
    timeline_record(
        actor=actor,
        target=lead,
        kind="lead.behaviour",
        data={"event": message.event, "properties": message.properties, "url": message.page_url},
    )
    event.status, event.outcome, event.lead = Status.DONE, Outcome.ATTACHED, lead


def _button(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """A button press: noted on the timeline of the person's lead (open, else the newest),
    else of their contact; from someone unknown it is ignored — a press makes no lead."""
    classic = actor.tenant.mode == Tenant.Mode.CLASSIC
    keys = inquiry_keys(message.lead_data(), actor.tenant.default_region)
    found = matches_for(actor=actor, keys=keys, leads=classic)
    record = found.open_lead or found.closed_lead or found.contact
    if record is None:
        event.status = Status.IGNORED
        event.detail = _("A button pressed by someone without a lead or contact: nothing made.")
        return
    timeline_record(
        actor=actor,
        target=record,
        kind="inbound.button",
        data={"label": message.event, **message.properties, "channel": event.channel.name},
    )
    event.status, event.outcome = Status.DONE, Outcome.ATTACHED
    event.lead = record if isinstance(record, Lead) else None
    event.contact = found.contact


def _take_own_phone(
    event: InboundEvent, result: InquiryResult, message: InboundMessage, actor: Membership
) -> None:
    """The person shared their own number (`own_phone`): the open lead that took the
    inquiry gets it (a new or repeat lead has it already); in simple mode their contact,
    new or known, has it then."""
    if result.lead is not None:
        if result.outcome == ATTACHED:
            channel = event.channel.name
            lead_take_phone(actor=actor, lead=result.lead, phone=message.phone, channel=channel)
    elif result.contact is not None:
        contact_add_phone(actor=actor, contact=result.contact, phone=message.phone)


def _apply_edit(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """The sender edited an earlier message (`edit_of`): note the new text on the record the
    original made and update the lead's message if it was that text; unknown → ignored."""
    earlier = InboundEvent.objects.filter(
        channel=event.channel, external_id=message.edit_of[:200], pk__lt=event.pk
    )
    if earlier.filter(status=Status.PENDING).exists():  # retried once those are processed
        raise RuntimeError("An earlier version of the edited message is not processed yet.")
    earlier = earlier.filter(status=Status.DONE).order_by("pk")
    original, latest = earlier.first(), earlier.last()
    record = original and (original.lead or original.deal or original.contact)
    if record is None:
        event.status, event.detail = Status.IGNORED, _("An edit of a message not known here.")
        return
    old = latest.message.get("message", "")
    timeline_record(
        actor=actor,
        target=record,
        kind="inbound.edited",
        data={
            "channel": event.channel.name,
            "old": old[:300],
            "message": message.message,
            "inbound": _inbound_data(event.channel, event, message),
        },
    )
    lead = original.lead
    if lead is not None and lead.message == old and lead.state != LeadState.CONVERTED:
        lead.message = message.message
        lead.save(update_fields=["message", "updated_at"])
    event.status, event.outcome = Status.DONE, Outcome.UPDATED
    event.lead, event.deal, event.contact = original.lead, original.deal, original.contact


def inquiry_keys_of(event: InboundEvent) -> Keys:
    """The match keys of a stored delivery's message (as read at the endpoint)."""
    return inquiry_keys(event.message or {}, event.channel.tenant.default_region)


def process(event: InboundEvent) -> None:
    """Turn a stored delivery into CRM records; sets the event's status and outcome (the
    caller saves it). Domain refusals (no way to reach the person…) end as rejected. Runs
    in the workspace's language: notes added to a lead and refusals read in it."""
    with translation.override(event.channel.tenant.language):
        _process(event)


def _process(event: InboundEvent) -> None:
    channel = event.channel
    adapter = adapter_for(channel.kind)
    try:
        delivery = read_delivery(adapter, RawDelivery.from_event(event), channel)
    except Rejected as error:
        event.status, event.detail = Status.REJECTED, error.reason
        return
    if delivery.spam:
        event.status, event.detail = Status.SPAM, delivery.spam
        return
    if delivery.ignored or delivery.message is None:
        event.status, event.detail = Status.IGNORED, delivery.ignored
        return
    message = delivery.message
    event.message, event.external_id = message.as_json(), message.external_id[:200]
    actor = system_actor(channel.tenant)
    if message.kind == "call":  # one event of a call: its record, its outcome once ended
        call_event_record(
            event=event, message=message, actor=actor, owner=lambda: _owner_for(channel, message)
        )
        return
    data = message.lead_data()
    keys = inquiry_keys(data, channel.tenant.default_region)
    # A blocked sender's messages, edits, button presses and events all stop here.
    blocked = blocked_reason(
        phone_e164=keys.phone_e164,
        email_key=keys.email_key,
        messenger=keys.messenger,
        messenger_id=keys.messenger_id,
    )
    if blocked:
        event.status, event.detail = Status.SPAM, blocked
        return
    if message.kind == "behaviour":
        _behaviour(event, message, actor)
        return
    if message.kind == "button":
        _button(event, message, actor)
        return
    if message.edit_of:
        _apply_edit(event, message, actor)
        return
    try:
        result = inquiry_register(
            actor=actor,
            data=data,
            source=message.source,
            owner=_owner_for(channel, message),
            inbound=_inbound_data(channel, event, message),
            create_deal=channel.create_deal,
        )
    except DomainError as error:
        event.status, event.detail = Status.REJECTED, str(error)
        return
    event.status = Status.DONE
    if message.own_phone:
        try:
            _take_own_phone(event, result, message, actor)
        except DomainError as error:  # the inquiry stands; the number is noted, not taken
            event.detail = _("The shared phone was not taken: %(reason)s") % {"reason": error}
    event.lead, event.deal, event.contact = result.lead, result.deal, result.contact
    event.outcome = OUTCOMES[result.outcome]
    if result.outcome == CREATED and result.lead is None:
        event.outcome = Outcome.DEAL
