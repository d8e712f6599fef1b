"""The VK Callback API channel: people write to the tenant's VK community.

In the community's settings (Manage → API usage → Callback API) the admin adds the
channel's endpoint as a server, with a secret key of their own; VK first POSTs
`{"type": "confirmation", "group_id": …}` and expects the community's confirmation string
(shown there, entered here) as the answer. Every later event carries the `secret`, checked
in constant time (a wrong one is answered 403 and nothing is stored: VK shows the server's
error in its settings); each is answered `ok` at once — VK pauses a server that keeps
failing — and stored without the secret, keyed by its `event_id`.

`message_new` from a person (API 5.103+: `object.message`; older versions: the object is
the message) becomes an inquiry from `from_id`: VK sends no name, so the lead is
"VK id<from_id>" with the VK handle `id<from_id>` (as in the profile address
vk.com/id<from_id>); the link's `ref` and `ref_source` are its UTM tags. Messages in group
chats (peer_id ≥ 2000000000), from communities, the community's own messages
(`message_reply`, `message_edit`, `out` = 1) and every other event type are recorded and
ignored.

Replies from the cards go out with the community's access token (the "messages" right,
optional, sealed at rest) through `messages.send` to the person's peer, with a `random_id`
derived from the message's key: VK takes a repeated send with the same `random_id` to the
same peer as the same message, so a send whose answer was lost is simply made again. A
file is uploaded first (`docs.getMessagesUploadServer` → the upload URL → `docs.save`) and
attached as `doc<owner>_<id>`. A sent message is "vk:<peer>:<id>", like the inbound ones;
`message_read` (the person read the community's messages up to `read_message_id`) marks
it, and the earlier ones to that person, read.

A message's documents, photos (the largest size) and voice messages come with addresses to
download them from; after the message is recorded the worker fetches each (`fetch_file`) —
only https on VK's own hosts (FILE_HOSTS, redirects included), never more than the size
limit and a byte — and keeps it in the thread (channels.conversations.message_files_fetch).
An address elsewhere is refused without a request and noted with the reason.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import urllib.parse
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
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
    load_json,
    register,
)
from channels.adapters.api import json_object
from channels.adapters.sealed import SealedConfigForm, config_secret, sealed_field, sending_secret
from channels.adapters.telegram import start_utm
from channels.models import Channel, Message
from leads.models import LeadSource, Messenger

# VK's rule for a Callback API secret key: Latin letters and digits, up to 50.
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9]{1,50}$")
CONFIRMATION_FORMAT = re.compile(r"^[A-Za-z0-9]{1,64}$")
# A community access token: "vk1.a.…" (URL-safe characters) or the older 85 hex digits.
TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9._-]{32,512}$")
# The API version replies are sent with (messages.send answers the message id).
API_VERSION = "5.199"
# VK's error codes (dev.vk.com, "Errors"): worth trying again — unknown error, too many
# requests per second, flood control, internal error; every other one refuses the message.
RETRY_CODES = frozenset({1, 6, 9, 10})
# Peer ids of group chats start here (VK API: peer_id = 2000000000 + chat_id).
CHAT_PEER = 2_000_000_000
OUTGOING = ("message_reply", "message_edit")
# What a message without text carries: VK attachment types, as a line for the timeline.
ATTACHMENTS = (
    "photo",
    "video",
    "audio",
    "audio_message",
    "doc",
    "link",
    "market",
    "market_album",
    "wall",
    "wall_reply",
    "sticker",
    "gift",
    "graffiti",
    "poll",
    "call",
)
# Where VK keeps the files people send (documents, photos, voice messages): a download
# address is followed only to these hosts and their subdomains, over https — or to the
# configured API's own scheme and host (a local stand-in). Any other is refused unasked.
FILE_HOSTS = (
    "vk.com",
    "vk.me",
    "userapi.com",
    "vkuseraudio.net",
    "vkuservideo.net",
    "vk-cdn.net",
)
# Photo sizes from the smallest to the largest (VK "Photo sizes"), for sizes that do not
# give their width and height.
PHOTO_TYPES = "smxopqryzw"


class VkConfigForm(SealedConfigForm):
    group_id = forms.IntegerField(
        label=gettext_lazy("Community ID"),
        min_value=1,
        help_text=gettext_lazy(
            "The digits of the community's address vk.com/club<ID>, also shown on the "
            "Callback API page (group_id)."
        ),
    )
    confirmation = forms.CharField(
        label=gettext_lazy("Confirmation string"),
        max_length=64,
        strip=True,
        help_text=gettext_lazy(
            "Callback API page: “String to be returned” — VK asks the server for it once."
        ),
    )
    secret_key = sealed_field(
        gettext_lazy("Secret key"),
        gettext_lazy(
            "Make up a key of Latin letters and digits (up to 50) and enter the same in the "
            "Callback API's “Secret key” field; it is stored encrypted."
        ),
        max_length=50,
    )
    community_token = sealed_field(
        gettext_lazy("Community access token"),
        gettext_lazy(
            "To answer clients from the cards: Manage → API usage → Access tokens → Create "
            "token, with “Access to community messages” (and “Access to documents” to send "
            "files); stored encrypted. Leave empty to only receive messages."
        ),
        max_length=512,
    )

    sealed_fields = (
        (
            "secret_key",
            SECRET_FORMAT,
            gettext_lazy("VK takes a secret key of Latin letters and digits, up to 50."),
        ),
        (
            "community_token",
            TOKEN_FORMAT,
            gettext_lazy("Paste the community's access token exactly as VK shows it (vk1.a.…)."),
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community_token"].required = False  # replies are optional

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if not CONFIRMATION_FORMAT.match(value):
            raise forms.ValidationError(_("Copy the string exactly as VK shows it, e.g. 1a2b3c4d."))
        return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        data = load_json(body)
    except Rejected:
        return None
    return data if isinstance(data, dict) else None


def _describe(message: dict[str, Any]) -> str:
    """A message without text as a line: "[photo]", "[doc] name.pdf", "[geo] …"."""
    kinds = []
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("type") or "attachment")[:32]
        body = attachment.get(kind) if isinstance(attachment.get(kind), dict) else {}
        detail = str(body.get("title") or body.get("url") or "") if kind in ("doc", "link") else ""
        kinds.append(f"[{kind.replace('_', ' ')}] {detail}".strip())
    geo = message.get("geo")
    if isinstance(geo, dict):
        place = geo.get("place") if isinstance(geo.get("place"), dict) else {}
        coordinates = geo.get("coordinates") if isinstance(geo.get("coordinates"), dict) else {}
        where = str(place.get("title") or "")
        if coordinates:
            where = f"{where} ({coordinates.get('latitude')}, {coordinates.get('longitude')})"
        kinds.append(f"[geo] {where.strip()}".strip())
    if message.get("fwd_messages"):
        kinds.append("[forwarded messages]")
    return " ".join(kinds) or "[message]"


def _url(value: Any) -> str:
    """An address as VK gave it (checked only when downloading: `may_download`)."""
    return value.strip() if isinstance(value, str) else ""


def _photo_size(size: dict[str, Any]) -> tuple[int, int]:
    width, height = _int(size.get("width")) or 0, _int(size.get("height")) or 0
    return width * height, PHOTO_TYPES.find(str(size.get("type") or ""))


def _attachment_file(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """One attachment's file to download (`InboundMessage.files`), or None."""
    if kind == "doc":
        url, title = _url(body.get("url")), str(body.get("title") or "").strip()
        extension = str(body.get("ext") or "").strip().lstrip(".")
        if extension and not title.lower().endswith("." + extension.lower()):
            title = f"{title or 'document'}.{extension}"
        name = title or "document"
        size = _int(body.get("size")) or 0
    elif kind == "photo":
        # API 5.199 may add the original as `orig_photo`, beside the sizes.
        candidates = [*(body.get("sizes") or []), body.get("orig_photo")]
        sizes = [s for s in candidates if isinstance(s, dict) and _url(s.get("url"))]
        if not sizes:
            return None
        url, name, size = _url(max(sizes, key=_photo_size).get("url")), "photo.jpg", 0
    elif kind == "audio_message":
        # The MP3 over the OGG: every browser plays it in the thread.
        mp3, ogg = _url(body.get("link_mp3")), _url(body.get("link_ogg"))
        url, name, size = (mp3, "voice.mp3", 0) if mp3 else (ogg, "voice.ogg", 0)
    else:
        return None
    if not url:
        return None
    return {"ref": url, "name": name, "type": mimetypes.guess_type(name)[0] or "", "size": size}


def _files(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of a message's attachments: documents, photos (the largest size), voice
    messages — each a download address VK gives (fetched later, `VkAdapter.fetch_file`)."""
    files = []
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("type") or "")
        body = attachment.get(kind)
        found = _attachment_file(kind, body) if isinstance(body, dict) else None
        if found is not None:
            files.append(found)
    return files


def may_download(url: str) -> bool:
    """Whether a download address is VK's own (https on FILE_HOSTS) or the configured API's
    scheme and host; nothing else is ever requested (no other scheme, no other host)."""
    try:
        parts = urllib.parse.urlsplit(url)
        api = urllib.parse.urlsplit(outbound.base_url("VK_API_BASE"))
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except (ValueError, outbound.Refused):
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or parts.username is not None or any(c.isspace() for c in url):
        return False
    if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
        return True
    return parts.scheme == "https" and any(
        host == known or host.endswith("." + known) for known in FILE_HOSTS
    )


def _key(data: dict[str, Any], message: dict[str, Any] | None, body_hash: str) -> str:
    """The event's `event_id` (VK sends it again with a retried event); without it (older
    servers) the message's peer and id; else the body."""
    event_id = data.get("event_id")
    if isinstance(event_id, str) and event_id.strip():
        return "event:" + event_id.strip()[:150]
    if message is not None:
        number = _int(message.get("id")) or _int(message.get("conversation_message_id"))
        peer = _int(message.get("peer_id")) or _int(message.get("from_id"))
        if number and peer:
            return f"msg:{peer}:{number}"
    return body_hash


def read_event(data: dict[str, Any], group_id: int | None, body_hash: str) -> Delivery:
    """A Callback API event as a delivery: a person's new message, or why it is ignored."""
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise Rejected(_("A VK event needs its type."))
    their_group = _int(data.get("group_id"))
    if kind == "message_read":
        return _read_mark(data, group_id, body_hash)
    if kind != "message_new":
        key = _key(data, None, body_hash)
        if kind in OUTGOING:
            return Delivery(key=key, ignored=_("The community's own message."))
        reason = _("Events of type “%(type)s” are not used.") % {"type": kind[:64]}
        return Delivery(key=key, ignored=reason)
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise Rejected(_("A message_new event needs its object."))
    # API 5.103+: {"message": {...}, "client_info": {...}}; before: the message itself.
    message = obj.get("message") if isinstance(obj.get("message"), dict) else obj
    key = _key(data, message, body_hash)
    if group_id and their_group != group_id:
        return Delivery(
            key=key,
            ignored=_("An event of another community (%(group)s).") % {"group": their_group or "?"},
        )
    sender = _int(message.get("from_id")) or _int(message.get("user_id"))
    if not sender:
        raise Rejected(_("A VK message needs its sender (from_id)."))
    peer = _int(message.get("peer_id")) or sender
    if message.get("out") == 1:
        return Delivery(key=key, ignored=_("The community's own message."))
    if peer >= CHAT_PEER:
        reason = _("A message in a group chat: only private messages make leads.")
        return Delivery(key=key, ignored=reason)
    if sender < 0:
        return Delivery(key=key, ignored=_("A message from a community."))
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        text = message.get("body")  # API before 5.80
    text = text.strip() if isinstance(text, str) and text.strip() else _describe(message)
    ref = str(message.get("ref") or "").strip()[:200]
    ref_source = str(message.get("ref_source") or "").strip()[:200]
    utm = start_utm(ref)
    if ref_source:
        utm.setdefault("utm_source", ref_source)
    number = _int(message.get("id")) or _int(message.get("conversation_message_id")) or 0
    handle = f"id{sender}"
    return Delivery(
        key=key,
        message=InboundMessage(
            source=LeadSource.VK,
            messenger=Messenger.VK,
            messenger_id=handle,
            name=f"VK {handle}",
            message=text[:10_000],
            utm=utm,
            start_param=" ".join(p for p in (ref, ref_source and f"({ref_source})") if p),
            external_id=f"vk:{peer}:{number}" if number else "",
            files=_files(message),
        ),
    )


def _read_mark(data: dict[str, Any], group_id: int | None, body_hash: str) -> Delivery:
    """`message_read`: the person read the community's messages up to `read_message_id` —
    a read report on that sent message ("vk:<peer>:<id>") and the earlier ones."""
    key = _key(data, None, body_hash)
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise Rejected(_("A message_read event needs its object."))
    their_group = _int(data.get("group_id"))
    if group_id and their_group != group_id:
        return Delivery(
            key=key,
            ignored=_("An event of another community (%(group)s).") % {"group": their_group or "?"},
        )
    peer = _int(obj.get("peer_id")) or _int(obj.get("from_id"))
    number = _int(obj.get("read_message_id"))
    if not peer or not number:
        raise Rejected(_("A message_read event needs its peer_id and read_message_id."))
    if peer >= CHAT_PEER or peer < 0:
        return Delivery(key=key, ignored=_("A read mark outside a private conversation."))
    return Delivery(
        key=key,
        message=InboundMessage(
            kind="status",
            event="read",
            source=LeadSource.VK,
            external_id=f"vk:{peer}:{number}",
            properties={"earlier_read": True},
        ),
    )


def random_id(message: Message) -> int:
    """The message's `random_id`: a positive int32 taken from its whole key, the same on
    every attempt (VK sends a repeated `random_id` of its recent messages only once). Two
    replies share one with a chance of 1 in 2³¹."""
    return message.key.int % 0x7FFFFFFF + 1


def _vk_error(data: Any) -> tuple[int, str] | None:
    """VK's `{"error": {"error_code", "error_msg"}}` as (code, message), or None."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code = _int(error.get("error_code")) or 0
    return code, str(error.get("error_msg") or "?")[:300]


def _refusal(code: int, text: str) -> str:
    """What a manager reads when VK refuses a message: VK's words, and what to do."""
    hints = {
        5: _("The community token is wrong or revoked: create a new one and enter it (Edit)."),
        15: _("The token lacks the “Access to community messages” right, or messages are off."),
        901: _("The client has not allowed messages from the community: wait for them to write."),
        902: _("The client's privacy settings do not let the community write to them."),
        917: _("The community has no access to this conversation."),
    }
    reason = _("VK refused the message: %(error)s (%(code)s).") % {"error": text, "code": code}
    hint = hints.get(code)
    return f"{reason} {hint}" if hint else reason


def vk_api(method: str, params: dict[str, str], token: str) -> Any:
    """Call a VK API method with the community token (form-encoded POST); its `response`.
    Raises outbound.Retry for VK's transient errors, Refused for the others (and for an
    answer without `response`); the network's Retry/Unknown pass through."""
    base = outbound.base_url("VK_API_BASE")
    body = urllib.parse.urlencode({**params, "access_token": token, "v": API_VERSION}).encode()
    answer = outbound.call(
        f"{base}/{method}",
        provider="VK",
        body=body,
        content_type="application/x-www-form-urlencoded",
    )
    failure = _vk_error(answer.data)
    if failure is not None:
        code, text = failure
        if code in RETRY_CODES:
            raise outbound.Retry(
                _("VK asked to try again later: %(error)s (%(code)s).")
                % {"error": text, "code": code}
            )
        raise outbound.Refused(_refusal(code, text))
    if not isinstance(answer.data, dict) or "response" not in answer.data:
        raise outbound.Refused(
            _("VK gave an unreadable answer (HTTP %(status)s).") % {"status": answer.status}
        )
    return answer.data["response"]


def _before_sending(step: Any) -> Any:
    """Run an upload step: nothing is sent to the person yet, so a lost answer is just a
    reason to try again (Retry, not Unknown)."""
    try:
        return step()
    except outbound.Unknown as lost:
        raise outbound.Retry(lost.reason) from None


def _upload_doc(token: str, peer: str, file: tuple[str, bytes]) -> str:
    """Upload a file for the conversation with `peer`: its attachment "doc<owner>_<id>"."""
    name, payload = file
    server = _before_sending(
        lambda: vk_api("docs.getMessagesUploadServer", {"type": "doc", "peer_id": peer}, token)
    )
    url = str(server.get("upload_url") or "") if isinstance(server, dict) else ""
    if not url.startswith(("https://", "http://")):
        raise outbound.Refused(_("VK gave no upload address for the file."))
    body, content_type = outbound.multipart({}, "file", name, payload)
    uploaded = _before_sending(
        lambda: outbound.call(url, provider="VK", body=body, content_type=content_type)
    )
    data = uploaded.data if isinstance(uploaded.data, dict) else {}
    if not data.get("file"):
        error = str(data.get("error_descr") or data.get("error") or uploaded.status)[:300]
        raise outbound.Refused(_("VK did not take the file: %(error)s") % {"error": error})
    saved = _before_sending(
        lambda: vk_api("docs.save", {"file": str(data["file"]), "title": name[:128]}, token)
    )
    doc = saved.get("doc") if isinstance(saved, dict) else None
    if isinstance(saved, list) and saved and isinstance(saved[0], dict):
        doc = saved[0]  # API versions before 5.103 answer a list of documents
    owner, number = (_int(doc.get("owner_id")), _int(doc.get("id"))) if doc else (None, None)
    if not owner or not number:
        raise outbound.Refused(_("VK did not save the file."))
    return f"doc{owner}_{number}"


def _shown_host(url: str) -> str:
    """An address's scheme and host, for a refusal's reason (never its path or query)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "?"
    return f"{parts.scheme}://{parts.hostname or ''}"[:100] if parts.scheme else "?"


def _sent_id(response: Any) -> int | None:
    """The message id of messages.send's `response` (a number; a list with `peer_ids`)."""
    if isinstance(response, list):
        first = response[0] if response and isinstance(response[0], dict) else {}
        if isinstance(first.get("error"), dict):
            code, text = _vk_error(first) or (0, "?")
            raise outbound.Refused(_refusal(code, text))
        return _int(first.get("message_id"))
    return _int(response)


@register
class VkAdapter(Adapter):
    kind = "vk"
    config_form = VkConfigForm
    setup_template = "channels/kinds/vk.html"
    uses_secret = False

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return HttpResponse(status=404)
        if request.method != "POST":
            return None
        data = _payload(request.body)
        if data is None or data.get("type") != "confirmation":
            return None
        # The server check: the confirmation string, only for the channel's community.
        confirmation = str(channel.config.get("confirmation") or "")
        wanted = _int(channel.config.get("group_id"))
        if not confirmation or _int(data.get("group_id")) != wanted:
            return HttpResponse("unknown community", status=403, content_type="text/plain")
        return HttpResponse(confirmation, content_type="text/plain")

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        data = _payload(request.body)
        sent = data.get("secret") if data is not None else None
        secret = config_secret(channel, "secret_key")
        if not isinstance(sent, str) or not sent or not secret:
            raise Forbidden
        if not hmac.compare_digest(sent.encode(), secret.encode()):
            raise Forbidden

    def parts(self, raw: RawDelivery, channel: Channel) -> list[RawDelivery]:
        """The event without its `secret`: admins see stored deliveries."""
        data = json_object(raw)
        if "secret" not in data:
            return [raw]
        del data["secret"]
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return [
            RawDelivery(
                body=body,
                content_type=raw.content_type,
                headers=raw.headers,
                path=raw.path,
                query=raw.query,
                remote_addr=raw.remote_addr,
            )
        ]

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        group_id = _int(channel.config.get("group_id"))
        return read_event(json_object(raw), group_id, raw.body_hash())

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        return HttpResponse("ok", content_type="text/plain")

    def reject(self, request: HttpRequest, channel: Channel, error: Rejected) -> HttpResponse:
        # Stored as rejected with its reason; anything but "ok" makes VK send it again.
        return HttpResponse("ok", content_type="text/plain")

    # --- Replies (messages.send with the community token) -----------------------------------

    replies = True
    max_reply = 4096
    send_idempotent = True  # random_id: VK sends a repeated one to the same peer only once
    # …within a limited window (VK keeps recent random_ids only): past 50 minutes a send
    # whose answer was lost is not made again.
    send_idempotent_for = 50 * 60
    sealed_keys = ("secret_key", "community_token")

    def reply_address(self, message: dict[str, Any]) -> str:
        """The person's peer id: from "vk:<peer>:<message>", else their handle id<user>."""
        parts = str(message.get("external_id") or "").split(":")
        if len(parts) == 3 and parts[0] == "vk" and parts[1].isdigit():
            return parts[1]
        handle = str(message.get("messenger_id") or "")
        return handle[2:] if handle.startswith("id") and handle[2:].isdigit() else ""

    def reply_problem(self, channel: Channel) -> str:
        if not channel.config.get("community_token"):
            return _("The channel has no community access token: add one (Edit) to answer.")
        return ""

    def fetch_file(self, channel: Channel, ref: str) -> bytes:
        """A client's file from the address VK gave (no token needed): only VK's own hosts
        over https (`may_download`, redirects too), at most CHANNELS_SEND_MAX_FILE_BYTES
        and a byte read."""
        if not may_download(ref):
            raise outbound.Refused(
                _("The file's address is not VK's: it is not downloaded (%(host)s).")
                % {"host": _shown_host(ref)}
            )
        answer = outbound.call(
            ref,
            provider="VK",
            method="GET",
            max_bytes=settings.CHANNELS_SEND_MAX_FILE_BYTES,
            follow=may_download,
        )
        if 300 <= answer.status < 400:
            raise outbound.Refused(
                _("VK sent the file's download elsewhere than its own hosts: not followed.")
            )
        if answer.status != 200:
            raise outbound.Refused(
                _("VK did not give the file (HTTP %(status)s).") % {"status": answer.status}
            )
        return answer.raw

    def send(
        self, channel: Channel, message: Message, file: tuple[str, bytes] | None
    ) -> outbound.Sent:
        token = sending_secret(channel, "community_token")
        if not token:
            raise outbound.Refused(_("The channel has no community access token."))
        peer = message.address
        if not peer.isdigit():
            raise outbound.Refused(_("The client's VK conversation is unknown."))
        params = {"peer_id": peer, "random_id": str(random_id(message))}
        if message.text:
            params["message"] = message.text
        if file is not None:
            params["attachment"] = _upload_doc(token, peer, file)
        number = _sent_id(vk_api("messages.send", params, token))
        if not number:
            raise outbound.Refused(_("VK gave no id for the message."))
        return outbound.Sent(external_id=f"vk:{peer}:{number}", delivered=True)
