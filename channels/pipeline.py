"""The shared steps after an adapter has read a delivery: validate, match, create or
attach, assign, notify — and record the outcome on the InboundEvent.

Runs in the worker, inside the tenant's transaction, as the tenant's robot member.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from channels.adapters import InboundMessage, RawDelivery, Rejected, adapter_for
from channels.models import Channel, InboundEvent
from contacts.normalize import email_key, phone_e164
from crm.errors import DomainError
from crm.models import Membership
from crm.services import system_actor, timeline_record
from deals.inquiries import inquiry_create
from deals.models import Deal
from leads.distribution import RoutingContext, pick_owner
from leads.models import Lead, LeadState

Status = InboundEvent.Status
Outcome = InboundEvent.Outcome


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
    data: dict[str, Any] = {"channel": channel.name, "channel_id": channel.pk, "event": event.pk}
    for key in ("page_url", "consent", "campaign", "message"):
        if getattr(message, key):
            data[key] = getattr(message, key)
    return data


def _known_lead(message: InboundMessage, region: str) -> Lead | None:
    """The newest open lead with the message's phone, e-mail or messenger identity."""
    keys = {
        "phone_e164": phone_e164(message.phone, region),
        "email_key": email_key(message.email),
    }
    leads = Lead.objects.filter(
        deleted_at__isnull=True, status__state__in=(LeadState.NEW, LeadState.IN_PROGRESS)
    )
    for field, value in keys.items():
        if value:
            found = leads.filter(**{field: value}).order_by("-created_at").first()
            if found is not None:
                return found
    if message.messenger and message.messenger_id:
        return (
            leads.filter(messenger=message.messenger, messenger_id=message.messenger_id)
            .order_by("-created_at")
            .first()
        )
    return None


def _behaviour(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    lead = _known_lead(message, actor.tenant.default_region)
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


def _apply_edit(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """The sender edited an earlier message (`edit_of`): note the new text on the record the
    original made and update the lead's message if it was that text; unknown → ignored."""
    earlier = InboundEvent.objects.filter(
        channel=event.channel, message__external_id=message.edit_of, pk__lt=event.pk
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
        data={**_inbound_data(event.channel, event, message), "old": old[:300]},
    )
    lead = original.lead
    if lead is not None and lead.message == old and lead.state != LeadState.CONVERTED:
        lead.message = message.message
        lead.save(update_fields=["message", "updated_at"])
    event.status, event.outcome = Status.DONE, Outcome.UPDATED
    event.lead, event.deal, event.contact = original.lead, original.deal, original.contact


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
    if message.edit_of:
        _apply_edit(event, message, actor)
        return
    try:
        record = inquiry_create(
            actor=actor,
            data=message.lead_data(),
            source=message.source,
            owner=_owner_for(channel, message),
        )
    except DomainError as error:
        event.status, event.detail = Status.REJECTED, str(error)
        return
    timeline_record(
        actor=actor,
        target=record,
        kind="inbound.received",
        data=_inbound_data(channel, event, message),
    )
    event.status = Status.DONE
    if isinstance(record, Deal):
        event.outcome, event.deal, event.contact = Outcome.DEAL, record, record.contact
    else:
        event.outcome, event.lead = Outcome.CREATED, record
