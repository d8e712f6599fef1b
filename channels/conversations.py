"""Conversations: the messages exchanged with a person, on the cards of their lead, deal and
contact, and the replies members send from those cards.

Inbound messages are recorded when the pipeline has put a delivery on a record
(`inbound_record`); they count as unread for the record's responsible and make the person
"waiting for our answer" until a reply goes out. A reply (`reply_queue`) is recorded first,
under its own key, and sent by the worker after the commit (`message_deliver`, three short
transactions around the provider's call), so a retry never sends it twice; the sweeper
(`messages_sweep`) queues what is due again and settles sends whose worker died.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Coalesce
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels import outbound
from channels.adapters import adapter_for
from channels.models import Channel, ChannelKind, InboundEvent, Message, ReplyTemplate
from contacts.models import Contact
from crm.access import AccessDenied, Action, Scope, can, scope_for, scope_queryset
from crm.attachments import attachment_store
from crm.celery import task_named
from crm.errors import DomainError
from crm.models import Attachment, Membership, Tenant
from crm.notifications import notify
from crm.tenancy import current_tenant, tenant_context
from crm.urlnames import tenant_reverse
from deals.models import Deal
from deals.models import Outcome as DealOutcome
from leads.models import OPEN_STATES, Lead

logger = logging.getLogger(__name__)

Status = Message.Status
Direction = Message.Direction
Record = Lead | Deal | Contact

# Kinds whose inbound messages make a conversation (their people can be answered).
CONVERSATION_KINDS = (
    ChannelKind.TELEGRAM,
    ChannelKind.WHATSAPP,
    ChannelKind.VK,
    ChannelKind.EMAIL,
)
# The messages a card shows (the newest; older ones stay in the records' timelines).
THREAD_SIZE = 100
# WhatsApp's customer-service window: free-form replies within 24 hours of the person's
# last message, only an approved template after it.
WHATSAPP_WINDOW = timedelta(hours=24)
# Retry delays of a send the provider did not take (seconds; the last repeats).
BACKOFF = (10, 30, 60, 120, 300, 600, 900, 1200, 1800)
# The longest delay a provider's Retry-After may impose on one attempt.
MAX_PROVIDER_DELAY = 3600


# --- Reading ---------------------------------------------------------------------------------


def thread_q(record: Record, actor: Membership | None = None) -> Q:
    """The messages of `record`'s person: the record's own, those of its contact (a
    converted lead's or a deal's person) and of the contact's leads before they were
    converted. With `actor`: only those on leads and deals the actor may see (a contact is
    shared more widely than its leads and deals)."""
    if isinstance(record, Lead):
        query = Q(lead_id=record.pk)
        if record.contact_id:
            query |= _person_q(record.contact_id)
    elif isinstance(record, Deal):
        # Its own, those of the lead it was converted from, and its person's.
        query = Q(deal_id=record.pk) | Q(lead_id__in=Lead.objects.filter(deal=record).values("pk"))
        if record.contact_id:
            query |= _person_q(record.contact_id)
    else:
        query = _person_q(record.pk)
    return query & _visible_q(actor) if actor is not None else query


def _visible_q(actor: Membership) -> Q:
    """Messages on no lead or deal, or on ones the actor may view."""
    visible = Q()
    for model, field in ((Lead, "lead_id"), (Deal, "deal_id")):
        if scope_for(actor, model.access_entity, Action.VIEW) == Scope.ALL:
            continue
        rows = scope_queryset(model.objects.all(), actor=actor, action=Action.VIEW)
        visible &= Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__in": rows.values("pk")})
    return visible


def _person_q(contact_id: int) -> Q:
    """A contact's messages, and those of their leads written before the conversion."""
    converted = Lead.objects.filter(contact_id=contact_id).values("pk")
    return Q(contact_id=contact_id) | Q(lead_id__in=converted)


def thread(record: Record, actor: Membership) -> list[Message]:
    """The record's conversation as `actor` may see it, oldest first (the latest
    THREAD_SIZE messages), each with its author, its file and (`files`) the files its
    delivery brought: three queries."""
    newest = (
        Message.objects.filter(thread_q(record, actor))
        .select_related("author__user", "attachment")
        .order_by("-created_at", "-pk")[:THREAD_SIZE]
    )
    messages = list(reversed(newest))
    event_ids = [m.event_id for m in messages if m.event_id]
    files: dict[int, list[Attachment]] = {}
    if event_ids:
        for attachment in Attachment.objects.filter(event_id__in=event_ids).order_by("pk"):
            files.setdefault(attachment.event_id, []).append(attachment)
    for message in messages:
        message.files = files.get(message.event_id, []) if message.event_id else []
        if message.attachment is not None:
            message.files = [message.attachment]
    return messages


def thread_version(record: Record, actor: Membership) -> str:
    """A short text that changes whenever the record's thread does (a message added, a
    status or text changed, the unread or waiting state): what a polling card compares."""
    found = Message.objects.filter(thread_q(record, actor)).aggregate(
        count=Count("pk"), changed=Max("updated_at")
    )
    changed = found["changed"].timestamp() if found["changed"] else 0
    waiting = getattr(record, "waiting_since", None)
    state = f"{getattr(record, 'unread_messages', 0)}-{waiting.timestamp() if waiting else 0}"
    return f"{found['count']}-{changed:.6f}-{state}"


@dataclass(frozen=True)
class Route:
    """A way to answer: a channel and the person's address in it."""

    channel: Channel
    address: str
    last_inbound_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.channel.pk}:{self.address}"

    @property
    def needs_template(self) -> bool:
        """WhatsApp outside the 24-hour window (or never written to): only a template."""
        if self.channel.kind != ChannelKind.WHATSAPP:
            return False
        last = self.last_inbound_at
        return last is None or timezone.now() - last > WHATSAPP_WINDOW

    @property
    def window_closes_at(self) -> datetime | None:
        if self.channel.kind != ChannelKind.WHATSAPP or self.needs_template:
            return None
        return self.last_inbound_at + WHATSAPP_WINDOW if self.last_inbound_at else None


def _record_emails(record: Record) -> list[str]:
    if isinstance(record, Lead):
        return [record.email] if record.email else []
    contact = record.contact if isinstance(record, Deal) else record
    return list(contact.emails or []) if contact is not None else []


def _record_phone(record: Record) -> str:
    if isinstance(record, Lead):
        return record.phone_e164
    contact = record.contact if isinstance(record, Deal) else record
    if contact is None:
        return ""
    return next((p for p in contact.phones or [] if p.startswith("+")), "")


def reply_routes(record: Record, actor: Membership) -> list[Route]:
    """Where a reply to `record`'s person may go, the channel they last wrote from first:
    every (channel, address) they wrote from, then their e-mail addresses through the
    workspace's e-mail channels and their phone through its WhatsApp channels (a template
    only, outside the window). Only enabled channels that can send now."""
    usable = {
        channel.pk: channel
        for channel in Channel.objects.filter(enabled=True, kind__in=CONVERSATION_KINDS)
        if not adapter_for(channel.kind).reply_problem(channel)
    }
    routes: list[Route] = []
    seen: set[tuple[int, str]] = set()
    written = (
        Message.objects.filter(
            thread_q(record, actor), direction=Direction.IN, channel__in=list(usable)
        )
        .exclude(address="")
        .values("channel_id", "address")
        .annotate(last=Max("created_at"))
        .order_by("-last")[:20]
    )
    for row in written:
        seen.add((row["channel_id"], row["address"]))
        routes.append(Route(usable[row["channel_id"]], row["address"], row["last"]))
    extra: list[tuple[Channel, str]] = []
    for channel in usable.values():
        if channel.kind == ChannelKind.EMAIL:
            extra.extend((channel, email.strip().lower()) for email in _record_emails(record))
        elif channel.kind == ChannelKind.WHATSAPP and (phone := _record_phone(record)):
            extra.append((channel, phone.lstrip("+")))
    for channel, address in extra:
        if address and (channel.pk, address) not in seen:
            seen.add((channel.pk, address))
            routes.append(Route(channel, address, _last_inbound(channel, address)))
    return routes


def _last_inbound(channel: Channel, address: str) -> datetime | None:
    """When the person at `address` last wrote to `channel`, on any record."""
    return Message.objects.filter(
        channel=channel, address=address, direction=Direction.IN
    ).aggregate(last=Max("created_at"))["last"]


def unread_count(*, member: Membership, section: str) -> int:
    """How many of `member`'s leads (`inbox`) or deals (`deals`) have unread messages."""
    if section == "inbox":
        leads = Lead.objects.filter(owner=member, unread_messages__gt=0, deleted_at=None)
        return leads.filter(state__in=OPEN_STATES).count()
    if section == "deals":
        deals = Deal.objects.filter(owner=member, unread_messages__gt=0)
        return deals.filter(outcome=DealOutcome.OPEN).count()
    return 0


def may_reply(record: Record, actor: Membership) -> bool:
    return can(record, actor=actor, action=Action.REPLY)


def template_get(template_id: str | int) -> ReplyTemplate | None:
    """A saved reply by its id as a form sent it (None for anything else)."""
    text = str(template_id).strip()
    return ReplyTemplate.objects.filter(pk=int(text)).first() if text.isdigit() else None


def template_list() -> list[ReplyTemplate]:
    return list(ReplyTemplate.objects.all())


def templates_for(language: str) -> list[ReplyTemplate]:
    """The workspace's saved replies for a page in `language` (and those for any)."""
    return list(ReplyTemplate.objects.filter(language__in=("", language)))


# --- Placeholders ----------------------------------------------------------------------------

PLACEHOLDERS = {
    "client_name": ("client_name", "имя_клиента"),
    "manager_name": ("manager_name", "имя_менеджера"),
    "deal_amount": ("deal_amount", "сумма_сделки"),
}
_PLACEHOLDER = re.compile(r"\{\s*([\w]+)\s*\}")


def _placeholder_name(word: str) -> str:
    word = word.lower()
    return next((name for name, words in PLACEHOLDERS.items() if word in words), "")


def placeholder_values(record: Record, actor: Membership) -> dict[str, str]:
    """What the placeholders stand for on `record`, written by `actor`."""
    if isinstance(record, Lead):
        client = record.name or record.title
        amount: Decimal | None = record.amount or None
        currency = record.currency
    elif isinstance(record, Deal):
        client = str(record.contact) if record.contact_id else record.title
        amount, currency = record.amount or None, record.currency
    else:
        client, amount, currency = str(record), None, ""
    user = actor.user
    manager = (user.get_full_name() or "").strip() or str(user)
    shown = ""
    if amount is not None:
        shown = f"{amount:,.2f}".replace(",", "\u00a0").replace(".00", "")
        shown = f"{shown} {currency}".strip()
    return {"client_name": client.strip(), "manager_name": manager, "deal_amount": shown}


def fill(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with its placeholders replaced (English or Russian names, any case); unknown
    braces are left as typed. Also the values in the order they appear (WhatsApp template
    parameters)."""
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = _placeholder_name(match.group(1))
        if not name:
            return match.group(0)
        used.append(values.get(name, "") or "—")
        return values.get(name, "")

    return _PLACEHOLDER.sub(replace, text), used


# --- Inbound -----------------------------------------------------------------------------------


def inbound_record(event: InboundEvent) -> Message | None:
    """Put a processed delivery's message into its person's conversation (once per
    delivery): the record's responsible has it unread and the person waits for an answer.
    Only messages of conversation channels that landed on a record."""
    channel = event.channel
    if channel.kind not in CONVERSATION_KINDS or event.status != InboundEvent.Status.DONE:
        return None
    if not (event.lead_id or event.deal_id or event.contact_id):
        return None
    data = event.message or {}
    text = str(data.get("message") or "")
    message, created = Message.objects.get_or_create(
        event=event,
        defaults={
            "channel": channel,
            "channel_kind": channel.kind,
            "channel_name": channel.name,
            "direction": Direction.IN,
            "status": Status.RECEIVED,
            "lead_id": event.lead_id,
            "deal_id": event.deal_id,
            "contact_id": event.contact_id,
            "address": adapter_for(channel.kind).reply_address(data)[:254],
            "subject": str(data.get("title") or "")[:300]
            if channel.kind == ChannelKind.EMAIL
            else "",
            "text": text,
            "external_id": event.external_id,
            "references": _references(data),
        },
    )
    if created:
        _mark_waiting(message, event.created_at)
        if data.get("files"):
            _queue_files_after_commit(message)
    return message


def _queue_files_after_commit(message: Message) -> None:
    task = task_named("channels.tasks.message_files_task")
    tenant_id, pk = message.tenant_id, message.pk
    transaction.on_commit(
        lambda: task.apply_async(kwargs={"tenant_id": tenant_id, "message_id": pk})
    )


def message_files_fetch(*, tenant_id: int, message_id: int, last: bool = True) -> bool:
    """Download the files a messenger's message brought and keep them on its record (the
    thread shows them), once; outside any transaction while downloading. A file over
    CHANNELS_SEND_MAX_FILE_BYTES, or one the provider refuses, is noted with the reason
    (the message itself is kept either way). Whether to try again later (the provider
    unreachable and not the `last` attempt)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        message = (
            Message.objects.select_related("channel", "event", "lead", "deal", "contact")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.event is None or message.channel is None:
            return False
        if Attachment.objects.filter(event_id=message.event_id).exists():
            return False
        files = list((message.event.message or {}).get("files") or [])[:10]
        record = message.lead or message.deal or message.contact
    if record is None or not files:
        return False
    adapter = adapter_for(message.channel.kind)
    limit = settings.CHANNELS_SEND_MAX_FILE_BYTES
    kept: list[tuple[dict[str, Any], bytes | None, str]] = []
    with translation.override(tenant.language):
        too_large = _("Not kept: larger than %(limit)s.") % {"limit": filesizeformat(limit)}
        for file in files:
            if int(file.get("size") or 0) > limit:
                kept.append((file, None, too_large))
                continue
            try:
                payload = adapter.fetch_file(message.channel, str(file.get("ref") or ""))
            except outbound.SendError as error:
                # A download asks nothing of the provider: one cut short is simply tried again.
                if isinstance(error, outbound.Retry | outbound.Unknown) and not last:
                    return True
                reason = _("Not downloaded: %(reason)s") % {"reason": error.reason}
                kept.append((file, None, reason))
                continue
            kept.append((file, None, too_large) if len(payload) > limit else (file, payload, ""))
    with tenant_context(tenant):
        # One run at a time stores them (a redelivered task overlapping a retry).
        Message.objects.select_for_update().filter(pk=message.pk).first()
        if Attachment.objects.filter(event_id=message.event_id).exists():
            return False  # another run kept them meanwhile
        for file, payload, skipped in kept:
            attachment_store(
                target=record,
                filename=str(file.get("name") or "file"),
                content_type=str(file.get("type") or ""),
                payload=payload,
                event_id=message.event_id,
                skipped=skipped,
                size=len(payload) if payload is not None else int(file.get("size") or 0),
            )
        # The open cards' threads see a change (their version) and show the files.
        Message.objects.filter(pk=message.pk).update(updated_at=timezone.now())
    return False


def _references(data: dict) -> str:
    """An e-mail's References (kept in its properties), space-separated: a reply to it
    carries them on with its Message-ID."""
    properties = data.get("properties")
    found = properties.get("references") if isinstance(properties, dict) else None
    found = found if found is not None else data.get("references")
    if isinstance(found, list):
        return " ".join(str(mid) for mid in found if mid)[-4000:]
    return str(found or "")[-4000:]


def _mark_waiting(message: Message, at: datetime) -> None:
    for model, pk in ((Lead, message.lead_id), (Deal, message.deal_id)):
        if pk:
            model.objects.filter(pk=pk).update(
                unread_messages=F("unread_messages") + 1,
                waiting_since=Coalesce(F("waiting_since"), models.Value(at)),
            )


def inbound_edited(event: InboundEvent, text: str) -> None:
    """The person edited a message (`event`: its first delivery): the thread shows the new
    text."""
    Message.objects.filter(event=event).update(text=text, updated_at=timezone.now())


def _thread_records(
    record: Record, actor: Membership | None
) -> tuple[models.QuerySet[Lead], models.QuerySet[Deal]]:
    """The leads and deals a thread's messages are on (and the record itself): answering
    or reading from one card answers or reads the person on all of them."""
    messages = Message.objects.filter(thread_q(record, actor))
    found = []
    for model, field in ((Lead, "lead_id"), (Deal, "deal_id")):
        on = Q(pk__in=messages.exclude(**{field: None}).values(field))
        if isinstance(record, model):
            on |= Q(pk=record.pk)
        found.append(model.objects.filter(on))
    return found[0], found[1]


def thread_seen(*, actor: Membership, record: Record) -> None:
    """The responsible (or, for records nobody owns, anyone who may answer) opened the
    conversation: nothing in it is unread for them any more — on every lead and deal of
    the thread they are responsible for."""
    mine = Q(owner=actor)
    if may_reply(record, actor):
        mine |= Q(owner=None)
    for rows in _thread_records(record, actor):
        rows.filter(mine, unread_messages__gt=0).update(unread_messages=0)
    if getattr(record, "owner_id", None) == actor.pk or (
        getattr(record, "owner_id", 0) is None and may_reply(record, actor)
    ):
        record.unread_messages = 0


def _answered(record: Record, actor: Membership) -> None:
    for rows in _thread_records(record, actor):
        rows.filter(Q(unread_messages__gt=0) | Q(waiting_since__isnull=False)).update(
            unread_messages=0, waiting_since=None, waiting_alerted_at=None
        )


def answered(*, actor: Membership, record: Record) -> None:
    """Someone who may answer says the person needs no answer ("no reply needed"): they
    no longer wait, and nothing is unread, on any lead or deal of the thread."""
    if not may_reply(record, actor):
        raise AccessDenied
    _answered(record, actor)
    if not isinstance(record, Contact):
        record.unread_messages, record.waiting_since = 0, None


# --- Replies -----------------------------------------------------------------------------------


def _route_for(record: Record, actor: Membership, route_key: str) -> Route:
    for route in reply_routes(record, actor):
        if route.key == route_key:
            return route
    raise DomainError(_("This way to answer is not available any more: choose another."))


def _email_thread(record: Record, actor: Membership, route: Route) -> tuple[str, str, str]:
    """(subject, In-Reply-To, References) of an e-mail reply: the person's latest message
    to that channel in this thread, or a new subject."""
    latest = (
        Message.objects.filter(
            thread_q(record, actor), channel=route.channel, address=route.address
        )
        .filter(  # what the client has: their letters and our replies that went out
            Q(direction=Direction.IN) | Q(status__in=(Status.SENT, Status.DELIVERED, Status.READ))
        )
        .exclude(external_id="")
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None:
        title = getattr(record, "title", "") or str(record)
        return title[:300], "", ""
    subject = latest.subject or getattr(record, "title", "")
    if subject and not re.match(r"^\s*(re|ответ|на)\s*:", subject, re.IGNORECASE):
        subject = f"Re: {subject}"
    references = " ".join([*latest.references.split(), latest.external_id])
    return subject[:300], latest.external_id, references[-4000:]


def reply_queue(
    *,
    actor: Membership,
    record: Record,
    route_key: str,
    text: str,
    template: ReplyTemplate | None = None,
    file: UploadedFile | None = None,
) -> Message:
    """Record a reply to `record`'s person through the chosen route and queue its sending
    after the commit. It is the record's first response when none was given yet, and the
    person no longer waits. Refusals (DomainError) leave nothing written."""
    if not may_reply(record, actor):
        raise AccessDenied
    route = _route_for(record, actor, route_key)
    adapter = adapter_for(route.channel.kind)
    values = placeholder_values(record, actor)
    text, params = fill((text or "").strip(), values)
    if route.needs_template:
        if template is None or not template.whatsapp_name:
            raise DomainError(
                _(
                    "More than 24 hours since the client last wrote to WhatsApp: only an "
                    "approved template can be sent. Choose a template."
                )
            )
        if file is not None:
            raise DomainError(
                _(
                    "More than 24 hours since the client last wrote to WhatsApp: an approved "
                    "template goes without a file. Send the template first; once the client "
                    "answers, send the file."
                )
            )
        text, params = fill(template.text, values)
    if not text and file is None:
        raise DomainError(_("Write a message or attach a file."))
    caption = adapter.max_caption if file is not None else None
    if caption is not None and len(text) > caption:
        raise DomainError(
            _(
                "With a file, %(channel)s takes at most %(count)s characters of text: send "
                "the file and the text separately."
            )
            % {"channel": route.channel.get_kind_display(), "count": caption}
        )
    if len(text) > adapter.max_reply:
        raise DomainError(
            _("The message is too long for %(channel)s: at most %(count)s characters.")
            % {"channel": route.channel.get_kind_display(), "count": adapter.max_reply}
        )
    if file is not None and file.size > settings.CHANNELS_SEND_MAX_FILE_BYTES:
        raise DomainError(
            _("The file is larger than %(limit)s.")
            % {"limit": filesizeformat(settings.CHANNELS_SEND_MAX_FILE_BYTES)}
        )
    subject = in_reply_to = references = ""
    # An e-mail's Message-ID is ours from the start: the client's answer names it, and a
    # retry sends the same one. Kept without angle brackets, as received ids are (the
    # client's In-Reply-To is matched against it: channels.mailintake).
    external_id = adapter.new_message_id(route.channel)
    if route.channel.kind == ChannelKind.EMAIL:
        subject, in_reply_to, references = _email_thread(record, actor, route)
    attachment = None
    if file is not None:
        attachment = attachment_store(
            target=record,
            filename=file.name or "file",
            content_type=getattr(file, "content_type", "") or "",
            payload=file.read(),
        )
    now = timezone.now()
    waiting_since = getattr(record, "waiting_since", None)
    message = Message.objects.create(
        waited_seconds=int((now - waiting_since).total_seconds()) if waiting_since else None,
        channel=route.channel,
        channel_kind=route.channel.kind,
        channel_name=route.channel.name,
        direction=Direction.OUT,
        status=Status.QUEUED,
        lead=record if isinstance(record, Lead) else None,
        deal=record if isinstance(record, Deal) else None,
        contact=record if isinstance(record, Contact) else record.contact,
        author=actor,
        address=route.address,
        subject=subject,
        text=text,
        attachment=attachment,
        template=template,
        template_params=params if route.needs_template else [],
        external_id=external_id,
        in_reply_to=in_reply_to,
        references=references,
        next_attempt_at=now,
    )
    leads, _deals = _thread_records(record, actor)
    # The answer is the first response of the person's leads that had none (at the reply's
    # own time: taken back by that time should the reply fail, `_unanswer`).
    leads.filter(first_response_at=None, state__in=OPEN_STATES, deleted_at=None).update(
        first_response_at=message.created_at
    )
    _answered(record, actor)
    _queue_after_commit(message)
    return message


def _queue_after_commit(message: Message) -> None:
    task = task_named("channels.tasks.message_send_task")  # the tasks module imports this one
    tenant_id, pk = message.tenant_id, message.pk
    transaction.on_commit(
        lambda: task.apply_async(kwargs={"tenant_id": tenant_id, "message_id": pk})
    )


def reply_again(*, actor: Membership, record: Record, message_id: int) -> Message:
    """Send a failed (or possibly unsent) reply again: the same message, its attempts
    counted anew."""
    if not may_reply(record, actor):
        raise AccessDenied
    message = Message.objects.filter(thread_q(record, actor), pk=message_id).first()
    if message is None or message.direction != Direction.OUT:
        raise DomainError(_("No such message here."))
    # One statement decides, so two members clicking at once queue it once.
    again = Message.objects.filter(pk=message.pk, status__in=(Status.FAILED, Status.UNCERTAIN))
    if not again.update(
        status=Status.QUEUED,
        attempts=0,
        error="",
        next_attempt_at=timezone.now(),
        sending_since=None,
        updated_at=timezone.now(),
    ):
        raise DomainError(_("The message is not waiting to be sent again."))
    message.refresh_from_db()
    _queue_after_commit(message)
    return message


# --- Sending (the worker) -----------------------------------------------------------------------


def _delay(attempt: int, provider_delay: float | None) -> float:
    ours = BACKOFF[min(attempt, len(BACKOFF)) - 1]
    if provider_delay is not None:
        return min(max(provider_delay, 1.0), MAX_PROVIDER_DELAY)
    return float(ours)


def _claim(tenant: Tenant, message_id: int) -> tuple[Message, tuple[str, bytes] | None] | None:
    """Take a due queued message for one attempt (SENDING, committed before the call)."""
    with tenant_context(tenant):
        message = (
            # Only the message's row: PostgreSQL locks no nullable side of an outer join.
            Message.objects.select_for_update(of=("self",))
            # The adapter reads them outside the tenant's scope (RLS would hide them).
            .select_related("channel", "attachment", "template")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.status != Status.QUEUED:
            return None
        now = timezone.now()
        if message.next_attempt_at and message.next_attempt_at > now + timedelta(seconds=1):
            return None  # an early copy of a retry: the due one sends it
        if message.channel is None or not message.channel.enabled:
            message.status, message.error = Status.FAILED, _("The channel is off or deleted.")
            message.save(update_fields=["status", "error", "updated_at"])
            return None
        message.status, message.sending_since = Status.SENDING, now
        message.attempts += 1
        message.save(update_fields=["status", "sending_since", "attempts", "updated_at"])
        file = None
        if message.attachment is not None and message.attachment.file:
            try:
                with message.attachment.file.open("rb") as handle:
                    file = (message.attachment.filename, handle.read())
            except OSError:  # the stored file is gone: fail visibly, never loop
                message.status, message.sending_since = Status.FAILED, None
                message.error = _("The attached file cannot be read any more: attach it again.")
                message.save(update_fields=["status", "sending_since", "error", "updated_at"])
                return None
        return message, file


def message_deliver(*, tenant_id: int, message_id: int) -> float | None:
    """One attempt to send a queued reply; the delay before the next one, or None.

    Three steps so the provider's call holds no transaction: claim (QUEUED → SENDING,
    committed), call, record what came of it. A worker killed during the call leaves the
    message SENDING for the sweeper; never is it claimed twice at once."""
    tenant = Tenant.objects.get(pk=tenant_id)
    claimed = _claim(tenant, message_id)
    if claimed is None:
        return None
    message, file = claimed
    adapter = adapter_for(message.channel.kind)
    with translation.override(tenant.language):
        try:
            sent: outbound.Sent | None = adapter.send(message.channel, message, file)
            error: outbound.SendError | None = None
        except outbound.SendError as failure:
            sent, error = None, failure
        except Exception:  # a bug: the message fails visibly rather than waiting for ever
            logger.exception("Sending message %s failed.", message_id)
            sent, error = None, outbound.Refused(_("An internal error stopped the message."))
        with tenant_context(tenant):
            idempotent = adapter.may_send_again(message, timezone.now())
            return _settle(message, sent, error, idempotent=idempotent)


def _settle(
    message: Message,
    sent: outbound.Sent | None,
    error: outbound.SendError | None,
    *,
    idempotent: bool,
) -> float | None:
    fresh = Message.objects.select_for_update().filter(pk=message.pk).first()
    # Only this attempt's claim (its `sending_since`): a message sent again meanwhile, or
    # settled by a provider's echo, is left alone. A success still wins over the sweeper's
    # "may not have been sent" of this same attempt (a call that outlasted the lease).
    mine = fresh is not None and fresh.sending_since == message.sending_since
    if not mine or fresh.status not in (Status.SENDING, Status.UNCERTAIN):
        return None
    if fresh.status == Status.UNCERTAIN and sent is None:
        return None
    now = timezone.now()
    fields = ["status", "error", "sending_since", "next_attempt_at", "updated_at"]
    fresh.sending_since = None
    delay: float | None = None
    if sent is not None:
        fresh.status = Status.DELIVERED if sent.delivered else Status.SENT
        fresh.error, fresh.next_attempt_at, fresh.sent_at = "", None, now
        fresh.external_id = sent.external_id[:200] or fresh.external_id
        fields += ["sent_at", "external_id"]
        if sent.delivered:
            fresh.delivered_at = now
            fields.append("delivered_at")
    elif isinstance(error, outbound.Unknown) and not idempotent:
        fresh.status, fresh.next_attempt_at = Status.UNCERTAIN, None
        fresh.error = _(
            "%(reason)s The client may have received it: check the chat before sending again."
        ) % {"reason": error.reason}
    elif isinstance(error, outbound.Retry | outbound.Unknown):
        if fresh.attempts >= settings.CHANNELS_SEND_ATTEMPTS:
            fresh.status, fresh.next_attempt_at = Status.FAILED, None
            fresh.error = _("Not sent after %(count)s attempts: %(reason)s") % {
                "count": fresh.attempts,
                "reason": error.reason,
            }
        else:
            delay = _delay(fresh.attempts, getattr(error, "delay", None))
            fresh.status, fresh.error = Status.QUEUED, error.reason
            fresh.next_attempt_at = now + timedelta(seconds=delay)
    else:
        fresh.status, fresh.next_attempt_at = Status.FAILED, None
        fresh.error = error.reason if error is not None else ""
    fresh.save(update_fields=fields)
    if fresh.status == Status.FAILED:
        _unanswer(fresh)
    return delay


def _unanswer(message: Message) -> None:
    """A reply that failed answered nobody: unless a later reply of the thread went out,
    the person waits again since they waited, and the first response it gave its leads is
    taken back (the response-time escalation and the speed report see them unanswered)."""
    record = message.lead or message.deal or message.contact
    if record is None:
        return
    later = Message.objects.filter(
        thread_q(record), direction=Direction.OUT, created_at__gt=message.created_at
    ).exclude(status=Status.FAILED)
    if later.exists():
        return
    leads, deals = _thread_records(record, None)
    leads.filter(first_response_at=message.created_at).update(first_response_at=None)
    if message.waited_seconds is not None:
        since = message.created_at - timedelta(seconds=message.waited_seconds)
        for rows in (leads, deals):
            rows.filter(waiting_since=None).update(waiting_since=since)


def messages_sweep() -> int:
    """Inside a tenant (beat, every 30 s; the embedded scheduler too): queue the replies
    whose attempt is due (a lost publish, a retry without a broker), and settle those whose
    worker died while sending — sent again where the provider deduplicates, else "may not
    have been sent". How many were queued."""
    now = timezone.now()
    lease = now - timedelta(seconds=settings.CHANNELS_SEND_LEASE)
    stale = Message.objects.filter(status=Status.SENDING, sending_since__lt=lease).select_related(
        "channel"
    )
    for message in stale[:500]:
        idempotent = message.channel is not None and adapter_for(
            message.channel.kind
        ).may_send_again(message, now)
        if idempotent:
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                status=Status.QUEUED, sending_since=None, next_attempt_at=now, updated_at=now
            )
        else:
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
                # `sending_since` stays: the attempt's own late answer may still settle it.
                status=Status.UNCERTAIN,
                next_attempt_at=None,
                updated_at=now,
                error=_(
                    "The sending was interrupted; the client may have received the message: "
                    "check the chat before sending again."
                ),
            )
    _alert_waiting(now)
    # Due a while ago (a retry's own task normally takes it at its time).
    due = list(
        Message.objects.filter(
            status=Status.QUEUED, next_attempt_at__lte=now - timedelta(seconds=5)
        ).values_list("pk", flat=True)[:500]
    )
    tenant = current_tenant()
    for pk in due:
        _queue_after_commit(Message(pk=pk, tenant=tenant))
    return len(due)


def _alert_waiting(now: datetime) -> None:
    """Tell each responsible, once per wait, about their leads and deals whose person has
    waited for an answer longer than the workspace's response time."""
    tenant = current_tenant()
    minutes = tenant.response_sla_minutes if tenant is not None else 0
    if not minutes:
        return
    late = now - timedelta(minutes=minutes)
    with translation.override(tenant.language):
        for model, url_name in ((Lead, "leads:detail"), (Deal, "deals:detail")):
            rows = model.objects.filter(
                waiting_since__lte=late, waiting_alerted_at=None, owner__isnull=False
            )
            if model is Lead:
                rows = rows.filter(deleted_at=None, state__in=OPEN_STATES)
            else:
                rows = rows.filter(outcome=DealOutcome.OPEN)
            rows = rows.select_related("owner")[:200]
            for record in rows:
                notify(
                    recipients=[record.owner],
                    kind="conversation.waiting",
                    data={"title": record.title, "minutes": minutes},
                    url=tenant_reverse(url_name, tenant, pk=record.pk),
                )
            model.objects.filter(pk__in=[r.pk for r in rows]).update(waiting_alerted_at=now)


# --- Provider reports --------------------------------------------------------------------------

# Later states never go back to earlier ones (a "delivered" after a "read" changes nothing).
_RANK = {Status.SENT: 1, Status.DELIVERED: 2, Status.READ: 3}


def status_report(
    *, channel: Channel, external_id: str, status: str, at: datetime, error: str = "", key: str = ""
) -> bool:
    """A provider reports a sent message's fate (WhatsApp's statuses, VK's read marks):
    sent, delivered, read or failed. Matched by the provider's id, or by our key echoed
    back (a send whose worker died before recording the id). Statuses only move forward;
    whether a message was found."""
    messages = Message.objects.select_for_update().filter(channel=channel, direction=Direction.OUT)
    found = messages.filter(external_id=external_id).first() if external_id else None
    if found is None and key:
        try:
            found = messages.filter(key=uuid.UUID(key)).first()
        except ValueError:
            found = None
    if found is None:
        return False
    fields = ["status", "updated_at"]
    if external_id and found.external_id != external_id:
        found.external_id = external_id[:200]
        fields.append("external_id")
    if status == "failed":
        if found.status in (Status.READ, Status.DELIVERED):
            return True
        found.status, found.error = (
            Status.FAILED,
            error[:500] or _("The provider did not deliver it."),
        )
        fields.append("error")
    else:
        wanted = {"sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ}.get(
            status
        )
        if wanted is None:
            return True
        if found.status in (Status.SENDING, Status.QUEUED, Status.UNCERTAIN):
            found.sent_at = found.sent_at or at
            found.sending_since, found.next_attempt_at, found.error = None, None, ""
            fields += ["sent_at", "sending_since", "next_attempt_at", "error"]
        elif _RANK.get(found.status, 0) >= _RANK[wanted] or found.status == Status.FAILED:
            return True
        found.status = wanted
        if wanted in (Status.DELIVERED, Status.READ) and found.delivered_at is None:
            found.delivered_at = at
            fields.append("delivered_at")
        if wanted == Status.READ:
            found.read_at = at
            fields.append("read_at")
    found.save(update_fields=list(dict.fromkeys(fields)))
    if found.status == Status.FAILED:
        _unanswer(found)
    return True


def replies_read_up_to(*, channel: Channel, external_id: str, at: datetime) -> int:
    """A read mark that covers the conversation up to one message (VK's `message_read`,
    ids "vk:<peer>:<number>", numbered in order in the person's dialog): the replies sent
    to that person through `channel` up to that number, still sent or delivered, are read
    too — also when the message read was written outside the CRM. How many changed."""
    peer, _sep, number = external_id.removeprefix("vk:").rpartition(":")
    if not peer or not number.isdigit():
        return 0
    unread = Message.objects.filter(
        channel=channel,
        direction=Direction.OUT,
        address=peer,
        status__in=(Status.SENT, Status.DELIVERED),
        external_id__startswith=f"vk:{peer}:",
    ).values_list("pk", "external_id")[:500]
    covered = [
        pk
        for pk, sent_id in unread
        if sent_id.rpartition(":")[2].isdigit() and int(sent_id.rpartition(":")[2]) <= int(number)
    ]
    return Message.objects.filter(pk__in=covered).update(
        status=Status.READ,
        read_at=at,
        delivered_at=Coalesce(F("delivered_at"), models.Value(at)),
        updated_at=timezone.now(),
    )
