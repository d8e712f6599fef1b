"""The shared steps after an adapter has read a delivery: hand the normalized inquiry to
intake (which matches, creates or attaches, assigns and notifies) and record what became of
it on the InboundEvent; edits of earlier messages are applied here, against the deliveries'
history.

Runs in the worker, inside the tenant's transaction, as the tenant's robot member.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from channels import conversations, mailintake
from channels.adapters import InboundMessage, RawDelivery, Rejected, adapter_for, read_delivery
from channels.calls import call_event_record
from channels.models import Channel, ChannelKind, InboundEvent
from crm.models import Membership
from crm.services import system_actor, timeline_record
from intake.matching import Keys, inquiry_keys
from intake.services import Inquiry, inquiry_receive, sender_blocked
from leads.models import LeadState

Status = InboundEvent.Status
Outcome = InboundEvent.Outcome
# Channels whose messages the sender can edit (the adapter sets `edit_of`).
EDITABLE = {ChannelKind.TELEGRAM}


def _inbound_data(channel: Channel, event: InboundEvent, message: InboundMessage) -> dict:
    data: dict[str, Any] = {"channel": channel.name, "channel_id": channel.pk, "event_id": event.pk}
    for key in ("page_url", "consent", "start_param", "ad"):
        if getattr(message, key):
            data[key] = getattr(message, key)
    return data


def _apply_edit(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """The sender edited an earlier message (`edit_of`): note the new text on the record the
    original made and update the lead's message (`_record_edit`).

    Providers may send an edit before its message (a webhook retried out of order): an
    original stored after the edit counts too, waited for while pending like the earlier
    versions; an edit of a message not stored yet is ignored, and applied when the original
    comes (`_apply_early_edits`)."""
    versions = InboundEvent.objects.filter(
        channel=event.channel, external_id=message.edit_of[:200]
    ).filter(Q(pk__lt=event.pk) | Q(pk__gt=event.pk, message__edit_of__isnull=True))
    if versions.filter(status=Status.PENDING).exists():  # retried once those are processed
        raise RuntimeError("An earlier version of the edited message is not processed yet.")
    versions = list(versions.filter(status=Status.DONE).order_by("pk"))
    original = versions[0] if versions else None
    if original is None or not (original.lead or original.deal or original.contact):
        event.status, event.detail = Status.IGNORED, _("An edit of a message not known here.")
        return
    texts = [version.message.get("message", "") for version in versions]
    # A newer edit already applied (by the sender's edit time, then the provider's update
    # number within one second) keeps the lead's text.
    mine = _edit_rank(event, message.occurred_at)
    stale = bool(message.occurred_at) and any(
        _edit_rank(v, v.message.get("occurred_at", "")) > mine
        for v in versions
        if v.message.get("edit_of") and v.message.get("occurred_at")
    )
    _record_edit(event, message, actor, original, texts, stale=stale)


def _edit_rank(event: InboundEvent, occurred_at: str) -> tuple[str, int]:
    """An edit's place among the sender's edits: its time, then the provider's increasing
    update number ("update:<n>", Telegram) for edits within one second."""
    number = event.key.rpartition(":")[2]
    return occurred_at, int(number) if number.isdigit() else 0


def _record_edit(
    event: InboundEvent,
    message: InboundMessage,
    actor: Membership,
    original: InboundEvent,
    texts: list[str],
    *,
    stale: bool = False,
) -> None:
    """Note the edit (`event`) on the record `original` made; the lead's message follows it
    unless someone changed that message meanwhile (it is none of the sender's `texts`, the
    versions processed so far — in whatever order they came) or the edit is `stale` (a
    newer one of the sender's is applied already)."""
    lead = original.lead
    follows = (
        not stale
        and lead is not None
        and lead.message in texts
        and lead.state != LeadState.CONVERTED
    )
    old = lead.message if follows else texts[-1]
    timeline_record(
        actor=actor,
        target=original.lead or original.deal or original.contact,
        kind="inbound.edited",
        data={
            "channel": event.channel.name,
            "old": old[:300],
            "message": message.message,
            "inbound": _inbound_data(event.channel, event, message),
        },
    )
    conversations.inbound_edited(original, message.message)
    if follows:
        lead.message = message.message
        lead.save(update_fields=["message", "updated_at"])
    event.status, event.outcome, event.detail = Status.DONE, Outcome.UPDATED, ""
    event.lead, event.deal, event.contact = original.lead, original.deal, original.contact


def _apply_early_edits(event: InboundEvent, message: InboundMessage, actor: Membership) -> None:
    """Edits of `event`'s message that came before it and were ignored as unknown: applied
    now, oldest edit first, so the record ends with the latest text (each edit's event
    done)."""
    early = InboundEvent.objects.filter(
        channel=event.channel,
        external_id=event.external_id,
        pk__lt=event.pk,
        # Ignored (no message to edit yet), or failed waiting for it while it was pending.
        status__in=(Status.IGNORED, Status.FAILED),
        message__edit_of=event.external_id,
    )
    texts = [message.message]
    # In the sender's order of editing where the provider says it, else as they came.
    for edit in sorted(
        early, key=lambda e: (*_edit_rank(e, e.message.get("occurred_at", "")), e.pk)
    ):
        edited = InboundMessage.from_json(edit.message)
        _record_edit(edit, edited, actor, event, texts)
        edit.save(
            update_fields=["status", "outcome", "detail", "lead", "deal", "contact", "updated_at"]
        )
        texts.append(edited.message)


def _status_report(event: InboundEvent, message: InboundMessage) -> None:
    """A provider's report on a reply sent from a card (`external_id`: its id there,
    `event`: sent / delivered / read / failed, `properties`: the provider's `error` and
    our `key` when it echoes it back) moves that message's status forward."""
    found = conversations.status_report(
        channel=event.channel,
        external_id=message.external_id,
        status=message.event,
        at=_occurred_at(message) or event.created_at,
        error=str(message.properties.get("error") or ""),
        key=str(message.properties.get("key") or ""),
    )
    if message.event == "read" and message.properties.get("earlier_read"):
        # The mark covers what came before, even when the message read was written outside
        # the CRM (in VK's own interface).
        found = (
            conversations.replies_read_up_to(
                channel=event.channel,
                external_id=message.external_id,
                at=_occurred_at(message) or event.created_at,
            )
            > 0
            or found
        )
    event.status = Status.DONE if found else Status.IGNORED
    event.detail = "" if found else _("A status of a message not sent from the CRM.")


def _inquiry(channel: Channel, event: InboundEvent, message: InboundMessage) -> Inquiry:
    """The delivery's message as intake takes it, with the channel's settings."""
    return Inquiry(
        data=message.lead_data(),
        source=message.source,
        kind=message.kind,
        event=message.event,
        properties=message.properties,
        inbound=_inbound_data(channel, event, message),
        channel_id=channel.pk,
        default_owner=channel.default_owner,
        create_deal=channel.create_deal,
        own_phone=message.own_phone,
        at=_occurred_at(message) or event.created_at,
    )


def _occurred_at(message: InboundMessage) -> datetime | None:
    try:
        return datetime.fromisoformat(message.occurred_at) if message.occurred_at else None
    except ValueError:
        return None


def inquiry_keys_of(event: InboundEvent) -> Keys:
    """The match keys of a stored delivery's message (as read at the endpoint)."""
    return inquiry_keys(event.message or {}, event.channel.tenant.default_region)


def process(event: InboundEvent) -> None:
    """Turn a stored delivery into CRM records; sets the event's status and outcome (the
    caller saves it). Domain refusals (no way to reach the person…) end as rejected. Runs
    in the workspace's language: notes added to a lead and refusals read in it."""
    with translation.override(event.channel.tenant.language):
        _process(event)
        if event.outcome != Outcome.UPDATED:  # a message of the person's conversation
            conversations.inbound_record(event)


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
        call_event_record(event=event, message=message, actor=actor)
        return
    if message.kind == "status":  # the fate of a message we sent (delivered, read, failed)
        _status_report(event, message)
        return
    if message.edit_of:
        # A blocked sender's edits stop here too (intake refuses the rest of theirs).
        if blocked := sender_blocked(actor=actor, data=message.lead_data()):
            event.status, event.detail = Status.SPAM, blocked
            return
        _apply_edit(event, message, actor)
        return
    inquiry = _inquiry(channel, event, message)
    mail = None
    if channel.kind == ChannelKind.EMAIL:  # replies join their thread; files are kept
        mail = mailintake.mail_of(event)
        if not sender_blocked(actor=actor, data=inquiry.data) and mailintake.thread_reply(
            event, message, mail, actor
        ):
            return
        inquiry.inbound.update(mailintake.inbound_extras(mail))
    receipt = inquiry_receive(actor=actor, inquiry=inquiry)
    event.status, event.outcome, event.detail = receipt.status, receipt.outcome, receipt.detail
    event.lead, event.deal, event.contact = receipt.lead, receipt.deal, receipt.contact
    if channel.kind in EDITABLE and receipt.status == Status.DONE and event.external_id:
        _apply_early_edits(event, message, actor)
    if mail is not None and receipt.status == Status.DONE:
        mailintake.keep_attachments(event, mail, receipt.lead or receipt.deal or receipt.contact)
