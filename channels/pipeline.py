"""The shared steps after an adapter has read a delivery: validate, match, create or
attach, assign, notify — and record the outcome on the InboundEvent.

Runs in the worker, inside the tenant's transaction, as the tenant's robot member.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from channels.adapters import InboundMessage, RawDelivery, Rejected, adapter_for
from channels.models import Channel, InboundEvent
from contacts.blocklist import blocked_reason
from contacts.normalize import phone_e164
from crm.errors import DomainError
from crm.models import Membership
from crm.services import system_actor, timeline_record
from deals.inquiries import ATTACHED, CREATED, REPEAT, inquiry_keys, inquiry_register, matches_for
from leads.distribution import RoutingContext, pick_owner

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
    for key in ("page_url", "consent", "campaign"):
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


def process(event: InboundEvent) -> None:
    """Turn a stored delivery into CRM records; sets the event's status and outcome (the
    caller saves it). Domain refusals (no way to reach the person…) end as rejected."""
    channel = event.channel
    adapter = adapter_for(channel.kind)
    try:
        delivery = adapter.read(RawDelivery.from_event(event), channel)
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
    event.message = message.as_json()
    actor = system_actor(channel.tenant)
    if message.kind == "behaviour":
        _behaviour(event, message, actor)
        return
    data = message.lead_data()
    keys = inquiry_keys(data, channel.tenant.default_region)
    blocked = blocked_reason(
        phone_e164=keys.phone_e164,
        email_key=keys.email_key,
        messenger=keys.messenger,
        messenger_id=keys.messenger_id,
    )
    if blocked:
        event.status, event.detail = Status.SPAM, blocked
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
    event.lead, event.deal, event.contact = result.lead, result.deal, result.contact
    event.outcome = OUTCOMES[result.outcome]
    if result.outcome == CREATED and result.lead is None:
        event.outcome = Outcome.DEAL
