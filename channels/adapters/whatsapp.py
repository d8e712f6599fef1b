"""The WhatsApp Cloud API channel: people write to the tenant's WhatsApp Business number.

In the Meta developer console (the app → WhatsApp → Configuration) the admin sets the
channel's endpoint as the callback URL with the channel's secret as the verify token and
subscribes to the `messages` field. Meta then checks the URL once with a GET
(`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`: the challenge is answered) and
POSTs every notification signed with the app secret: `X-Hub-Signature-256:
sha256=<hex HMAC-SHA256(app secret, raw body)>`, checked over the bytes as received.

One POST may carry several entries, changes, messages and delivery statuses: the endpoint
stores one delivery per message and per status (`parts`), each keyed by its id, so a
message Meta sends again (alone or in another batch) is stored once. A message becomes an
inquiry from its sender: `wa_id` is their number in international format without "+", so
the lead gets the phone `+<wa_id>` (and WhatsApp `+<wa_id>`) and matches people known by
phone from other channels; the profile name is the lead's name. A Click-to-WhatsApp ad's
`referral` is the lead's attribution (UTM tags, the ad's URL as the page, the ad on the
timeline). Other fields are recorded and ignored.

Replies from the cards go out through the Cloud API (`send`): POST
`/{phone_number_id}/messages` with the channel's access token (a system user's permanent
token, sealed at rest), a file uploaded first to `/{phone_number_id}/media` and sent as a
document; outside the 24-hour customer-service window only an approved template
(channels.conversations.Route.needs_template), its body parameters the placeholders' values.
Every send carries our message key as `biz_opaque_callback_data`, which Meta echoes in the
statuses (sent, delivered, read, failed) it reports: they move the reply's status forward
(channels.pipeline), and settle a send whose worker died after Meta had taken it.

A file a client sends (image, document, audio, video, sticker, voice) comes as a media id;
after the message is recorded the worker downloads it (`fetch_file`: `GET /{media-id}` for
its URL, then the URL, both with the access token; only an https URL, only up to the size
limit, checked against Meta's sha256) and keeps it in the thread
(channels.conversations.message_files_fetch). Without an access token it is noted as not
downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels import outbound
from channels.adapters import (
    Adapter,
    Delivery,
    Forbidden,
    InboundMessage,
    RawDelivery,
    Rejected,
    register,
)
from channels.adapters.api import json_object
from channels.adapters.sealed import SealedConfigForm, config_secret, sealed_field, sending_secret
from channels.models import Channel, Message
from leads.models import LeadSource, Messenger

SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECT = "whatsapp_business_account"
# Meta's app secret: 32 hex characters today; a little room for other shapes.
APP_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9]{16,128}$")
PHONE_NUMBER_ID_FORMAT = re.compile(r"^\d{5,32}$")
WA_ID_FORMAT = re.compile(r"^\d{5,20}$")
# The longest hub.challenge answered (Meta sends a number).
MAX_CHALLENGE = 256
# The header naming a part of a batch the endpoint split (`parts`): "2/5 sha256:<hex of the
# request's body>".
PART_HEADER = "X-Voronka-Part"
MEDIA = ("image", "video", "audio", "document", "sticker", "voice")
# A media id (digits at Meta): nothing that could change the path it is asked for at.
MEDIA_ID_FORMAT = re.compile(r"^[0-9A-Za-z_-]{1,128}$")
# The extension a file without a name of its own gets, by its MIME type (else mimetypes').
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "application/pdf": "pdf",
}
# A Meta access token (a system user's "EAA…" token): letters, digits and a few marks.
ACCESS_TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_.|-]{20,1024}$")
# The statuses Meta reports on a sent message that move a reply (channels.conversations).
STATUSES = ("sent", "delivered", "read", "failed")
# Graph API error codes (Cloud API "Error codes") after which the same request may succeed
# later: throttling (4, 80007, 130429, 131048, 131056) and Meta's own trouble (1, 2, 131000,
# 131016, 133004). Anything else is a refusal for good.
RETRY_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 131057, 133004})
# How long a media caption may be.
MAX_CAPTION = 1024


class WhatsAppConfigForm(SealedConfigForm):
    app_secret = sealed_field(
        gettext_lazy("App secret"),
        gettext_lazy(
            "Meta developer console → your app → App settings → Basic → App secret. "
            "Every notification is checked against it; it is stored encrypted."
        ),
        max_length=128,
    )
    phone_number_id = forms.CharField(
        label=gettext_lazy("Phone number ID"),
        max_length=32,
        required=False,
        strip=True,
        help_text=gettext_lazy(
            "WhatsApp → API Setup → Phone number ID: needed to answer clients; messages to "
            "the app's other numbers are then recorded and ignored."
        ),
    )

    access_token = sealed_field(
        gettext_lazy("Access token"),
        gettext_lazy(
            "Optional: needed to answer clients from the cards. A permanent token of a system "
            "user (Meta Business Suite → Business settings → Users → System users → Generate "
            "new token, with the whatsapp_business_messaging permission); it is stored "
            "encrypted."
        ),
        max_length=1024,
    )

    sealed_fields = (
        (
            "app_secret",
            APP_SECRET_FORMAT,
            gettext_lazy("An app secret is 32 letters and digits, as the console shows it."),
        ),
        (
            "access_token",
            ACCESS_TOKEN_FORMAT,
            gettext_lazy("An access token is a long line of letters and digits, like EAAG…"),
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["access_token"].required = False  # receiving works without it

    def clean_phone_number_id(self) -> str:
        value = self.cleaned_data["phone_number_id"]
        if value and not PHONE_NUMBER_ID_FORMAT.match(value):
            raise forms.ValidationError(_("A phone number ID is digits only."))
        return value


def signature_of(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends with `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _changes(data: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(entry, change) pairs of a notification, skipping whatever is not an object."""
    entries = _dicts(data.get("entry"))
    return [(entry, change) for entry in entries for change in _dicts(entry.get("changes"))]


def _part(entry: dict[str, Any], change: dict[str, Any], value: Any) -> dict[str, Any]:
    """A notification holding one change of one entry, with `value`."""
    return {
        "object": OBJECT,
        "entry": [{"id": entry.get("id"), "changes": [{**change, "value": value}]}],
    }


def split_notification(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A notification as notifications of one message or one status each (the others:
    one per change); [] when it holds nothing at all."""
    parts: list[dict[str, Any]] = []
    for entry, change in _changes(data):
        value = change.get("value")
        if change.get("field") != "messages" or not isinstance(value, dict):
            parts.append(_part(entry, change, value))
            continue
        base = {k: v for k, v in value.items() if k not in ("messages", "statuses", "contacts")}
        contacts = _dicts(value.get("contacts"))
        messages, statuses = _dicts(value.get("messages")), _dicts(value.get("statuses"))
        for message in messages:
            theirs = [c for c in contacts if c.get("wa_id") == message.get("from")]
            theirs = theirs or (contacts if len(contacts) == 1 else [])
            parts.append(_part(entry, change, {**base, "contacts": theirs, "messages": [message]}))
        parts.extend(_part(entry, change, {**base, "statuses": [s]}) for s in statuses)
        if not messages and not statuses:
            parts.append(_part(entry, change, value))
    return parts


def _location(place: dict[str, Any]) -> str:
    where = ", ".join(t for t in (_text(place.get("name")), _text(place.get("address"))) if t)
    latitude, longitude = place.get("latitude"), place.get("longitude")
    if latitude is not None and longitude is not None:
        where = f"{where} ({latitude}, {longitude})" if where else f"{latitude}, {longitude}"
    return where


def _contact_card(card: dict[str, Any]) -> str:
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    phones = [_text(p.get("phone")) for p in _dicts(card.get("phones"))]
    return " ".join(t for t in (_text(name.get("formatted_name")), *phones) if t)


def describe(message: dict[str, Any]) -> str:
    """A message as text for the lead and the timeline: a text message's body, else what
    it is ("[image] caption", "[location] …", "[button] Yes"); never fails on odd shapes."""
    kind = _text(message.get("type")) or "message"
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return _text(body.get("body"))
    detail = ""
    if kind in MEDIA:
        if kind == "audio" and body.get("voice"):
            kind = "voice message"
        detail = " ".join(t for t in (_text(body.get("filename")), _text(body.get("caption"))) if t)
    elif kind == "location":
        detail = _location(body)
    elif kind == "contacts":
        detail = "; ".join(_contact_card(c) for c in _dicts(message.get("contacts")))
    elif kind == "interactive":
        reply = body.get(_text(body.get("type"))) if body else None
        reply = reply if isinstance(reply, dict) else {}
        kind = "button" if body.get("type") == "button_reply" else "reply"
        texts = (_text(reply.get("title")), _text(reply.get("description")))
        detail = " — ".join(t for t in texts if t)
    elif kind == "button":  # a template's quick-reply button
        detail = _text(body.get("text")) or _text(body.get("payload"))
    elif kind == "reaction":
        detail = _text(body.get("emoji")) or _("(removed)")
    elif kind == "order":
        items = _dicts(body.get("product_items"))
        detail = " ".join(t for t in (_text(body.get("text")), f"({len(items)})") if t)
    elif kind == "system":
        detail = _text(body.get("body"))
    errors = _dicts(message.get("errors"))
    if errors and not detail:
        detail = _text(errors[0].get("title")) or _text(errors[0].get("message"))
    return f"[{kind}] {detail}".strip()[:10_000]


def media_files(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The file a media message carries (image, document, audio, video, sticker, voice), as
    `InboundMessage.files`: its media id, the document's own name or "image.jpg",
    "voice.ogg"… by its MIME type; [] for other messages."""
    kind = _text(message.get("type"))
    media = message.get(kind)
    if kind not in MEDIA or not isinstance(media, dict):
        return []
    media_id = _text(str(media.get("id") or ""))
    if not MEDIA_ID_FORMAT.match(media_id):
        return []
    mime = _text(media.get("mime_type")).split(";")[0].strip().lower()
    name = _text(media.get("filename"))
    if not name:
        extension = EXTENSIONS.get(mime) or (mimetypes.guess_extension(mime) or ".bin")
        label = "voice" if kind == "audio" and media.get("voice") else kind
        name = f"{label}.{extension.lstrip('.')}"
    size = media.get("file_size")
    return [
        {
            "ref": media_id,
            "name": name,
            "type": mime,
            "size": size if isinstance(size, int) and not isinstance(size, bool) else 0,
        }
    ]


def _platform(url: str) -> str:
    host = (urlsplit(url).hostname or "") if url.startswith(("https://", "http://")) else ""
    if "instagram" in host:
        return "instagram"
    if host in ("fb.me", "fb.com", "m.me") or "facebook" in host:
        return "facebook"
    return "meta"


def attribution(referral: dict[str, Any]) -> tuple[dict[str, str], str, str]:
    """A Click-to-WhatsApp `referral` as (UTM tags, the ad's URL, the ad as one line):
    utm_source facebook / instagram / meta (by the ad's URL), utm_medium its source_type
    ("ad", "post"), utm_campaign its headline, utm_content its source_id."""
    url = _text(referral.get("source_url"))
    headline = _text(referral.get("headline"))
    source_id = _text(str(referral.get("source_id") or ""))
    utm = {
        "utm_source": _platform(url),
        "utm_medium": _text(referral.get("source_type")) or "ad",
        "utm_campaign": headline[:200],
        "utm_content": source_id[:200],
    }
    parts = [f"“{headline}”" if headline else "", _text(referral.get("body"))[:200]]
    if source_id:
        parts.append(_("id %(id)s") % {"id": source_id})
    if _text(referral.get("ctwa_clid")):
        parts.append(f"ctwa_clid {_text(referral.get('ctwa_clid'))}")
    line = " · ".join(p for p in parts if p) or _("an ad")
    return utm, url[:2000] if url.startswith(("https://", "http://")) else "", line[:500]


def read_notification(data: dict[str, Any], phone_number_id: str = "") -> Delivery:
    """A notification (one message or status after `split_notification`) as a delivery:
    its first message, else its first status (ignored), else why it is ignored.
    `phone_number_id`: the channel's number (others are ignored), or "" for any."""
    if data.get("object") != OBJECT:
        kind = _text(str(data.get("object") or "")) or "?"
        reason = _("Notifications of “%(object)s” are not used.") % {"object": kind}
        return Delivery(key="", ignored=reason)
    for _entry, change in _changes(data):
        value = change.get("value")
        if change.get("field") != "messages" or not isinstance(value, dict):
            field = _text(str(change.get("field") or "")) or "?"
            reason = _("Changes of “%(field)s” are not used.") % {"field": field}
            return Delivery(key="", ignored=reason)
        metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        number = str(metadata.get("phone_number_id") or "")
        messages, statuses = _dicts(value.get("messages")), _dicts(value.get("statuses"))
        if messages:
            return _message(messages[0], _dicts(value.get("contacts")), phone_number_id, number)
        if statuses:
            return _status(statuses[0])
        if _dicts(value.get("errors")):
            error = _dicts(value.get("errors"))[0]
            reason = _text(error.get("title")) or _text(error.get("message")) or "?"
            reason = _("An error reported by WhatsApp: %(error)s") % {"error": reason}
            return Delivery(key="", ignored=reason)
    return Delivery(key="", ignored=_("A notification without messages."))


def _message(
    message: dict[str, Any], contacts: list[dict[str, Any]], wanted: str, number: str
) -> Delivery:
    message_id, sender = message.get("id"), message.get("from")
    if not isinstance(message_id, str) or not message_id.strip():
        raise Rejected(_("A WhatsApp message needs its id."))
    key = "wamid:" + message_id.strip()[:180]
    if not isinstance(sender, str) or not WA_ID_FORMAT.match(sender):
        raise Rejected(_("A WhatsApp message needs its sender's number (from)."))
    if wanted and number != wanted:
        return Delivery(
            key=key,
            ignored=_("A message to another number of the app (phone number ID %(id)s).")
            % {"id": number[:32] or "?"},
        )
    profile = next((c.get("profile") for c in contacts if c.get("wa_id") == sender), None) or next(
        (c.get("profile") for c in contacts), None
    )
    name = _text(profile.get("name")) if isinstance(profile, dict) else ""
    referral = message.get("referral")
    utm, page_url, ad = attribution(referral) if isinstance(referral, dict) else ({}, "", "")
    return Delivery(
        key=key,
        message=InboundMessage(
            source=LeadSource.WHATSAPP,
            messenger=Messenger.WHATSAPP,
            messenger_id="+" + sender,
            phone="+" + sender,
            name=name[:200],
            message=describe(message),
            utm=utm,
            page_url=page_url,
            ad=ad,
            external_id="wa:" + message_id.strip()[:180],
            files=media_files(message),
        ),
    )


def _status_time(value: Any) -> str:
    """A status's `timestamp` (Unix seconds, as a string) as ISO 8601, or ""."""
    text = _text(str(value)) if isinstance(value, str | int) else ""
    if not text.isdigit():
        return ""
    try:
        return datetime.fromtimestamp(int(text), tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


def status_error(errors: list[dict[str, Any]]) -> str:
    """The first error of a status (or of an API answer) as one line: its title or
    message, its code and Meta's details."""
    if not errors:
        return ""
    error = errors[0]
    title = _text(error.get("title")) or _text(error.get("message"))
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    details = _text(data.get("details"))
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        title = f"{title} ({code})".strip()
    if details and details != title:
        title = f"{title}: {details}" if title else details
    return title[:500]


def _status(status: dict[str, Any]) -> Delivery:
    """A status of a message sent from this number: a report on a reply sent from a card
    (matched by its id, or by our key Meta echoes back); other states are ignored."""
    message_id, state = _text(status.get("id")), _text(status.get("status"))
    if not message_id or not state:
        raise Rejected(_("A WhatsApp status needs its message id and status."))
    key = f"status:{message_id[:150]}:{state[:20]}"
    error = status_error(_dicts(status.get("errors")))
    if state not in STATUSES:
        reason = _("Delivery status “%(status)s” is not used.") % {"status": state[:20]}
        return Delivery(key=key, ignored=f"{reason} {error}".strip())
    return Delivery(
        key=key,
        message=InboundMessage(
            kind="status",
            source=LeadSource.WHATSAPP,
            event=state,
            external_id="wa:" + message_id[:180],
            occurred_at=_status_time(status.get("timestamp")),
            properties={
                "error": error,
                "key": _text(str(status.get("biz_opaque_callback_data") or ""))[:100],
            },
        ),
    )


def _meta_error(data: Any) -> dict[str, Any]:
    """The `error` object of a Graph API answer ({} when it has none)."""
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def refusal(status: int, error: dict[str, Any]) -> outbound.SendError:
    """What a Graph API error answer means for a send: `Retry` for throttling and Meta's
    own trouble, `Refused` with a reason the manager can act on for the rest."""
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    meta = _text(error.get("message")) or str(status)
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    details = _text(data.get("details"))
    if details and details not in meta:
        meta = f"{meta} — {details}"
    meta = meta[:300]
    if code in RETRY_CODES:
        return outbound.Retry(
            _("WhatsApp asks to wait (%(error)s); the message will be sent later.")
            % {"error": meta}
        )
    if code == 190 or status == 401:
        reason = _(
            "WhatsApp does not accept the channel's access token (expired or revoked): enter a "
            "new one in the channel's settings. Meta: %(error)s"
        )
    elif code == 131047:
        reason = _(
            "More than 24 hours since the client last wrote: WhatsApp takes only an approved "
            "template now. Meta: %(error)s"
        )
    elif code == 131026:
        reason = _(
            "WhatsApp cannot deliver to this number (not on WhatsApp, or the client has not "
            "accepted its terms). Meta: %(error)s"
        )
    elif code in (132000, 132001, 132005, 132007, 132012, 132015, 132016):
        reason = _(
            "WhatsApp refused the template (its name, language or parameters do not match "
            "the approved one). Meta: %(error)s"
        )
    elif code in (10, 200, 3) or (code is not None and 200 <= code <= 299):
        reason = _(
            "The access token may not send from this number (a missing permission). Meta: %(error)s"
        )
    else:
        reason = _("WhatsApp refused the message: %(error)s")
    return outbound.Refused(reason % {"error": meta})


def media_refusal(status: int, error: dict[str, Any]) -> outbound.SendError:
    """What a Graph API error answer to a media request means: `Retry` for throttling and
    Meta's own trouble, `Refused` with Meta's reason for the rest (an expired token, a
    media id Meta does not know or no longer keeps)."""
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    meta = (_text(error.get("message")) or str(status))[:300]
    if code in RETRY_CODES:
        return outbound.Retry(_("WhatsApp asks to wait (%(error)s).") % {"error": meta})
    if code == 190 or status == 401:
        return outbound.Refused(
            _(
                "WhatsApp does not accept the channel's access token (expired or revoked): "
                "enter a new one in the channel's settings. Meta: %(error)s"
            )
            % {"error": meta}
        )
    return outbound.Refused(_("WhatsApp did not give the file: %(error)s") % {"error": meta})


def may_download(url: str, base: str) -> bool:
    """Whether a media URL Meta gave is one to download from (with the access token):
    https, or the configured API's own scheme and host (a local stand-in); never file:,
    ftp: or plain http elsewhere."""
    try:
        parts, api = urlsplit(url), urlsplit(base)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if not parts.hostname or any(c.isspace() for c in url):
        return False
    return parts.scheme == "https" or (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


def _file_size(value: Any) -> int:
    """Meta's `file_size` (a number, or digits in a string), 0 when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else 0


def digest_matches(payload: bytes, sha256: Any) -> bool:
    """Whether `payload` is what Meta's `sha256` says (hex or base64); True when Meta gave
    none, or none in a shape known."""
    given = _text(sha256)
    digest = hashlib.sha256(payload).digest()
    if re.fullmatch(r"[0-9a-fA-F]{64}", given):
        return hmac.compare_digest(given.lower(), digest.hex())
    if re.fullmatch(r"[A-Za-z0-9+/]{43}=", given):
        return hmac.compare_digest(given, base64.b64encode(digest).decode())
    return True


@register
class WhatsAppAdapter(Adapter):
    kind = "whatsapp"
    config_form = WhatsAppConfigForm
    setup_template = "channels/kinds/whatsapp.html"

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return HttpResponse(status=404)
        if request.method == "GET":
            return self._verify(request, channel)
        return None

    @staticmethod
    def _verify(request: HttpRequest, channel: Channel) -> HttpResponse:
        """The subscription handshake: the challenge back for the right verify token."""
        mode = request.GET.get("hub.mode", "")
        token = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        valid = (
            mode == "subscribe"
            and token
            and hmac.compare_digest(token.encode(), channel.secret.encode())
            and 0 < len(challenge) <= MAX_CHALLENGE
            and challenge.isprintable()
        )
        if not valid:
            return HttpResponse("forbidden", status=403, content_type="text/plain")
        response = HttpResponse(challenge, content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        header = request.headers.get(SIGNATURE_HEADER, "")
        secret = config_secret(channel, "app_secret")
        if not secret or not header.startswith("sha256="):
            raise Forbidden
        expected = signature_of(secret, request.body)
        if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
            raise Forbidden

    def parts(self, raw: RawDelivery, channel: Channel) -> list[RawDelivery]:
        data = json_object(raw)
        parts = split_notification(data) if data.get("object") == OBJECT else []
        if len(parts) <= 1:
            return [raw]  # one message (the usual case): stored as received
        digest = hashlib.sha256(raw.body).hexdigest()
        return [
            RawDelivery(
                body=json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode(),
                content_type=raw.content_type,
                headers={**raw.headers, PART_HEADER: f"{number}/{len(parts)} sha256:{digest}"},
                path=raw.path,
                query=raw.query,
                remote_addr=raw.remote_addr,
            )
            for number, part in enumerate(parts, start=1)
        ]

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        number = str(channel.config.get("phone_number_id") or "")
        delivery = read_notification(json_object(raw), number)
        if not delivery.key:
            delivery.key = raw.body_hash()
        return delivery

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        return HttpResponse(status=200)

    def reject(self, request: HttpRequest, channel: Channel, error: Rejected) -> HttpResponse:
        # Stored as rejected with its reason; Meta would only send it again and again.
        return HttpResponse(status=200)

    # --- Replies (Cloud API: /{phone_number_id}/messages and /media) -----------------------

    replies = True
    max_reply = 4096
    max_caption = MAX_CAPTION
    sealed_keys = ("app_secret", "access_token")

    def reply_address(self, message: dict[str, Any]) -> str:
        """The person's wa_id: their number's digits (the message's "+<digits>")."""
        for value in (message.get("messenger_id"), message.get("phone")):
            digits = str(value or "").strip().removeprefix("+")
            if WA_ID_FORMAT.match(digits):
                return digits
        return ""

    def reply_problem(self, channel: Channel) -> str:
        missing = [
            label
            for name, label in (
                ("phone_number_id", _("no phone number ID")),
                ("access_token", _("no access token")),
            )
            if not channel.config.get(name)
        ]
        if missing:
            return _("The channel cannot send messages: %(missing)s (Edit).") % {
                "missing": ", ".join(missing)
            }
        return ""

    def send(
        self, channel: Channel, message: Message, file: tuple[str, bytes] | None
    ) -> outbound.Sent:
        token = sending_secret(channel, "access_token")
        number = str(channel.config.get("phone_number_id") or "")
        if not token or not PHONE_NUMBER_ID_FORMAT.match(number):
            raise outbound.Refused(self.reply_problem(channel) or _("No phone number ID."))
        if not WA_ID_FORMAT.match(message.address):
            raise outbound.Refused(_("The client's WhatsApp number is not valid."))
        base = f"{outbound.base_url('WHATSAPP_API_BASE')}/{number}"
        headers = {"Authorization": f"Bearer {token}"}
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.address,
        }
        template = message.template
        if template is not None and _as_template(message):
            if not template.whatsapp_language:
                raise outbound.Refused(
                    _(
                        "The saved reply “%(name)s” names a WhatsApp template without its "
                        "language code: add it (as approved, e.g. ru or en_US)."
                    )
                    % {"name": template.name}
                )
            payload["type"] = "template"
            payload["template"] = _template_body(
                template.whatsapp_name, template.whatsapp_language, message.template_params
            )
        elif file is not None:
            try:
                media_id = self._upload(base, headers, message, file)
            except outbound.Unknown as error:  # an upload reaches nobody: simply again
                raise outbound.Retry(error.reason) from None
            document: dict[str, Any] = {"id": media_id, "filename": file[0][:240] or "file"}
            if message.text:
                document["caption"] = message.text[:MAX_CAPTION]
            payload.update(type="document", document=document)
        else:
            payload.update(type="text", text={"preview_url": False, "body": message.text})
        payload["biz_opaque_callback_data"] = str(message.key)
        answer = outbound.call(
            f"{base}/messages",
            provider="WhatsApp",
            body=json.dumps(payload, ensure_ascii=False).encode(),
            headers=headers,
        )
        sent = answer.data.get("messages") if isinstance(answer.data, dict) else None
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        wamid = _text(first.get("id"))
        if answer.status >= 300:
            raise refusal(answer.status, _meta_error(answer.data))
        if not wamid:  # taken, perhaps: its statuses (our key) will tell
            raise outbound.Unknown(_("WhatsApp answered without the message's id."))
        return outbound.Sent(external_id="wa:" + wamid[:180], delivered=False)

    def fetch_file(self, channel: Channel, ref: str) -> bytes:
        """A client's file: `GET /{media-id}` (its URL, size and checksum), then the URL,
        both with the access token; the URL only if https (`may_download`), the file only
        up to CHANNELS_SEND_MAX_FILE_BYTES, and as its checksum says."""
        token = sending_secret(channel, "access_token")
        if not token:
            raise outbound.Refused(
                _(
                    "The channel has no access token: WhatsApp gives the files clients send "
                    "only with one (Edit)."
                )
            )
        if not MEDIA_ID_FORMAT.match(ref):
            raise outbound.Refused(_("Not a WhatsApp media id."))
        base = outbound.base_url("WHATSAPP_API_BASE")
        headers = {"Authorization": f"Bearer {token}"}
        found = outbound.call(
            f"{base}/{ref}",
            provider="WhatsApp",
            headers=headers,
            method="GET",
            follow=lambda _target: (
                False
            ),  # the media's address comes in the answer, not by redirect
        )
        if found.status >= 300 or not isinstance(found.data, dict):
            raise media_refusal(found.status, _meta_error(found.data))
        url = _text(found.data.get("url"))
        if not may_download(url, base):
            raise outbound.Refused(
                _("WhatsApp gave a download address that is not https: the file is not taken.")
            )
        limit = settings.CHANNELS_SEND_MAX_FILE_BYTES
        if _file_size(found.data.get("file_size")) > limit:
            raise outbound.Refused(
                _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)}
            )
        download = outbound.call(
            url,
            provider="WhatsApp",
            headers=headers,
            method="GET",
            max_bytes=limit,
            follow=lambda target: may_download(target, base),
        )
        if download.status != 200:
            raise media_refusal(download.status, _meta_error(download.data))
        payload = download.raw
        if len(payload) <= limit and not digest_matches(payload, found.data.get("sha256")):
            raise outbound.Refused(_("The file WhatsApp gave does not match its checksum."))
        return payload

    @staticmethod
    def _upload(
        base: str, headers: dict[str, str], message: Message, file: tuple[str, bytes]
    ) -> str:
        """Upload a file to the number's media; its media id."""
        name, payload = file
        attachment = message.attachment
        content_type = (attachment.content_type if attachment is not None else "") or (
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        body, multipart_type = outbound.multipart(
            {"messaging_product": "whatsapp", "type": content_type},
            "file",
            name,
            payload,
            file_type=content_type,
        )
        answer = outbound.call(
            f"{base}/media",
            provider="WhatsApp",
            body=body,
            content_type=multipart_type,
            headers=headers,
        )
        media_id = _text(str(answer.data.get("id") or "")) if isinstance(answer.data, dict) else ""
        if answer.status >= 300:
            raise refusal(answer.status, _meta_error(answer.data))
        if not media_id:  # nothing was sent yet: uploading again is harmless
            raise outbound.Retry(_("WhatsApp answered the upload without the file's id."))
        return media_id


def _as_template(message: Message) -> bool:
    """Whether a reply written from a saved reply goes as its approved template: it was
    queued outside the 24-hour window (its parameters are kept), or it is the saved text
    unchanged (a template without placeholders)."""
    template = message.template
    if template is None or not template.whatsapp_name or message.attachment_id:
        return False  # a file goes as a document: a template cannot carry it
    return bool(message.template_params) or message.text == template.text


def _template_body(name: str, language: str, params: list[Any]) -> dict[str, Any]:
    """A template message's `template` object: its body parameters as text, in order."""
    body: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        parameters = [{"type": "text", "text": str(p)} for p in params]
        body["components"] = [{"type": "body", "parameters": parameters}]
    return body
