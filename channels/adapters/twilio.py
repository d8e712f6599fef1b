"""The Twilio channel: voice status callbacks and the `<Dial>` action callback.

    POST /in/<token>/status   status callbacks: the number's "Call status changes" URL and
                              `<Number statusCallback=…>` inside `<Dial>` (child legs)
    POST /in/<token>/dial     the `<Dial action=…>` callback

Both are form-encoded and signed: `X-Twilio-Signature` is base64(HMAC-SHA1(auth token, the
full URL Twilio called + every POST field's name and value, sorted by name)). The URL is
the public one (PUBLIC_URL, else SITE_URL, plus the path and query); like Twilio's own
validator (twilio-python's RequestValidator), it is checked with and without the
scheme's default port. A wrong or missing signature is answered 403 and nothing is stored.

Semantics (channels/calls.py collapses them into one call): `CallSid` is the leg; a child
leg (the `<Dial>`ed number) names its parent in `ParentCallSid`, which is the call. An
incoming call's parent leg is answered by Twilio itself, so it ends `completed` even when
nobody picked up: whether a person answered shows on the child leg (`in-progress`,
`completed`) or as `DialCallStatus` (`completed`/`answered`, else `no-answer`, `busy`,
`failed`, `canceled`) in the action callback. An outgoing API call's parent leg is the
called person: `in-progress`/`completed` there is their answer. The call ends with its
parent leg's final status. Twilio gets the empty TwiML `<Response/>` (the action callback
then hangs up, as a `<Dial>` with an action whose TwiML ends does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.adapters import Adapter, Delivery, Forbidden, RawDelivery, Rejected, register
from channels.adapters.telephony import (
    SealedOptionsForm,
    channel_secret,
    form_params,
    number,
    read_form,
    secret_field,
)
from channels.calls import CallEvent, call_message, usable_number
from channels.models import Call, Channel
from crm.urlnames import public_url

SIGNATURE_HEADER = "X-Twilio-Signature"
PATHS = {"": "status", "status": "status", "dial": "dial"}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
STATUSES = {
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
}
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
UNANSWERED = {"busy", "no-answer", "failed", "canceled"}
ANSWERED = {"in-progress", "completed"}
DIAL_ANSWERED = {"completed", "answered"}


class TwilioConfigForm(SealedOptionsForm):
    sealed = ("auth_token",)

    account_sid = forms.RegexField(
        label=gettext_lazy("Account SID"),
        regex=r"^AC[0-9a-fA-F]{32}$",
        required=False,
        help_text=gettext_lazy(
            "AC… from the Twilio console's dashboard; callbacks of another account are ignored."
        ),
    )
    auth_token = secret_field(
        gettext_lazy("Auth token"),
        gettext_lazy("From the Twilio console's dashboard; it checks each callback's signature."),
    )

    def clean_auth_token(self) -> str:
        token = self.cleaned_data["auth_token"]
        if token and (len(token) < 16 or not token.isalnum()):
            raise forms.ValidationError(_("An auth token is 32 letters and digits."))
        return token


def signature(token: str, url: str, params: Any) -> str:
    """Twilio's signature of a request to `url` with POST fields `params` (a QueryDict or a
    dict): names sorted, each value of a repeated field in sorted order."""
    payload = url
    for name in sorted(set(params)):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        for value in sorted(values):
            payload += name + value
    digest = hmac.new(token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port (Twilio signs
    one or the other depending on how the URL was configured)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    userinfo = userinfo + "@" if userinfo else ""
    port = parts.port if parts.port else (443 if parts.scheme == "https" else 80)
    without = urlunsplit(parts._replace(netloc=f"{userinfo}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{port}"))
    return list(dict.fromkeys([url, without, with_port]))


def called_url(request: HttpRequest) -> str:
    """The URL Twilio called: the public base URL and the request's path and query."""
    return public_url(request) + request.get_full_path()


def _time(value: str) -> str:
    """Twilio's `Timestamp` (RFC 2822) as ISO 8601, or ""."""
    try:
        return parsedate_to_datetime(value).isoformat() if value else ""
    except (TypeError, ValueError, IndexError):
        return ""


def _direction(params: dict[str, str]) -> str:
    """The call's direction from its parent leg. A call Twilio receives from a softphone or
    a client (`sip:anna@…`, `client:anna`) with no number as the caller is a person of the
    tenant calling out."""
    direction = params.get("Direction", "").lower()
    if direction.startswith("outbound"):
        return Call.Direction.OUTBOUND
    if direction == "inbound":
        caller = params.get("From", "")
        internal = caller.lower().startswith(("client:", "sip:", "sips:"))
        if internal and not usable_number(caller) and usable_number(params.get("To", "")):
            return Call.Direction.OUTBOUND
        return Call.Direction.INBOUND
    return ""


def _status(params: dict[str, str], sid: str) -> Delivery:
    status = params.get("CallStatus", "").lower()
    key = f"status:{sid}:{status}"
    if status not in STATUSES:
        return Delivery(
            key=key, ignored=_("Call status “%(status)s” is not used.") % {"status": status or "?"}
        )
    parent = params.get("ParentCallSid", "")
    duration = number(params.get("CallDuration", ""))
    common = {
        "provider": "twilio",
        "at": _time(params.get("Timestamp", "")),
        "recording_url": params.get("RecordingUrl", ""),
        "recording_id": params.get("RecordingSid", ""),
        "end_reason": status if status in UNANSWERED else "",
    }
    if parent:  # a child leg: the person the call was put through to
        event = CallEvent(
            call_id=parent[:100],
            leg=sid,
            name="leg",
            to_raw=params.get("To", ""),
            answered=status in ANSWERED,
            leg_ended=status in FINAL,
            duration=duration if status == "completed" else None,
            **common,
        )
    else:
        direction = _direction(params)
        event = CallEvent(
            call_id=sid,
            name="end" if status in FINAL else status,
            direction=direction,
            from_raw=params.get("From", ""),
            to_raw=params.get("To", ""),
            caller_name=params.get("CallerName", ""),
            # An incoming call's parent leg is Twilio's own answer, not a person's.
            answered=direction == Call.Direction.OUTBOUND and status in ANSWERED,
            ended=status in FINAL,
            duration=duration if direction == Call.Direction.OUTBOUND else None,
            **common,
        )
    return Delivery(key=key, message=call_message(event))


def _dial(params: dict[str, str], sid: str) -> Delivery:
    dial_status = params.get("DialCallStatus", "").lower()
    leg = params.get("DialCallSid", "")
    key = f"dial:{sid}:{leg or dial_status}"
    if not dial_status:
        raise Rejected(_("A <Dial> action callback needs its DialCallStatus."))
    answered = dial_status in DIAL_ANSWERED
    event = CallEvent(
        provider="twilio",
        call_id=sid,
        name="dial",
        direction=_direction(params),
        from_raw=params.get("From", ""),
        to_raw=params.get("To", ""),
        caller_name=params.get("CallerName", ""),
        answered=answered,
        leg_ended=True,
        end_reason="" if answered else dial_status,
        duration=number(params.get("DialCallDuration", "")) if answered else None,
        recording_url=params.get("RecordingUrl", ""),
        recording_id=params.get("RecordingSid", ""),
    )
    return Delivery(key=key, message=call_message(event))


def read_callback(params: dict[str, str], path: str, account_sid: str = "") -> Delivery:
    """A Twilio callback's delivery: a call event, or why it is ignored."""
    sid = params.get("CallSid", "")
    if not sid or len(sid) > 64:
        raise Rejected(_("A Twilio voice callback needs its CallSid."))
    kind = PATHS.get(path.strip("/"), "status")
    if account_sid and params.get("AccountSid", "") != account_sid:
        return Delivery(
            key=f"{kind}:{sid}:{params.get('CallStatus') or params.get('DialCallStatus') or ''}",
            ignored=_("A callback of another Twilio account."),
        )
    return _dial(params, sid) if kind == "dial" else _status(params, sid)


def _twiml(status: int = 200) -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8", status=status)


@register
class TwilioAdapter(Adapter):
    kind = "twilio"
    config_form = TwilioConfigForm
    setup_template = "channels/kinds/twilio.html"
    endpoint_paths = (("Status callback", "status"), ("Dial action", "dial"))
    uses_secret = False  # the provider signs with its own credentials

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/") not in PATHS:
            return HttpResponse(status=404)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        token = channel_secret(channel, "auth_token")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not token or not given:
            raise Forbidden
        is_form = (request.content_type or "").lower() == "application/x-www-form-urlencoded"
        try:
            params = form_params(request.body) if is_form else {}
        except Rejected:
            raise Forbidden from None
        expected = [signature(token, url, params) for url in _url_variants(called_url(request))]
        # Every variant is compared (no early exit), each in constant time.
        matches = [hmac.compare_digest(e.encode(), given.encode()) for e in expected]
        if not any(matches):
            raise Forbidden

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        account = str(channel.config.get("account_sid") or "")
        return read_callback(read_form(raw), raw.path, account)

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        return _twiml()

    def reject(self, request: HttpRequest, channel: Channel, error: Rejected) -> HttpResponse:
        # Kept as rejected (admins see why). The action callback still gets TwiML: an error
        # answer there would make Twilio read an error message to the caller.
        if PATHS.get(request.path.rstrip("/").rpartition("/")[2]) == "dial":
            return _twiml()
        return super().reject(request, channel, error)
