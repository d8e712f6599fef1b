"""The API channel: other systems create leads (and send behaviour events) as JSON.

    POST /in/<token>/          a lead (also /in/<token>/leads)
    POST /in/<token>/events    a behaviour event about a person the CRM may know:
                           {"event", "phone"/"email"/"messenger_id", "properties",
                           "page_url", "occurred_at" (ISO 8601 or Unix seconds)}
    Authorization: Bearer <API token>   (or X-Api-Key: <API token>)

A lead: {"name", "phone", "email", "messenger", "messenger_id", "title", "message",
"company", "source", "utm_source"… or "utm": {…}, "custom": {key: value}, "page_url",
"external_id"}; at least one of phone, e-mail or messenger handle. The `Idempotency-Key`
header (or `external_id`) makes a retried request create nothing new.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, tzinfo
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
from channels.models import Channel
from contacts.normalize import phones_in, unreadable_phone
from crm import ratelimit
from crm.tenancy import tenant_zone
from leads.models import LeadSource, Messenger

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
TEXT_FIELDS = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "messenger": "messenger",
    "messenger_id": "messenger_id",
    "title": "title",
    "message": "message",
    "comment": "message",
    "company": "company_name",
    "company_name": "company_name",
    "page_url": "page_url",
    "consent": "consent",
    "external_id": "external_id",
}
DEFAULT_RATE_LIMIT = 600


class ApiConfigForm(forms.Form):
    rate_limit = forms.IntegerField(
        label=gettext_lazy("Requests per minute"),
        min_value=1,
        max_value=100_000,
        initial=DEFAULT_RATE_LIMIT,
        help_text=gettext_lazy("More requests with this token within a minute get HTTP 429."),
    )


def json_object(raw: RawDelivery) -> dict[str, Any]:
    """The body as a JSON object, or Rejected."""
    data = load_json(raw.body)
    if not isinstance(data, dict):
        raise Rejected(_("The body must be a JSON object."))
    return data


def _text(data: dict[str, Any], key: str, limit: int = 2000) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Rejected(_("Field “%(field)s” must be a string.") % {"field": key})
    return value.strip()[:limit]


def _moment(value: Any, zone: tzinfo) -> datetime | None:
    """An event's time: ISO 8601 (a time without a zone is the workspace's) or Unix
    seconds; None when unreadable or out of range."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment if 2000 <= moment.year <= 2200 else None


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise Rejected(_("Field “%(field)s” must be an object.") % {"field": key})
    return value


def read_lead(data: dict[str, Any], *, default_source: str, region: str = "") -> InboundMessage:
    """An inquiry from a JSON object in the API's field names (`region`: the tenant's phone
    region); a phone in which no number can be read does not count as a way to reach the
    person."""
    message = InboundMessage(source=default_source)
    for key, attr in TEXT_FIELDS.items():
        if key in data:
            value = _text(data, key, 10_000 if attr == "message" else 500)
            if value or not getattr(message, attr):
                setattr(message, attr, value)
    utm = {k: _text(data, k, 200) for k in UTM_KEYS if data.get(k)}
    utm.update({k: str(v)[:200] for k, v in _mapping(data, "utm").items() if k in UTM_KEYS})
    message.utm = {k: v for k, v in utm.items() if v}
    message.custom = _mapping(data, "custom")
    source = _text(data, "source", 32)
    if source:
        if source not in LeadSource.values:
            raise Rejected(
                _("Unknown source “%(source)s”; use one of: %(choices)s.")
                % {"source": source, "choices": ", ".join(LeadSource.values)}
            )
        message.source = source
    if message.messenger and message.messenger not in Messenger.values:
        raise Rejected(
            _("Unknown messenger “%(name)s”; use one of: %(choices)s.")
            % {"name": message.messenger, "choices": ", ".join(Messenger.values)}
        )
    message.clean()
    phone = message.phone and phones_in(message.phone, region)
    if not (phone or message.email or (message.messenger and message.messenger_id)):
        if message.phone:
            raise Rejected(unreadable_phone(message.phone, region))
        raise Rejected(
            _("A lead needs a way to reach the person: a phone, an e-mail or a messenger handle.")
        )
    return message


def _key(raw: RawDelivery, data: dict[str, Any]) -> str:
    if raw.headers.get("Idempotency-Key"):
        return "idem:" + raw.headers["Idempotency-Key"][:180]
    external = data.get("external_id")
    if isinstance(external, str | int) and str(external).strip():
        return f"ext:{raw.path}:{str(external).strip()[:160]}"
    return raw.body_hash()


@register
class ApiAdapter(Adapter):
    kind = "api"
    config_form = ApiConfigForm
    setup_template = "channels/kinds/api.html"

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/") not in ("", "leads", "events"):
            return JsonResponse({"status": "error", "error": _("No such endpoint.")}, status=404)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        token = token or request.headers.get("X-Api-Key", "").strip()
        if not token or not hmac.compare_digest(token.encode(), channel.secret.encode()):
            raise Forbidden

    def throttle(self, request: HttpRequest, channel: Channel) -> HttpResponse | None:
        limit = int(channel.config.get("rate_limit") or DEFAULT_RATE_LIMIT)
        if not ratelimit.over_limit(f"api:{channel.token}", limit=limit):
            return None
        response = JsonResponse(
            {"status": "error", "error": _("Too many requests; try again later.")}, status=429
        )
        response["Retry-After"] = str(ratelimit.retry_after())
        return response

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        data = json_object(raw)
        if raw.path.strip("/") == "events":
            zone = tenant_zone(channel.tenant)
            return Delivery(key=_key(raw, data), message=self._behaviour(data, zone))
        message = read_lead(data, default_source="api", region=channel.tenant.default_region)
        return Delivery(key=_key(raw, data), message=message)

    def _behaviour(self, data: dict[str, Any], zone: tzinfo) -> InboundMessage:
        event = _text(data, "event", 100)
        if not event:
            raise Rejected(_("A behaviour event needs its “event” name."))
        message = InboundMessage(
            kind="behaviour",
            event=event,
            properties=_mapping(data, "properties"),
            phone=_text(data, "phone", 64),
            email=_text(data, "email", 254),
            messenger=_text(data, "messenger", 16),
            messenger_id=_text(data, "messenger_id", 128),
            page_url=_text(data, "page_url", 2000),
            source="api",
        )
        if not (message.phone or message.email or message.messenger_id):
            raise Rejected(_("A behaviour event needs the person's phone, e-mail or messenger."))
        given = data.get("occurred_at")
        if given not in (None, ""):
            moment = _moment(given, zone)
            if moment is None:  # kept as sent; the event counts from its receipt
                message.properties = {**message.properties, "occurred_at": str(given)[:100]}
            else:
                message.occurred_at = moment.isoformat()
        return message

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        body = {"id": event.pk, "status": "accepted", "duplicate": not created}
        return JsonResponse(body, status=202 if created else 200)
