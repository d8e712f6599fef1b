"""What the pipeline does with an e-mail besides the shared steps: threads and files.

A reply (In-Reply-To / References naming a message already received by an e-mail channel
of the workspace, or a reply sent from a card) joins the lead or deal that message went
to, while it is open, even from another address; otherwise the sender is matched as any
inquiry is (by address, any letter case). The message's files are kept on the record it
lands on, within the CHANNELS_EMAIL_* limits (a file over them is noted as skipped: the
inquiry still lands), and its sanitized HTML version travels with the timeline entry.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from channels.adapters import InboundMessage, RawDelivery
from channels.adapters.email import read_mail
from channels.mailparse import ParsedMail
from channels.models import Channel, ChannelKind, InboundEvent, Message
from crm.attachments import attachment_store
from crm.models import Membership
from crm.sources import LeadSource
from deals.models import Deal
from deals.models import Outcome as DealOutcome
from intake.services import inquiry_join
from leads.models import OPEN_STATES, Lead

Status = InboundEvent.Status
# The largest HTML version kept with a timeline entry (larger: the text only).
MAX_TIMELINE_HTML = 50_000


def mail_of(event: InboundEvent) -> ParsedMail:
    """The stored delivery's message, read again (the worker reads what the endpoint read)."""
    return read_mail(RawDelivery.from_event(event))[1]


def inbound_extras(mail: ParsedMail) -> dict[str, Any]:
    """What the timeline entry keeps of the message besides the shared fields."""
    extras: dict[str, Any] = {"subject": mail.subject}
    if mail.attachments:
        extras["attachments"] = str(len(mail.attachments))
    if mail.html and len(mail.html) <= MAX_TIMELINE_HTML:
        extras["html"] = mail.html
    return extras


def _thread_record(event: InboundEvent, mail: ParsedMail) -> Lead | Deal | None:
    """The open lead (or deal) that received a message this one replies to, or None."""
    wanted = list(dict.fromkeys([*mail.in_reply_to, *reversed(mail.references)]))[:40]
    wanted = [mid[:200] for mid in wanted if mid != mail.message_id]
    if not wanted:
        return None
    channels = Channel.objects.filter(kind=ChannelKind.EMAIL).values("pk")
    earlier = (
        InboundEvent.objects.filter(
            channel__in=channels, external_id__in=wanted, status=Status.DONE
        )
        .exclude(pk=event.pk)
        .select_related("lead", "deal")
        .order_by("-pk")
    )
    # Replies sent from a card carry our Message-ID (channels.conversations.reply_queue).
    sent = (
        Message.objects.filter(
            direction=Message.Direction.OUT,
            channel_kind=ChannelKind.EMAIL,  # a Telegram or VK id is no e-mail's to name
            external_id__in=wanted,
        )
        .select_related("lead", "deal")
        .order_by("-pk")
    )
    for found in [*earlier[:10], *sent[:10]]:
        lead, deal = found.lead, found.deal
        if lead is not None and lead.deleted_at is None and lead.state in OPEN_STATES:
            return lead
        if deal is not None and deal.outcome == DealOutcome.OPEN:
            return deal
    return None


def thread_reply(
    event: InboundEvent, message: InboundMessage, mail: ParsedMail, actor: Membership
) -> bool:
    """Put a reply on the open record of its thread (through intake, as any attached
    inquiry); whether it was one."""
    record = _thread_record(event, mail)
    if record is None:
        return False
    inbound = {
        "channel": event.channel.name,
        "channel_id": event.channel_id,
        "event_id": event.pk,
        **inbound_extras(mail),
    }
    inquiry_join(
        actor=actor,
        record=record,
        data=message.lead_data(),
        source=LeadSource.EMAIL,
        inbound=inbound,
    )
    is_lead = isinstance(record, Lead)
    event.status, event.outcome = Status.DONE, InboundEvent.Outcome.ATTACHED
    event.lead = record if is_lead else None
    event.deal = record if not is_lead else None
    event.contact = record.contact
    keep_attachments(event, mail, record)
    return True


def keep_attachments(event: InboundEvent, mail: ParsedMail, record: models.Model | None) -> None:
    """Store the message's files on `record`, within the size and count limits."""
    if record is None or not mail.attachments:
        return
    per_file = settings.CHANNELS_EMAIL_MAX_ATTACHMENT_BYTES
    per_message = settings.CHANNELS_EMAIL_MAX_ATTACHMENTS_BYTES
    most = settings.CHANNELS_EMAIL_MAX_ATTACHMENTS
    total = 0
    for index, file in enumerate(mail.attachments):
        size = len(file.payload)
        skipped = ""
        if index >= most:
            skipped = _("Not kept: more than %(count)s files in one message.") % {"count": most}
        elif size > per_file:
            skipped = _("Not kept: larger than %(limit)s.") % {"limit": filesizeformat(per_file)}
        elif total + size > per_message:
            skipped = _("Not kept: the message's files together exceed %(limit)s.") % {
                "limit": filesizeformat(per_message)
            }
        else:
            total += size
        attachment_store(
            target=record,
            filename=file.filename,
            content_type=file.content_type,
            payload=None if skipped else file.payload,
            event_id=event.pk,
            skipped=skipped,
            size=size,
        )
