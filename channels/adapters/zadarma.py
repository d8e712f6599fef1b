"""The Zadarma channel: the PBX's call notifications (Settings → Integrations and API →
"Notifications" in the Zadarma cabinet: the notification URL is the channel's endpoint).

    GET  /in/<token>/?zd_echo=…   Zadarma's check of a new URL: answered with the value
    POST /in/<token>/             NOTIFY_START, NOTIFY_INTERNAL, NOTIFY_ANSWER, NOTIFY_END,
                                  NOTIFY_OUT_START, NOTIFY_OUT_END, NOTIFY_RECORD

Notifications are form-encoded; the `Signature` header is base64 of the hex HMAC-SHA1 of
some of its fields, concatenated, keyed with the API secret. The fields per event follow
Zadarma's official library (github.com/zadarma/user-api-v1: lib/Webhook/Notify*.php
`getSignatureString()`, checked in lib/Api.php `getWebhookEvent()`, and the example
examples/callinfo_callback.php: `base64_encode(hash_hmac('sha1', …, API_SECRET))`, whose
digest is hex): caller_id + called_did + call_start (START, INTERNAL, IVR, END),
caller_id + destination + call_start (ANSWER), internal + destination + call_start
(OUT_START, OUT_END), pbx_call_id + call_id_with_rec (RECORD). Other notification types
(SMS, speech recognition) are answered and not stored.

`pbx_call_id` ties a call's notifications together. NOTIFY_END's `disposition` says how it
ended ("answered", "busy", "cancel", "no answer", "failed", "no money"…). `call_start` is
in the time zone set in the Zadarma cabinet, which should be the workspace's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.adapters import Adapter, Delivery, Forbidden, RawDelivery, Rejected, register
from channels.adapters.telephony import (
    FORM_TYPE,
    SealedOptionsForm,
    channel_secret,
    form_params,
    number,
    read_form,
    secret_field,
)
from channels.calls import CallEvent, call_message
from channels.models import Call, Channel

SIGNATURE_HEADER = "Signature"
SIGNED_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}
MAX_ECHO = 200
INBOUND, OUTBOUND = Call.Direction.INBOUND, Call.Direction.OUTBOUND


class ZadarmaConfigForm(SealedOptionsForm):
    sealed = ("api_key", "api_secret")

    api_key = secret_field(
        gettext_lazy("API key"),
        gettext_lazy("Zadarma cabinet → Settings → Integrations and API → Keys and API."),
    )
    api_secret = secret_field(
        gettext_lazy("API secret"),
        gettext_lazy("From the same page; it checks each notification's signature."),
    )

    def clean_api_secret(self) -> str:
        secret = self.cleaned_data["api_secret"]
        if secret and len(secret) < 8:
            raise forms.ValidationError(_("That is too short for a Zadarma API secret."))
        return secret


def signature(secret: str, params: Any, event: str) -> str:
    """Zadarma's signature of a notification (module docstring)."""
    payload = "".join(str(params.get(name) or "") for name in SIGNED_FIELDS[event])
    digest = hmac.new(secret.encode(), payload.encode("utf-8"), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def _ended(params: dict[str, str]) -> dict[str, Any]:
    """What an END notification says of the answer, talk time and recording."""
    disposition = params.get("disposition", "").lower()
    answered = disposition == "answered"
    return {
        "ended": True,
        "answered": answered,
        "end_reason": "" if answered else (disposition or "no answer"),
        "duration": number(params.get("duration", "")) if answered else None,
        "recording_id": params.get("call_id_with_rec", "")
        if params.get("is_recorded") == "1"
        else "",
    }


def read_notification(params: dict[str, str]) -> Delivery:
    """A notification's delivery: a call event, or why it is ignored."""
    event = params.get("event", "")
    call_id = params.get("pbx_call_id", "")
    if not call_id or len(call_id) > 150:
        raise Rejected(_("A Zadarma notification needs its pbx_call_id."))
    key = f"{event}:{call_id}:{params.get('internal', '')}"[:200]
    common: dict[str, Any] = {
        "provider": "zadarma",
        "call_id": call_id,
        "started_at": params.get("call_start", ""),
    }
    if event in ("NOTIFY_START", "NOTIFY_IVR"):
        fields = {
            "name": "start",
            "direction": INBOUND,
            "from_raw": params.get("caller_id", ""),
            "to_raw": params.get("called_did", ""),
        }
    elif event == "NOTIFY_INTERNAL":  # an extension rings
        fields = {"name": "ringing", "leg": params.get("internal", "") or "?"}
    elif event == "NOTIFY_ANSWER":
        fields = {
            "name": "answer",
            "direction": INBOUND,
            "from_raw": params.get("caller_id", ""),
            "answered": True,
        }
    elif event == "NOTIFY_END":
        fields = {
            "name": "end",
            "direction": INBOUND,
            "from_raw": params.get("caller_id", ""),
            "to_raw": params.get("called_did", ""),
            **_ended(params),
        }
    elif event == "NOTIFY_OUT_START":
        fields = {
            "name": "start",
            "direction": OUTBOUND,
            "from_raw": params.get("caller_id", "") or params.get("internal", ""),
            "to_raw": params.get("destination", ""),
        }
    elif event == "NOTIFY_OUT_END":
        fields = {
            "name": "end",
            "direction": OUTBOUND,
            "from_raw": params.get("caller_id", "") or params.get("internal", ""),
            "to_raw": params.get("destination", ""),
            **_ended(params),
        }
    elif event == "NOTIFY_RECORD":
        fields = {"name": "record", "recording_id": params.get("call_id_with_rec", "")}
        common.pop("started_at")
    else:
        ignored = _("Notifications “%(event)s” are not used.") % {"event": event or "?"}
        return Delivery(key=key, ignored=ignored)
    return Delivery(key=key, message=call_message(CallEvent(**common, **fields)))


def _event_of(request: HttpRequest) -> str:
    if (request.content_type or "").lower() != FORM_TYPE:
        return ""
    try:
        return str(form_params(request.body).get("event") or "")
    except Rejected:
        return ""


@register
class ZadarmaAdapter(Adapter):
    kind = "zadarma"
    config_form = ZadarmaConfigForm
    setup_template = "channels/kinds/zadarma.html"
    endpoint_paths = (("Notifications", ""),)
    uses_secret = False  # the provider signs with its own credentials

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return HttpResponse(status=404)
        if request.method == "GET" and "zd_echo" in request.GET:
            echo = request.GET.get("zd_echo", "")[:MAX_ECHO]
            return HttpResponse(echo, content_type="text/plain; charset=utf-8")
        if request.method == "POST" and _event_of(request) not in SIGNED_FIELDS:
            # A notification type the CRM does not use (and cannot check): not stored.
            return HttpResponse(status=200)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        secret = channel_secret(channel, "api_secret")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not secret or not given:
            raise Forbidden
        params = form_params(request.body)
        expected = signature(secret, params, str(params.get("event") or ""))
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise Forbidden

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        return read_notification(read_form(raw))

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        # An empty answer: Zadarma then goes on with the PBX's own scenario.
        return HttpResponse(status=200)
