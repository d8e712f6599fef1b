"""The Telegram bot channel: people write to the tenant's bot, the CRM gets leads.

The admin pastes the bot token (from @BotFather); saving the channel registers the
channel's endpoint as the bot's webhook (`setWebhook` with the channel secret as
`secret_token`), deleting it or switching it off removes the webhook. Telegram then POSTs
each Update to /in/<token>/ with the header `X-Telegram-Bot-Api-Secret-Token`; its
`update_id` is the idempotency key (Telegram retries until it gets a 2xx).

A private message becomes an inquiry from the sender (`from`): the text as the message; a
contact the sender shares of themselves (`contact.user_id` is the sender's id) as their
phone — their open lead takes it too (channels/pipeline.py); someone else's contact card
only as a line of the message; the `/start <param>` deep-link parameter as UTM tags
(`source__medium__campaign[__content[__term]]`, optionally prefixed `utm_`, e.g.
`utm_yandex__cpc__spring`; a single value is the campaign) and kept as sent. An
`edited_message` edits the message it names. A button press (`callback_query`) from a
person the CRM knows goes to their lead's timeline with the button's data and text — never
as a message (its `message` is the bot's). Group and channel chats and other update types
are recorded and ignored.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
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
from channels.adapters.sealed import config_secret, sending_secret
from channels.models import Channel, Message
from crm.errors import DomainError
from crm.secrets import SecretUnreadable, is_sealed, seal, unseal
from crm.urlnames import site_url
from leads.models import LeadSource, Messenger

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
TOKEN_FORMAT = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,100}$")
# Telegram's rule for a webhook's secret_token.
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TIMEOUT = 10
# What Telegram lets a deep link's /start parameter hold (Bot API, "Deep linking").
DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UTM_ORDER = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
PHONE_DIGITS = re.compile(r"^[\d\s()-]+$")
# What a message without text carries, in the order Telegram's Message object lists them.
MEDIA_KINDS = (
    "animation",
    "audio",
    "document",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
    "invoice",
)


class TelegramError(Exception):
    """The Bot API could not be reached or refused a call."""

    def __init__(self, description: str, code: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.code = code


def bot_api(token: str, method: str, **params: Any) -> Any:
    """Call a Bot API method; its `result`, or TelegramError (the token is never in it)."""
    base = settings.TELEGRAM_API_BASE.rstrip("/")
    # An http(s) URL from settings (S310: no file: or custom schemes reach urlopen).
    if not base.startswith(("https://", "http://")):
        raise TelegramError(_("TELEGRAM_API_BASE must be an http(s) URL."))
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        f"{base}/bot{token}/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as error:  # Telegram answers errors with a JSON body too
        body = error.read()
    except OSError as error:  # URLError, timeouts, refused connections
        reason = getattr(error, "reason", error)
        raise TelegramError(
            _("Telegram cannot be reached (%(reason)s).") % {"reason": reason}
        ) from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise TelegramError(_("Telegram gave an unreadable answer.")) from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        answer = answer if isinstance(answer, dict) else {}
        raise TelegramError(str(answer.get("description") or "?"), answer.get("error_code"))
    return answer.get("result")


def webhook_url(channel: Channel) -> str:
    """The public endpoint Telegram posts the bot's updates to."""
    path = reverse("inbound", kwargs={"token": channel.token})
    return site_url() + path


def token_hint(token: str) -> str:
    """The bot token as pages may show it: the bot's id and the last characters."""
    bot_id, _sep, secret = token.partition(":")
    return f"{bot_id}:…{secret[-4:]}" if secret else ""


class TelegramConfigForm(forms.Form):
    bot_token = forms.CharField(
        label=gettext_lazy("Bot token"),
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=gettext_lazy(
            "From @BotFather, like 123456789:AAH…; saving registers the webhook with Telegram."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.initial.get("bot_token") or ""
        if current:  # editing: leave empty to keep the token, which is never shown back
            self.fields["bot_token"].required = False
            try:
                hint = token_hint(unseal(current))
            except SecretUnreadable:
                hint = "?"
            self.fields["bot_token"].help_text = _(
                "Current token: %(hint)s. Leave empty to keep it."
            ) % {"hint": hint}

    def clean_bot_token(self) -> str:
        """The token sealed (stored encrypted: it sends messages as the bot)."""
        token = self.cleaned_data["bot_token"]
        if not token:
            saved = str(self.initial.get("bot_token") or "")
            return saved if is_sealed(saved) else seal(saved)
        if not TOKEN_FORMAT.match(token):
            raise forms.ValidationError(
                _("A bot token looks like 123456789:AAH… (digits, a colon, then 35 characters).")
            )
        return seal(token)


def _full_name(person: dict[str, Any]) -> str:
    parts = (person.get("first_name"), person.get("last_name"))
    return " ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())


def _phone(contact: dict[str, Any]) -> str:
    """A shared contact's number: Telegram sends it in international format, with or
    without its "+" (`79991234567`), which would read as a national number without it."""
    phone = str(contact.get("phone_number") or "").strip()
    return "+" + phone if PHONE_DIGITS.match(phone) else phone


def _describe(message: dict[str, Any]) -> str:
    """A message without text as a line for the timeline: "[photo] caption"."""
    kind = next((k for k in MEDIA_KINDS if message.get(k)), "")
    detail = ""
    media = message.get(kind)
    if kind == "document" and isinstance(media, dict):
        detail = str(media.get("file_name") or "")
    elif kind == "sticker" and isinstance(media, dict):
        detail = str(media.get("emoji") or "")
    elif kind == "contact" and isinstance(media, dict):
        detail = f"{_full_name(media)} {_phone(media)}".strip()
    elif kind == "poll" and isinstance(media, dict):
        detail = str(media.get("question") or "")
    elif kind == "location" and isinstance(media, dict):
        detail = f"{media.get('latitude')}, {media.get('longitude')}"
    caption = message.get("caption")
    parts = [f"[{kind or 'message'}]", detail, caption if isinstance(caption, str) else ""]
    return " ".join(p.strip() for p in parts if p and p.strip())


# Files a message may carry, and the name one without its own gets.
FILE_KINDS = {
    "document": "document",
    "photo": "photo.jpg",
    "video": "video.mp4",
    "animation": "animation.mp4",
    "audio": "audio.mp3",
    "voice": "voice.ogg",
    "video_note": "video_note.mp4",
}


def _files(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's file to download (a photo: its largest size), as
    `InboundMessage.files`."""
    for kind, default_name in FILE_KINDS.items():
        media = message.get(kind)
        if kind == "photo" and isinstance(media, list):
            sizes = [p for p in media if isinstance(p, dict) and p.get("file_id")]
            media = max(sizes, key=lambda p: p.get("file_size") or 0) if sizes else None
        if not isinstance(media, dict) or not isinstance(media.get("file_id"), str):
            continue
        return [
            {
                "ref": media["file_id"],
                "name": str(media.get("file_name") or default_name),
                "type": str(media.get("mime_type") or ""),
                "size": media.get("file_size") if isinstance(media.get("file_size"), int) else 0,
            }
        ]
    return []


def _start_parameter(text: str) -> tuple[bool, str]:
    """(is a /start command, its deep-link parameter). "/start" followed by text that no
    deep link can carry is someone typing: a message like any other."""
    command, _sep, rest = text.strip().partition(" ")
    if command == "/start" or command.startswith("/start@"):
        parameter = rest.strip()
        if not parameter or DEEP_LINK.match(parameter):
            return True, parameter
    return False, ""


def start_utm(parameter: str) -> dict[str, str]:
    """The UTM tags of a deep link's parameter: `source__medium__campaign` (then content
    and term), the source optionally prefixed `utm_` (`utm_yandex__cpc__spring`); a
    parameter without `__` is the campaign (`promo_winter`)."""
    if not parameter:
        return {}
    if "__" not in parameter:
        return {"utm_campaign": parameter}
    parts = parameter.split("__")
    parts[0] = parts[0].removeprefix("utm_")
    parts[4:] = ["__".join(parts[4:])] if len(parts) > 4 else []
    return {key: value for key, value in zip(UTM_ORDER, parts, strict=False) if value}


def read_update(update: dict[str, Any]) -> Delivery:
    """An Update as a delivery: a private message or its edit, or why it is ignored."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise Rejected(_("A Telegram update needs its numeric update_id."))
    key = f"update:{update_id}"
    if "callback_query" in update:
        return _button_press(key, update["callback_query"])
    edited = "message" not in update and "edited_message" in update
    message = update.get("edited_message" if edited else "message")
    if message is None:
        kinds = sorted(k for k in update if k != "update_id")
        kind = kinds[0] if kinds else "?"
        return Delivery(
            key=key, ignored=_("Updates of type “%(kind)s” are not used.") % {"kind": kind}
        )
    if not isinstance(message, dict):
        raise Rejected(_("The update's message must be an object."))
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or not isinstance(message.get("message_id"), int):
        raise Rejected(_("The message has no chat or no message_id."))
    if chat.get("type") != "private":
        return Delivery(
            key=key,
            ignored=_("A message in a %(type)s chat: only private chats make leads.")
            % {"type": chat.get("type") or "?"},
        )
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        raise Rejected(_("The message has no sender."))
    if sender.get("is_bot"):
        return Delivery(key=key, ignored=_("A message from a bot."))
    return Delivery(key=key, message=_inquiry(message, sender, chat, edited))


def _inquiry(
    message: dict[str, Any], sender: dict[str, Any], chat: dict[str, Any], edited: bool
) -> InboundMessage:
    name = _full_name(sender)[:200]
    username = str(sender.get("username") or "").strip()
    text = message.get("text")
    text = text if isinstance(text, str) else _describe(message)
    is_start, parameter = _start_parameter(text) if not edited else (False, "")
    contact = message.get("contact")
    own_contact = isinstance(contact, dict) and contact.get("user_id") == sender["id"]
    phone = _phone(contact)[:64] if isinstance(contact, dict) and own_contact else ""
    message_id = f"tg:{chat.get('id')}:{message['message_id']}"
    return InboundMessage(
        source=LeadSource.TELEGRAM,
        messenger=Messenger.TELEGRAM,
        messenger_id=str(sender["id"]),
        name=name,
        # The username is kept in the title (the lead's name stays the person's name).
        title=(f"{name} (@{username})" if name else f"@{username}")[:200] if username else "",
        message="" if is_start else text[:10_000],
        phone=phone,
        own_phone=bool(phone),
        utm=start_utm(parameter),
        start_param=parameter,
        external_id=message_id,
        edit_of=message_id if edited else "",
        files=[] if edited else _files(message),
        # An edit's own time orders edits that arrive out of order.
        occurred_at=_edit_time(message) if edited else "",
    )


def _edit_time(message: dict[str, Any]) -> str:
    """The edit's `edit_date` (Unix seconds) as ISO 8601, or "" when absent or unreadable."""
    value = message.get("edit_date")
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    try:
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


def _button_text(message: dict[str, Any], data: str) -> str:
    """The text of the inline keyboard button of `message` whose callback data is `data`."""
    markup = message.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and data and button.get("callback_data") == data:
                return str(button.get("text") or "")
    return ""


def _text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _button_press(key: str, query: Any) -> Delivery:
    """A CallbackQuery: the person (`from`) pressed an inline button under a message of
    the bot (`message`, absent for inline-mode messages). Its data (or game) and the
    button's text — never the bot's message as the person's words."""
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        raise Rejected(_("A callback query needs its id."))
    sender = query.get("from")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        raise Rejected(_("The callback query has no sender."))
    if sender.get("is_bot"):
        return Delivery(key=key, ignored=_("A button pressed by a bot."))
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat")
    if isinstance(chat, dict) and chat.get("type") != "private":
        return Delivery(
            key=key,
            ignored=_("A button in a %(type)s chat: only private chats are taken.")
            % {"type": chat.get("type") or "?"},
        )
    data, game = _text_of(query.get("data")), _text_of(query.get("game_short_name"))
    button = _button_text(message, data)
    question = _text_of(message.get("text")) or _text_of(message.get("caption"))
    return Delivery(
        key=key,
        message=InboundMessage(
            kind="button",
            source=LeadSource.TELEGRAM,
            messenger=Messenger.TELEGRAM,
            messenger_id=str(sender["id"]),
            name=_full_name(sender)[:200],
            event=(button or data or game or "?")[:200],
            properties={
                name: value
                for name, value in (
                    ("data", data[:200]),
                    ("button", button[:200]),
                    ("game", game[:200]),
                    ("question", question[:300]),
                )
                if value
            },
            external_id=f"tgcb:{query['id'][:100]}",
        ),
    )


@register
class TelegramAdapter(Adapter):
    kind = "telegram"
    config_form = TelegramConfigForm
    setup_template = "channels/kinds/telegram.html"

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return HttpResponse(status=404)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        secret = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(secret.encode(), channel.secret.encode()):
            raise Forbidden

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        return read_update(json_object(raw))

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        # An empty 200: Telegram would run a Bot API method named in a JSON answer — which
        # a button press wants: answerCallbackQuery stops the button's progress indicator.
        query_id = str((event.message or {}).get("external_id") or "")
        if (event.message or {}).get("kind") == "button" and query_id.startswith("tgcb:"):
            answer = {"method": "answerCallbackQuery", "callback_query_id": query_id[5:]}
            return JsonResponse(answer, status=200)
        return HttpResponse(status=200)

    def on_save(self, channel: Channel) -> None:
        """Register the webhook (or remove it when the channel is off) and note the bot."""
        try:
            token = config_secret(channel, "bot_token")
        except Forbidden:
            raise DomainError(_("The bot token cannot be decrypted: enter it again.")) from None
        if not token:
            raise DomainError(_("Enter the bot token."))
        config = dict(channel.config)
        if channel.enabled:
            if not SECRET_FORMAT.match(channel.secret):
                raise DomainError(
                    _("A Telegram webhook secret may hold only A–Z, a–z, 0–9, “_” and “-”.")
                )
            try:
                bot = bot_api(token, "getMe")
                url = webhook_url(channel)
                bot_api(
                    token,
                    "setWebhook",
                    url=url,
                    secret_token=channel.secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except TelegramError as error:
                if error.code is not None:  # Telegram answered: the token or the URL is wrong
                    raise DomainError(self._refusal(error)) from None
                # Telegram cannot be reached (network, outage): keep the channel and say so on
                # its page; saving it again (or a new secret) registers the webhook.
                logger.warning(
                    "Telegram channel %s: webhook not registered: %s",
                    channel.pk,
                    error.description,
                )
                config.update(webhook_url="", webhook_set_at="", webhook_error=error.description)
            else:
                config.update(
                    bot_username=str(bot.get("username") or ""),
                    webhook_url=url,
                    webhook_set_at=timezone.now().isoformat(),
                    webhook_error="",
                )
        else:
            self._remove_webhook(channel)
            config.update(webhook_url="", webhook_set_at="")
        channel.config = config
        channel.save(update_fields=["config", "updated_at"])

    def on_delete(self, channel: Channel) -> None:
        """Remove the webhook; a refusal (token revoked…) does not keep the channel."""
        self._remove_webhook(channel)

    def _remove_webhook(self, channel: Channel) -> None:
        try:
            token = config_secret(channel, "bot_token")
        except Forbidden:
            return
        if not token:
            return
        try:
            bot_api(token, "deleteWebhook")
        except TelegramError as error:
            logger.warning(
                "Telegram channel %s: deleteWebhook failed: %s", channel.pk, error.description
            )

    # --- Replies (Bot API sendMessage / sendDocument) ---------------------------------------

    replies = True
    max_reply = 4096
    max_caption = 1024  # sendDocument's caption
    sealed_keys = ("bot_token",)

    def reply_address(self, message: dict[str, Any]) -> str:
        """The private chat (its id is the person's): from "tg:<chat>:<message>"."""
        parts = str(message.get("external_id") or "").split(":")
        if len(parts) == 3 and parts[0] == "tg" and parts[1].lstrip("-").isdigit():
            return parts[1]
        handle = str(message.get("messenger_id") or "")
        return handle if handle.isdigit() else ""

    def reply_problem(self, channel: Channel) -> str:
        if not channel.config.get("bot_token"):
            return _("The channel has no bot token.")
        return ""

    def fetch_file(self, channel: Channel, ref: str) -> bytes:
        """getFile, then the file from the Bot API's file URL (bots may download up to
        20 MB)."""
        token = sending_secret(channel, "bot_token")
        base = outbound.base_url("TELEGRAM_API_BASE")
        body = json.dumps({"file_id": ref}).encode()
        answer = outbound.call(f"{base}/bot{token}/getFile", provider="Telegram", body=body)
        data = answer.data if isinstance(answer.data, dict) else {}
        path = (data.get("result") or {}).get("file_path") if data.get("ok") else None
        if not isinstance(path, str) or not path or ".." in path:
            reason = str(data.get("description") or answer.status)
            raise outbound.Refused(
                _("Telegram did not give the file: %(error)s") % {"error": reason}
            )
        download = outbound.call(
            f"{base}/file/bot{token}/{path.lstrip('/')}",
            provider="Telegram",
            method="GET",
            max_bytes=settings.CHANNELS_SEND_MAX_FILE_BYTES,  # a local Bot API server: 2 GB
            follow=lambda _target: False,
        )
        if download.status != 200:
            raise outbound.Refused(
                _("Telegram did not give the file: %(error)s") % {"error": download.status}
            )
        return download.raw

    def send(
        self, channel: Channel, message: Message, file: tuple[str, bytes] | None
    ) -> outbound.Sent:
        token = sending_secret(channel, "bot_token")
        base = outbound.base_url("TELEGRAM_API_BASE")
        if file is None:
            body = json.dumps({"chat_id": message.address, "text": message.text}).encode()
            answer = outbound.call(f"{base}/bot{token}/sendMessage", provider="Telegram", body=body)
        else:
            fields = {"chat_id": message.address}
            if message.text:
                fields["caption"] = message.text
            body, content_type = outbound.multipart(fields, "document", *file)
            answer = outbound.call(
                f"{base}/bot{token}/sendDocument",
                provider="Telegram",
                body=body,
                content_type=content_type,
            )
        data = answer.data if isinstance(answer.data, dict) else {}
        result = data.get("result") if data.get("ok") else None
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            description = str(data.get("description") or answer.status)
            raise outbound.Refused(
                _("Telegram refused the message: %(error)s") % {"error": description}
            )
        chat = (result.get("chat") or {}).get("id", message.address)
        return outbound.Sent(external_id=f"tg:{chat}:{result['message_id']}", delivered=True)

    @staticmethod
    def _refusal(error: TelegramError) -> str:
        if error.code in (401, 404):
            return _("Telegram does not accept this bot token (%(error)s).") % {
                "error": error.description
            }
        return _("Telegram refused to register the webhook: %(error)s") % {
            "error": error.description
        }
