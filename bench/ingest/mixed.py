"""The ingestion benchmark's mixed run: one request per person, in each provider's real shape.

`request(kind, channel, n, run_id)` is what the provider would POST to the channel's
endpoint for person `n` of the run: the path, the headers (secrets and signatures as the
adapter checks them) and the raw body. Every request is a new person (a phone, Telegram id,
VK id or e-mail address of their own, from `n`), so each must make exactly one lead;
tests/bench/test_mixed.py posts each kind to real channels and holds that.

`channel` is the kind's entry in setup's JSON (bench/ingest/setup.py, "mixed"): its endpoint
token and what its adapter authenticates with. No Django here: the benchmark's client
imports it, and the signatures are computed as the providers do.

Kinds, in the rotation's order (`KINDS`; those setup did not prepare are left out, as
"email" on a build without the e-mail channel):

- api: the JSON API (Bearer channel secret) — the deliveries the other windows post;
- web_form: a Tilda webhook, form-encoded (Name, Phone, Email, Comments, tranid, formid,
  COOKIES with TILDAUTM), no Origin, as a site builder's server posts it;
- telegram: an Update with a private-chat text message, `X-Telegram-Bot-Api-Secret-Token`;
- whatsapp: a Cloud API notification of one text message, `X-Hub-Signature-256` over the
  raw body with the app secret;
- vk: a Callback API `message_new` (API 5.199: `object.message`), the secret in the body;
- pbx: a generic PBX `end` event of a missed inbound call (Bearer channel secret);
- email: a raw RFC 5322 message (`message/rfc822`, Bearer channel secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, urlencode

KINDS = ("api", "web_form", "telegram", "whatsapp", "vk", "pbx", "email")
# What the endpoint answers a delivery it stored (a kind's other answers count as refused).
ACCEPTED = {
    "api": 202,
    "web_form": 200,
    "telegram": 200,
    "whatsapp": 200,
    "vk": 200,
    "pbx": 202,
    "email": 202,
}
# The WhatsApp Business number and the VK community the bench's channels are set up for.
WHATSAPP_PHONE_NUMBER_ID = "100000000000001"
VK_GROUP_ID = 200000001
DOMAIN = "mixed.ingest.bench"


@dataclass(frozen=True)
class Request:
    """One POST to a channel's endpoint."""

    kind: str
    path: str
    headers: dict[str, str]
    body: bytes


def phone(n: int) -> str:
    """Person `n`'s phone, as the API deliveries number them: +79XXXXXXXXX."""
    return f"+79{n:09d}"


def rotation(channels: dict[str, Any]) -> tuple[str, ...]:
    """The kinds setup prepared, in `KINDS` order."""
    return tuple(kind for kind in KINDS if kind in channels)


def _bearer(channel: dict[str, Any]) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {channel['secret']}"}


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def api(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    body = _json(
        {
            "name": f"Нагрузка {n}",
            "phone": phone(n),
            "email": f"a{n}@{DOMAIN}",
            "utm_campaign": run_id,
            "message": "Хочу узнать цену",
        }
    )
    return _bearer(channel), body


def web_form(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    digits = phone(n)[1:]
    shown = f"+7 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    utm = quote(f"utm_source=bench|||utm_medium=mixed|||utm_campaign={run_id}|||", safe="")
    body = urlencode(
        {
            "Name": f"Форма {n}",
            "Phone": shown,
            "Email": f"f{n}@{DOMAIN}",
            "Comments": "Перезвоните, пожалуйста",
            "tranid": f"{run_id}:{n}",
            "formid": "form100000001",
            "formname": "Обратный звонок",
            "COOKIES": f"_ym_uid=1699; TILDAUTM={utm}; tildauid=1700.{n}",
        }
    ).encode()
    return {"Content-Type": "application/x-www-form-urlencoded"}, body


def telegram(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    person = {"id": n, "is_bot": False, "first_name": "Нагрузка", "last_name": str(n)}
    body = _json(
        {
            "update_id": n,
            "message": {
                "message_id": 1,
                "from": {**person, "language_code": "ru"},
                "chat": {**person, "type": "private"},
                "date": 1767225600,
                "text": "Здравствуйте! Сколько стоит доставка?",
            },
        }
    )
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": channel["secret"],
    }
    return headers, body


def whatsapp(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    wa_id = phone(n)[1:]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "15550783881",
            "phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
        },
        "contacts": [{"profile": {"name": f"WhatsApp {n}"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.{run_id}.{n}",
                "timestamp": "1767225600",
                "type": "text",
                "text": {"body": "Здравствуйте! Есть доставка в Казань?"},
            }
        ],
    }
    change = {"value": value, "field": "messages"}
    body = _json(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [change]}],
        }
    )
    signature = hmac.new(channel["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}, body


def vk(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    body = _json(
        {
            "group_id": channel["group_id"],
            "type": "message_new",
            "event_id": hashlib.sha1(f"{run_id}:{n}".encode()).hexdigest(),  # noqa: S324 - an id
            "v": "5.199",
            "object": {
                "message": {
                    "date": 1767225600,
                    "from_id": n,
                    "id": 1,
                    "out": 0,
                    "version": 10000001,
                    "attachments": [],
                    "conversation_message_id": 1,
                    "fwd_messages": [],
                    "important": False,
                    "is_hidden": False,
                    "peer_id": n,
                    "random_id": 0,
                    "text": "Добрый день! Можно прайс?",
                },
                "client_info": {
                    "button_actions": ["text", "vkpay", "open_app", "location", "open_link"],
                    "keyboard": True,
                    "inline_keyboard": True,
                    "carousel": True,
                    "lang_id": 0,
                },
            },
            "secret": channel["secret_key"],
        }
    )
    return {"Content-Type": "application/json"}, body


def pbx(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    body = _json(
        {
            "call_id": f"{run_id}.{n}",
            "event": "end",
            "direction": "inbound",
            "from": phone(n),
            "to": "+74951234567",
            "status": "missed",
            "duration": 0,
        }
    )
    return _bearer(channel), body


def email(channel: dict[str, Any], n: int, run_id: str) -> tuple[dict[str, str], bytes]:
    message = EmailMessage()
    message["From"] = Address(f"Письмо {n}", f"m{n}", DOMAIN)
    message["To"] = Address("Отдел продаж", "sales", "voronka.example")
    message["Subject"] = "Запрос цены"
    message["Date"] = format_datetime(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    message["Message-ID"] = f"<{run_id}.{n}@{DOMAIN}>"
    message.set_content("Здравствуйте!\n\nПришлите, пожалуйста, прайс.\n\n-- \nНагрузка\n")
    headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {channel['secret']}"}
    return headers, message.as_bytes()


BUILDERS = {
    "api": api,
    "web_form": web_form,
    "telegram": telegram,
    "whatsapp": whatsapp,
    "vk": vk,
    "pbx": pbx,
    "email": email,
}


def request(kind: str, channel: dict[str, Any], n: int, run_id: str) -> Request:
    """Person `n`'s delivery of `kind` to `channel` (setup's entry: its token, secrets)."""
    headers, body = BUILDERS[kind](channel, n, run_id)
    return Request(kind=kind, path=f"/in/{channel['token']}/", headers=headers, body=body)
