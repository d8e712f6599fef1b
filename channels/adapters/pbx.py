"""The generic phone-system channel: any PBX (Asterisk, FreePBX, 3CX, a Mango or
Beeline script…) POSTs its call events as JSON.

    POST /in/<token>/
    Authorization: Bearer <channel secret>
      or X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

    {"call_id": "1700000000.42", "event": "start" | "answer" | "end",
     "direction": "inbound" | "outbound" (default inbound),
     "from": "+79991234567", "to": "+74951234567", "name": "caller's name (optional)",
     "status": "answered" | "missed" | "busy" | "failed" (on "end"),
     "duration": 125 (talk seconds, on "end"), "recording_url": "https://…",
     "occurred_at": "2026-12-05T10:20:30+03:00" (a time without offset is the workspace's)}

Events of one call share its `call_id`; the same event of a call sent again is a duplicate
(an `event_id`, when given, is the key instead). An "end" alone is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from channels.adapters import Adapter, Delivery, Forbidden, RawDelivery, Rejected, register
from channels.adapters.api import json_object
from channels.calls import CallEvent, call_message
from channels.models import Call, Channel

EVENTS = ("start", "answer", "end")
STATUSES = ("answered", "missed", "busy", "failed", "no-answer", "canceled")
SIGNATURE_HEADER = "X-Signature"


def _text(data: dict[str, Any], key: str, limit: int = 200) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Rejected(_("Field “%(field)s” must be a string.") % {"field": key})
    return value.strip()[:limit]


def _duration(data: dict[str, Any]) -> int | None:
    value = data.get("duration")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**7:
        raise Rejected(_("“duration” must be a whole number of seconds."))
    return value


def read_call_event(data: dict[str, Any]) -> Delivery:
    """A JSON call event's delivery (module docstring), or Rejected with the reason."""
    call_id = _text(data, "call_id", 150)
    if not call_id:
        raise Rejected(_("A call event needs its “call_id”."))
    event = _text(data, "event", 20).lower()
    if event not in EVENTS:
        raise Rejected(_("“event” must be one of: %(choices)s.") % {"choices": ", ".join(EVENTS)})
    direction = _text(data, "direction", 20).lower() or Call.Direction.INBOUND
    if direction not in (Call.Direction.INBOUND, Call.Direction.OUTBOUND):
        raise Rejected(_("“direction” must be inbound or outbound."))
    status = _text(data, "status", 20).lower()
    if event == "end" and status not in STATUSES:
        raise Rejected(
            _("An “end” needs its “status”: one of %(choices)s.")
            % {"choices": ", ".join(STATUSES[:4])}
        )
    recording = _text(data, "recording_url", 1000)
    if not recording.lower().startswith(("https://", "http://")):
        recording = ""
    answered = event == "answer" or (event == "end" and status == "answered")
    occurred = _text(data, "occurred_at", 64)
    call = CallEvent(
        provider="pbx",
        call_id=call_id,
        name=event,
        direction=direction,
        from_raw=_text(data, "from"),
        to_raw=_text(data, "to"),
        caller_name=_text(data, "name"),
        at=occurred,
        started_at=occurred if event == "start" else "",
        answered=answered,
        answered_at=occurred if event == "answer" else "",
        ended=event == "end",
        end_reason=status if event == "end" and not answered else "",
        duration=_duration(data) if event == "end" else None,
        recording_url=recording,
    )
    event_id = _text(data, "event_id", 150)
    key = f"id:{event_id}" if event_id else f"{call_id}:{event}"
    return Delivery(key=key, message=call_message(call))


@register
class PbxAdapter(Adapter):
    kind = "pbx"
    setup_template = "channels/kinds/pbx.html"
    endpoint_paths = (("Call events", ""),)

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return JsonResponse({"status": "error", "error": _("No such endpoint.")}, status=404)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        secret = channel.secret.encode()
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if token:
            if not hmac.compare_digest(token.encode(), secret):
                raise Forbidden
            return
        given = request.headers.get(SIGNATURE_HEADER, "").strip()
        given = given[7:] if given.lower().startswith("sha256=") else given
        expected = hmac.new(secret, request.body, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(expected.encode(), given.lower().encode()):
            raise Forbidden

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        return read_call_event(json_object(raw))

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        body = {"id": event.pk, "status": "accepted", "duplicate": not created}
        return JsonResponse(body, status=202 if created else 200)
