"""Helpers for the telephony tests: channels of each kind, signed provider callbacks in their
real wire shapes, and reads of what the calls made."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from django.test import Client
from django.urls import reverse

from channels.models import Call, Channel
from crm.models import Activity, Tenant
from crm.tenancy import tenant_context

SITE = "https://crm.example.com"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT = "AC" + "a1" * 16
ZADARMA_KEY = "a248a6a984459935b569"
ZADARMA_SECRET = "8a8e91d214fb728889c7"
FORM = "application/x-www-form-urlencoded"


def endpoint(channel: Channel, path: str = "") -> str:
    return reverse("inbound", kwargs={"token": channel.token}) + path


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """Computed as Twilio documents it (written out here, independently of the adapter)."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def zadarma_signature(text: str, secret: str = ZADARMA_SECRET) -> str:
    """base64_encode(hash_hmac('sha1', $text, $secret)) as Zadarma's PHP example does."""
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().encode()
    ).decode()


def post_form(
    capture, channel: Channel, path: str, params: dict[str, str], **headers: str
):  # -> HttpResponse
    with capture(execute=True):
        return Client().post(
            endpoint(channel, path), data=urlencode(params), content_type=FORM, **headers
        )


def post_json(capture, channel: Channel, payload, *, token: str | None = None, **headers):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload, ensure_ascii=False)
    if token is None:
        token = channel.secret
    if token:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    with capture(execute=True):
        return Client().post(
            endpoint(channel), data=body, content_type="application/json", **headers
        )


def calls_of(channel: Channel) -> list[Call]:
    with tenant_context(channel.tenant):
        return list(Call.objects.filter(channel=channel).order_by("pk"))


def call_activities(tenant: Tenant) -> list[Activity]:
    with tenant_context(tenant):
        return list(Activity.objects.filter(kind=Activity.Kind.CALL).order_by("pk"))
