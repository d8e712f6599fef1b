"""Inbound channels: a tenant's channel settings and every raw delivery it received.

`Channel` is per tenant. Its public endpoint `/in/<token>/` is found through
`ChannelRoute`, a global table (no tenant yet when a provider calls) that maps the token to
the tenant and the channel. `InboundEvent` stores each delivery once per channel (unique
idempotency key), before the endpoint answers 2xx: it is the source of truth the worker and
the sweeper process.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.tenancy import TenantModel


def new_token() -> str:
    """A public, unguessable endpoint token."""
    return secrets.token_urlsafe(18)


def new_secret() -> str:
    """A shared secret (API bearer token, webhook secret)."""
    return secrets.token_urlsafe(32)


class ChannelKind(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    TELEGRAM = "telegram", _("Telegram bot")
    EMAIL = "email", _("E-mail")
    TWILIO = "twilio", _("Twilio (calls)")
    ZADARMA = "zadarma", _("Zadarma (calls)")
    PBX = "pbx", _("Phone system (calls, JSON)")
    WHATSAPP = "whatsapp", _("WhatsApp")
    VK = "vk", _("VK community")


# Kinds whose deliveries are call events (channels/calls.py).
TELEPHONY_KINDS = (ChannelKind.TWILIO, ChannelKind.ZADARMA, ChannelKind.PBX)


class Channel(TenantModel):
    """Where inquiries come from: a web form, the API, a Telegram bot, WhatsApp, VK…"""

    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=120)
    enabled = models.BooleanField(_("enabled"), default=True)
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    secret = models.CharField(max_length=128, default=new_secret, editable=False)
    # Kind options (allowed origins, field mapping, bot token, texts…): see channels/adapters.
    config = models.JSONField(default=dict, blank=True)
    default_owner = models.ForeignKey(
        "crm.Membership",
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Every new lead goes to this person; empty: the assignment rules decide."),
    )
    create_deal = models.BooleanField(
        _("create a deal for every submission"),
        default=False,
        help_text=_("Besides the lead, open a deal with its contact at once."),
    )
    # Health (channels/health.py): what keeps the channel from working (a mailbox refusing
    # the login…) since when, and when admins were last told about it or about failing
    # deliveries.
    problem = models.CharField(max_length=500, blank=True, default="")
    problem_since = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="channels_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ChannelRoute(models.Model):
    """Global: which tenant and channel a public endpoint token belongs to.

    The endpoint reads it before any tenant is known, so it has no row-level security; the
    application's database role may only read it. The database writes it itself: a trigger
    on the channels table (migration 0004, as the owner) adds, moves and removes a channel's
    route with the channel row, which row-level security keeps inside its tenant. So a
    route always names the tenant of a real channel with that token (decision 009).
    """

    # Read-only for the application role (crm.rls grants no INSERT/UPDATE/DELETE).
    app_role_privileges = ("SELECT",)

    token = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    channel_id = models.BigIntegerField(unique=True)

    def __str__(self) -> str:
        return self.token


class InboundEvent(TenantModel):
    """One raw delivery and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Processed")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored")
        SPAM = "spam", _("Spam")

    class Outcome(models.TextChoices):
        NONE = "", "—"
        CREATED = "created", _("New lead")
        ATTACHED = "attached", _("Added to an existing record")
        REPEAT = "repeat", _("Repeat lead")
        DEAL = "deal", _("New deal")
        UPDATED = "updated", _("Message updated")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="events")
    key = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default="", blank=True)
    detail = models.TextField(blank=True)
    # The delivery as it came: body bytes, content type, the headers that matter, query.
    body = models.BinaryField()
    content_type = models.CharField(max_length=200, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=200, blank=True)
    query = models.CharField(max_length=2000, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # The normalized inbound message the adapter read (for display and processing).
    message = models.JSONField(default=dict, blank=True)
    # The message's id at the provider (`message["external_id"]`, e.g. Telegram's chat and
    # message id), as a column: an edit finds the message it changes through an index.
    external_id = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # The drain task (Celery task id) that claimed the event for its first attempt: if that
    # task's process dies, the task delivered again finishes what it had claimed.
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "key"], name="channels_event_unique_key"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "channel", "-created_at", "-id"], name="channels_event_recent"
            ),
            models.Index(
                fields=["tenant", "next_attempt_at"],
                name="channels_event_pending",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["tenant", "channel", "status"],
                name="channels_event_status",
            ),
            models.Index(
                fields=["tenant", "channel", "external_id"],
                name="channels_event_external",
                condition=~models.Q(external_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.key}"

    @property
    def replayable(self) -> bool:
        """Whether admins may have it processed again (channels.services.event_replay)."""
        return self.status in (self.Status.PENDING, self.Status.FAILED, self.Status.REJECTED)


class Call(TenantModel):
    """One phone call, whatever number of provider events (legs, retries) told of it.

    Every event of the call updates this one row (channels/calls.py): facts only grow
    (earliest start, first answer, end), so events arriving twice or out of order leave the
    same record. When the call has ended, what it means for the CRM is done once
    (`outcome_at`): a lead, or a call activity on the person's record.
    """

    class Direction(models.TextChoices):
        UNKNOWN = "", "—"
        INBOUND = "inbound", _("Incoming")
        OUTBOUND = "outbound", _("Outgoing")

    class State(models.TextChoices):
        RINGING = "ringing", pgettext_lazy("call", "Ringing")
        ANSWERED = "answered", pgettext_lazy("call", "In progress")
        COMPLETED = "completed", pgettext_lazy("call", "Answered")
        MISSED = "missed", pgettext_lazy("call", "Missed")
        FAILED = "failed", pgettext_lazy("call", "Failed")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="calls")
    call_id = models.CharField(max_length=200)
    direction = models.CharField(
        max_length=16, choices=Direction.choices, default=Direction.UNKNOWN, blank=True
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.RINGING)
    # Why it ended unanswered, as the provider said it (busy, no-answer, cancel, failed…).
    end_reason = models.CharField(max_length=64, blank=True, default="")
    from_raw = models.CharField(max_length=200, blank=True, default="")
    to_raw = models.CharField(max_length=200, blank=True, default="")
    from_e164 = models.CharField(max_length=32, blank=True, default="")
    to_e164 = models.CharField(max_length=32, blank=True, default="")
    caller_name = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Talk time in seconds (not the ringing).
    duration = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=1000, blank=True, default="")
    recording_id = models.CharField(max_length=200, blank=True, default="")
    # Legs (Twilio's child calls, Zadarma's extensions) and what each said, by leg id.
    legs = models.JSONField(default=dict, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # The call made its lead (an unknown caller), rather than joining a known one's record.
    made_lead = models.BooleanField(default=False)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.ForeignKey(
        "crm.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "call_id"], name="channels_call_unique_id"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "channel", "-created_at"], name="channels_call_recent"),
        ]

    def __str__(self) -> str:
        return self.call_id


class Message(TenantModel):
    """One message of a conversation with a person: what they wrote to a channel (recorded
    when the delivery is processed) or what a member answered from a card (sent by the
    worker). A thread is the messages of a record and of its person (channels.conversations).

    An outbound message is recorded before it is sent, under its own idempotency `key`, and
    moves QUEUED → SENDING → SENT (→ DELIVERED → READ where the provider tells) or FAILED
    with the reason; a send cut short with the outcome unknown ends UNCERTAIN rather than
    going out twice (channels/outbound.py)."""

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")

    class Status(models.TextChoices):
        RECEIVED = "received", pgettext_lazy("message", "Received")
        QUEUED = "queued", pgettext_lazy("message", "Queued")
        SENDING = "sending", pgettext_lazy("message", "Sending")
        SENT = "sent", pgettext_lazy("message", "Sent")
        DELIVERED = "delivered", pgettext_lazy("message", "Delivered")
        READ = "read", pgettext_lazy("message", "Read")
        FAILED = "failed", pgettext_lazy("message", "Not sent")
        UNCERTAIN = "uncertain", pgettext_lazy("message", "May not have been sent")

    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The channel's kind and name when the message was written (kept if it is deleted).
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    channel_name = models.CharField(max_length=120, blank=True, default="")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Who answered (outbound); inbound: nobody.
    author = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The person's address in the channel: a Telegram chat, a WhatsApp number, a VK peer,
    # an e-mail address.
    address = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField(blank=True, default="")
    # Inbound: the delivery it came with (its files are the attachments of that event).
    event = models.ForeignKey(
        InboundEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Outbound: a file sent with it (kept on the record).
    attachment = models.ForeignKey(
        "crm.Attachment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Outbound: the saved reply it was written from, and for WhatsApp an approved template
    # with its parameters (outside the 24-hour window).
    template = models.ForeignKey(
        "channels.ReplyTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    template_params = models.JSONField(default=list, blank=True)
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    # The provider's id of the message (Telegram "tg:<chat>:<id>", a wamid, "vk:<peer>:<id>",
    # an e-mail's Message-ID); e-mail: what it answers (In-Reply-To, References).
    external_id = models.CharField(max_length=200, blank=True, default="")
    in_reply_to = models.CharField(max_length=200, blank=True, default="")
    references = models.TextField(blank=True, default="")
    # Outbound: how long the person had waited for this answer (since their oldest
    # unanswered message), None when nobody was waiting.
    waited_seconds = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="channels_message_key"),
        ]
        indexes = [
            models.Index(fields=["tenant", "lead", "created_at"], name="channels_message_lead"),
            models.Index(fields=["tenant", "deal", "created_at"], name="channels_message_deal"),
            models.Index(
                fields=["tenant", "contact", "created_at"], name="channels_message_contact"
            ),
            models.Index(
                fields=["tenant", "channel", "external_id"],
                name="channels_message_external",
                condition=~models.Q(external_id=""),
            ),
            models.Index(
                fields=["tenant", "next_attempt_at"],
                name="channels_message_due",
                condition=models.Q(status__in=("queued", "sending")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction}:{self.pk}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUT


class ReplyTemplate(TenantModel):
    """A saved reply of the workspace, with placeholders ({client_name}, {manager_name},
    {deal_amount} or their Russian names), offered in the composer of every card. For
    WhatsApp outside the 24-hour window it may name a template approved at Meta (its name
    and language), sent with the placeholders' values as its parameters."""

    name = models.CharField(_("name"), max_length=120)
    text = models.TextField(_("text"), max_length=4000)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        default="",
        choices=[("", _("Any")), ("ru", "Русский"), ("en", "English")],
    )
    whatsapp_name = models.CharField(
        _("approved WhatsApp template"),
        max_length=512,
        blank=True,
        default="",
        help_text=_(
            "The template's name at Meta (WhatsApp Manager), to write to a client who last "
            "wrote more than 24 hours ago. Its body parameters are this text's placeholders, "
            "in their order."
        ),
    )
    whatsapp_language = models.CharField(
        _("its language code"),
        max_length=16,
        blank=True,
        default="",
        help_text=_("As approved, e.g. ru or en_US."),
    )
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="channels_template_name")
        ]

    def __str__(self) -> str:
        return self.name
