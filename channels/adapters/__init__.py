"""Provider adapters: each turns one provider's wire format into one `InboundMessage`.

An adapter answers its provider at the endpoint (`handle` for extra routes and pings,
`authenticate`, `respond`) and reads a stored delivery (`read`, a pure function of the
`RawDelivery`, so the worker and a replay read it exactly as the endpoint did). Both read
through `read_delivery`, which cleans every adapter's message the same way
(`InboundMessage.clean`). Everything after the message (matching, creating, assigning,
notifying) is shared: channels/pipeline.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from crm.text import clean_data, clean_line, clean_text

if TYPE_CHECKING:
    from channels.models import Channel, InboundEvent, Message
    from channels.outbound import Sent

# Request headers worth keeping with a delivery (signatures, ids, provenance). Shared
# secrets sent as headers (bearer tokens, Telegram's secret token) are checked at the
# endpoint and never stored: admins see the stored headers on the delivery's page.
KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    "Origin",
    "Referer",
    "X-Forwarded-For",
    "Idempotency-Key",
)


class Rejected(Exception):  # noqa: N818 - a delivery the channel refuses, with the reason
    """The delivery is malformed or unusable: stored as rejected with `reason`, answered 4xx."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# How deep a delivery's JSON may nest: real payloads (Telegram's updates, site builders'
# webhooks) stay under ten levels; a deeper one is an attack on the parser or on whatever
# walks the value later (RecursionError), and is rejected.
MAX_JSON_DEPTH = 32


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("a number out of range")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    """Whether `value` nests deeper than MAX_JSON_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def load_json(body: bytes) -> Any:
    """A delivery's body as strict JSON, or Rejected: UTF-8, no NaN or Infinity (nor a
    number too large for a float), nested at most MAX_JSON_DEPTH levels."""
    try:
        data = json.loads(
            body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected(_("The body is not valid JSON.")) from None
    if _too_deep(data):
        raise Rejected(_("The body is nested too deeply.")) from None
    return data


def without_nul(value: Any) -> Any:
    """`value` without NUL characters in any of its strings: PostgreSQL's text and jsonb
    cannot hold U+0000, so a delivery carrying one could not be stored (a 503 its sender
    would retry for ever) and a lead made from it could not be saved."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


# The longest file reference kept: a provider's file id, or a download address VK gives (a
# signed URL, longer than an id: cut short it would not open).
MAX_FILE_REF = 2000


class Forbidden(Exception):  # noqa: N818 - the provider's credentials are wrong
    """Authentication failed: answered 403, nothing stored."""


@dataclass
class InboundMessage:
    """What a delivery says, in the CRM's terms, whatever the provider."""

    # "inquiry" | "behaviour" | "button" (a Telegram button press) | "call" | "status" (a
    # provider's report on a message we sent: `event` sent/delivered/read/failed, its
    # `external_id`, `properties` error and our echoed `key`; channels.pipeline)
    kind: str = "inquiry"
    name: str = ""
    phone: str = ""
    email: str = ""
    messenger: str = ""
    messenger_id: str = ""
    title: str = ""
    message: str = ""
    company_name: str = ""
    source: str = "other"
    utm: dict[str, str] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    page_url: str = ""
    consent: str = ""
    # A Telegram deep link's /start parameter or a VK link's `ref`, as sent (its UTM tags
    # are in `utm`).
    start_param: str = ""
    # The ad the person came from, as one line for the timeline (a Click-to-WhatsApp ad's
    # referral: headline, ad id, click id); its UTM tags are in `utm`.
    ad: str = ""
    # The provider's id of this message, and of an earlier message this one edits.
    external_id: str = ""
    edit_of: str = ""
    # Behaviour events (API): the event name and its properties; a button press: what
    # the button says (properties: data, button, question).
    event: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    # Files that came with a messenger's message, to be downloaded from the provider after
    # the message is recorded: {"ref": the provider's file id (or VK's download address),
    # "name", "type", "size"}.
    files: list[dict[str, Any]] = field(default_factory=list)
    # When a behaviour event happened, or an edit was made, as the sender says (ISO 8601);
    # "" for "on receipt".
    occurred_at: str = ""
    # The phone is the sender's own, as the provider confirms it (a Telegram contact the
    # person shared of themselves): their open lead takes it as its phone.
    own_phone: bool = False

    # One-line values: invisible and direction characters removed (crm/text.py).
    LINE_FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "phone",
        "email",
        "messenger",
        "messenger_id",
        "title",
        "company_name",
        "page_url",
        "start_param",
        "ad",
        "event",
    )

    def clean(self) -> InboundMessage:
        """Remove invisible and direction characters from the one-line values (names,
        phones, e-mails, titles, company, UTM tags) and control characters from the rest —
        the message keeps its invisible characters (pages show it isolated). Every
        adapter's message goes through here (`read_delivery`); returns the message."""
        for name in self.LINE_FIELDS:
            setattr(self, name, clean_line(getattr(self, name)))
        for name in ("message", "consent", "external_id", "edit_of"):
            setattr(self, name, clean_text(getattr(self, name)))
        utm = {clean_line(k): clean_line(str(v)) for k, v in self.utm.items()}
        self.utm = {k: v for k, v in utm.items() if v}
        self.custom = clean_data(self.custom)
        self.properties = clean_data(self.properties)
        self.files = [
            {
                "ref": clean_line(str(f.get("ref") or ""))[:MAX_FILE_REF],
                "name": clean_line(str(f.get("name") or ""))[:200] or "file",
                "type": clean_line(str(f.get("type") or ""))[:100],
                "size": f["size"] if isinstance(f.get("size"), int) else 0,
            }
            for f in self.files[:10]
            if isinstance(f, dict) and f.get("ref")
        ]
        return self

    def lead_data(self) -> dict[str, Any]:
        """The fields a lead is created from."""
        data: dict[str, Any] = {
            key: getattr(self, key)
            for key in (
                "name",
                "phone",
                "email",
                "messenger",
                "messenger_id",
                "title",
                "message",
                "company_name",
            )
        }
        data.update({k: v for k, v in self.utm.items() if k.startswith("utm_")})
        if self.custom:
            data["custom"] = dict(self.custom)
        return data

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", {}, [], None, False)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Delivery:
    """What the endpoint learnt from a delivery: its idempotency key and its message, or
    why it is ignored (pings, update types the CRM does not use) or spam (a honeypot)."""

    key: str
    message: InboundMessage | None = None
    ignored: str = ""
    spam: str = ""


@dataclass
class RawDelivery:
    """A delivery as received (from the request, or from its stored InboundEvent)."""

    body: bytes
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""
    query: str = ""
    remote_addr: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, path: str) -> RawDelivery:
        headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
        return cls(
            body=request.body,
            content_type=request.content_type or "",
            headers=headers,
            path=path,
            query=request.META.get("QUERY_STRING", "")[:2000],
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )

    @classmethod
    def from_event(cls, event: InboundEvent) -> RawDelivery:
        return cls(
            body=bytes(event.body),
            content_type=event.content_type,
            headers=dict(event.headers),
            path=event.path,
            query=event.query,
            remote_addr=event.remote_addr,
        )

    def body_hash(self) -> str:
        """An idempotency key for providers that send no id of their own."""
        digest = hashlib.sha256(self.path.encode() + b"\0" + self.body)
        return "sha256:" + digest.hexdigest()


class Adapter:
    """One provider. Subclasses set `kind` and override what their provider needs."""

    kind: ClassVar[str] = ""
    # A form for the kind's options (stored in Channel.config), or None.
    config_form: ClassVar[type[forms.Form] | None] = None
    # The template fragment that explains the channel's setup on its page.
    setup_template: ClassVar[str] = ""
    # The endpoint's paths a provider is given besides the bare one: (label, path under
    # /in/<token>/); `create_channel` prints them.
    endpoint_paths: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Config values stored sealed (crm.secrets) whatever way they come in (the settings
    # form, the create_channel command, a service call): tokens and passwords.
    sealed_keys: ClassVar[tuple[str, ...]] = ()
    # Whether the channel's own secret (Channel.secret) means something to its provider,
    # so that the page offers to issue a new one.
    uses_secret: ClassVar[bool] = True

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        """Answer requests that are not deliveries (GET, preflight, pings), or None."""
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        """Raise Forbidden unless the request comes from the channel's provider."""

    def throttle(self, request: HttpRequest, channel: Channel) -> HttpResponse | None:
        """A 429 response when the sender is over its rate limit, or None."""
        return None

    def parts(self, raw: RawDelivery, channel: Channel) -> list[RawDelivery]:
        """What to store of an authenticated request: the request itself, or — for a
        provider that sends several messages in one request (WhatsApp) — one delivery per
        message, each read and stored under its own key, or a copy without a shared secret
        the body carried (VK). Raises Rejected for a malformed body."""
        return [raw]

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        """The delivery's key and message; raises Rejected for a malformed one."""
        raise NotImplementedError

    def respond(
        self, request: HttpRequest, channel: Channel, event: InboundEvent, created: bool
    ) -> HttpResponse:
        """The answer to an accepted delivery (stored; processed later)."""
        return JsonResponse({"id": event.pk, "status": "accepted", "duplicate": not created})

    def reject(self, request: HttpRequest, channel: Channel, error: Rejected) -> HttpResponse:
        """The answer to a rejected delivery."""
        return JsonResponse({"status": "rejected", "error": error.reason}, status=error.status)

    def setup_context(self, channel: Channel) -> dict[str, Any]:
        """Extra values for the kind's setup template (e.g. a mailbox's status)."""
        return {}

    def on_save(self, channel: Channel) -> None:
        """After the channel is created or changed (e.g. register a webhook)."""

    def on_delete(self, channel: Channel) -> None:
        """Before the channel is deleted (e.g. remove a webhook)."""

    # Replies from the card (channels/conversations.py, channels/outbound.py): whether the
    # kind answers a person, the longest text it sends, and whether its provider takes a
    # repeated send of one message (our key) as the same message, so that a send whose
    # answer was lost may simply be made again.
    replies: ClassVar[bool] = False
    max_reply: ClassVar[int] = 4096
    # The longest text that goes with a file (a caption), None: as long as a message.
    max_caption: ClassVar[int | None] = None
    send_idempotent: ClassVar[bool] = False
    # For how long after a reply was first queued its provider still recognizes a repeat
    # (seconds; None: always). Past it a send whose answer was lost is not made again.
    send_idempotent_for: ClassVar[int | None] = None

    def may_send_again(self, message: Message, now: datetime) -> bool:
        """Whether a send of `message` whose outcome is unknown may simply be made again:
        its provider deduplicates, within its window."""
        if not self.send_idempotent:
            return False
        window = self.send_idempotent_for
        return window is None or (now - message.created_at).total_seconds() < window

    def new_message_id(self, channel: Channel) -> str:
        """The provider-side id a reply carries from the start, when it is ours to choose
        (an e-mail's Message-ID: the client's answer names it); "" for the others."""
        return ""

    def reply_address(self, message: dict[str, Any]) -> str:
        """Where to answer the person who sent a stored message (`InboundMessage.as_json`):
        a chat, a number, a peer, an address; "" when it cannot be answered."""
        return ""

    def reply_problem(self, channel: Channel) -> str:
        """Why the channel cannot send replies now ("" when it can)."""
        return "" if self.replies else _("This channel does not send messages.")

    def fetch_file(self, channel: Channel, ref: str) -> bytes:
        """Download a file the person sent (`InboundMessage.files`' ref); raises
        outbound.Retry / Refused like a send."""
        raise NotImplementedError

    def send(self, channel: Channel, message: Message, file: tuple[str, bytes] | None) -> Sent:
        """Send `message` (its `address`, `text`, and `file` as (name, bytes)); returns
        `Sent` or raises outbound.Retry / Refused / Unknown."""
        raise NotImplementedError


def read_delivery(adapter: Adapter, raw: RawDelivery, channel: Channel) -> Delivery:
    """The adapter's reading of a delivery, its message cleaned (`InboundMessage.clean`):
    the endpoint and the worker read every delivery through here."""
    delivery = adapter.read(raw, channel)
    if delivery.message is not None:
        delivery.message.clean()
    return delivery


_REGISTRY: dict[str, Adapter] = {}


def register(adapter_class: type[Adapter]) -> type[Adapter]:
    """Class decorator: make an adapter the one for its kind."""
    _REGISTRY[adapter_class.kind] = adapter_class()
    return adapter_class


def adapter_for(kind: str) -> Adapter:
    """The adapter of a channel kind (KeyError for an unknown kind)."""
    return _REGISTRY[kind]
