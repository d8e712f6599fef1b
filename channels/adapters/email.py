"""The e-mail channel: a mailbox polled over IMAP, and raw mail POSTed by mail providers.

Two ways in, one kind of delivery (an InboundEvent holding the raw RFC 5322 bytes):

- IMAP (channels/mailbox.py): every minute the poller reads the new messages of the
  mailbox's folder (by UID, UIDVALIDITY tracked) and stores each one;
- POST /in/<token>/ with the message as the body (`message/rfc822`, or any raw body), or as
  the field `email` (SendGrid), `body-mime` (Mailgun), `message` (CloudMailin) of a form,
  or `RawEmail` of a JSON object (Postmark). Authenticated with the channel secret:
  `Authorization: Bearer …`, Basic auth (any user, the secret as the password: the form
  `https://user:SECRET@host/in/…/` providers accept), `X-Voronka-Secret`, or `?secret=`.

The idempotency key is the Message-ID (so a message read twice — IMAP after a mailbox
rebuild, or by IMAP and a webhook — is stored once), else the hash of the message.
Auto-replies and bounces are stored as ignored with the reason; a message without a sender
is rejected. What the pipeline does with a message: channels/mailintake.py.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
from datetime import datetime
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

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
    register,
)
from channels.mailparse import ParsedMail, parse_mail
from channels.models import Channel
from crm.secrets import seal
from crm.sources import LeadSource

# The path the IMAP poller stores its deliveries under (never reachable over HTTP: the
# endpoint answers 404 to any path but the root).
IMAP_PATH = "imap"
SECRET_HEADER = "X-Voronka-Secret"  # noqa: S105 - a header's name
# Where mail providers put the raw message in a form or JSON POST.
FORM_FIELDS = ("email", "body-mime", "message", "raw", "mime")
JSON_FIELDS = ("RawEmail", "raw", "email", "mime", "message")
TEXT_LIMIT = 10_000


class Security:
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"
    CHOICES = (
        (SSL, gettext_lazy("SSL/TLS (port 993)")),
        (STARTTLS, gettext_lazy("STARTTLS (port 143)")),
        (NONE, gettext_lazy("None (a trusted network only)")),
    )


class EmailConfigForm(forms.Form):
    imap_host = forms.CharField(
        label=gettext_lazy("IMAP server"),
        max_length=253,
        required=False,
        help_text=gettext_lazy(
            "E.g. imap.gmail.com, imap.yandex.ru, imap.mail.ru; empty: mail comes only "
            "through the raw-mail endpoint."
        ),
    )
    imap_port = forms.IntegerField(
        label=gettext_lazy("Port"), min_value=1, max_value=65535, initial=993
    )
    imap_security = forms.ChoiceField(
        label=gettext_lazy("Encryption"), choices=Security.CHOICES, initial=Security.SSL
    )
    imap_user = forms.CharField(label=gettext_lazy("Login"), max_length=254, required=False)
    imap_password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=500,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "For Gmail, Yandex and Mail.ru an app password (see the channel page). "
            "Stored encrypted; never shown again."
        ),
    )
    imap_folder = forms.CharField(
        label=gettext_lazy("Folder"), max_length=200, initial="INBOX", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.initial.get("imap_password"):  # editing: empty keeps the stored password
            self.fields["imap_password"].help_text = _(
                "A password is stored. Leave empty to keep it."
            )

    def clean_imap_host(self) -> str:
        host = self.cleaned_data["imap_host"].strip().lower()
        if host and (any(ch.isspace() or ch in "/@:" for ch in host)):
            raise forms.ValidationError(_("Enter the server's name only, e.g. imap.yandex.ru."))
        return host

    def clean_imap_folder(self) -> str:
        return self.cleaned_data["imap_folder"].strip() or "INBOX"

    def clean_imap_password(self) -> str:
        password = self.cleaned_data["imap_password"]
        if not password:
            return str(self.initial.get("imap_password") or "")
        return seal(password)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("imap_host") and not (data.get("imap_user") and data.get("imap_password")):
            raise forms.ValidationError(_("Enter the mailbox's login and password."))
        return data


def _secret_given(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return request.headers.get(SECRET_HEADER, "") or request.GET.get("secret", "")


def _form_field(raw: RawDelivery) -> bytes | None:
    """The raw message inside a multipart/form-data body, or None."""
    content_type = raw.headers.get("Content-Type") or raw.content_type
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        form = BytesParser(policy=policy.HTTP).parsebytes(head + raw.body)
    except Exception:
        return None
    parts = form.get_payload() if form.is_multipart() else []
    fields: dict[str, bytes] = {}
    for part in parts if isinstance(parts, list) else []:
        try:
            name = part.get_param("name", header="content-disposition") or ""
            payload = part.get_payload(decode=True)
        except Exception:  # a broken part of a form: the others may hold the message
            name, payload = "", None
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.setdefault(name, payload)
    return next((fields[name] for name in FORM_FIELDS if fields.get(name)), None)


def mail_bytes(raw: RawDelivery) -> bytes:
    """The raw message a delivery carries (the body itself, or a provider's field)."""
    content_type = (raw.content_type or "").lower()
    if content_type == "multipart/form-data":
        found = _form_field(raw)
        if found is None:
            raise Rejected(_("No raw message in the form (fields: email, body-mime, message)."))
        return found
    if content_type == "application/x-www-form-urlencoded":
        fields = parse_qs(raw.body.decode("utf-8", "replace"), max_num_fields=200)
        value = next((fields[name][0] for name in FORM_FIELDS if fields.get(name)), "")
        if not value:
            raise Rejected(_("No raw message in the form (fields: email, body-mime, message)."))
        return value.encode("utf-8", "surrogateescape")
    if content_type == "application/json":
        try:
            data = json.loads(raw.body)
        except (ValueError, RecursionError):
            raise Rejected(_("The body is not valid JSON.")) from None
        data = data if isinstance(data, dict) else {}
        value = next((data[k] for k in JSON_FIELDS if isinstance(data.get(k), str)), "")
        if not value:
            raise Rejected(_("No raw message in the JSON (field RawEmail)."))
        return value.encode("utf-8")
    return raw.body


def mail_key(body: bytes, mail: ParsedMail) -> str:
    """The idempotency key of a message: its Message-ID, else the hash of its bytes."""
    if mail.message_id:
        return "mid:" + mail.message_id[:190]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def read_mail(raw: RawDelivery) -> tuple[bytes, ParsedMail]:
    """The raw message of a delivery and its reading."""
    body = mail_bytes(raw)
    return body, parse_mail(body)


def inquiry_of(mail: ParsedMail) -> InboundMessage:
    """A read message as an inquiry from its sender."""
    message = mail.text.strip()
    if len(message) > TEXT_LIMIT:
        message = message[:TEXT_LIMIT].rstrip() + "…"
    properties: dict[str, Any] = {"subject": mail.subject}
    if mail.message_id:
        properties["message_id"] = mail.message_id
    if mail.in_reply_to:
        properties["in_reply_to"] = mail.in_reply_to
    if mail.references:
        properties["references"] = mail.references
    if mail.reply_to and mail.reply_to.lower() != mail.from_address.lower():
        properties["reply_to"] = mail.reply_to
    if mail.attachments:
        properties["attachments"] = [a.filename for a in mail.attachments][:50]
    return InboundMessage(
        source=LeadSource.EMAIL,
        name=mail.from_name,
        email=mail.from_address,
        title=mail.subject[:200],
        message=message or mail.subject,
        external_id=mail.message_id[:200],
        properties=properties,
    )


@register
class EmailAdapter(Adapter):
    kind = "email"
    config_form = EmailConfigForm
    setup_template = "channels/kinds/email.html"

    def handle(self, request: HttpRequest, channel: Channel, path: str) -> HttpResponse | None:
        if path.strip("/"):
            return JsonResponse({"status": "error", "error": _("No such endpoint.")}, status=404)
        return None

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        given = _secret_given(request)
        if not given or not hmac.compare_digest(given.encode(), channel.secret.encode()):
            raise Forbidden

    def setup_context(self, channel: Channel) -> dict[str, Any]:
        config = channel.config
        state = config.get("imap_state") or {}
        moments = {}
        for name in ("last_ok_at", "last_error_at", "last_poll_at"):
            with contextlib.suppress(TypeError, ValueError):
                moments[name] = datetime.fromisoformat(str(state.get(name)))
        return {
            "mailbox": {
                "host": config.get("imap_host") or "",
                "port": config.get("imap_port") or "",
                "security": dict(Security.CHOICES).get(config.get("imap_security"), ""),
                "user": config.get("imap_user") or "",
                "folder": config.get("imap_folder") or "INBOX",
                "failing": bool(state.get("failures")),
                "failures": int(state.get("failures") or 0),
                "last_error": state.get("last_error") or "",
                "last_uid": state.get("last_uid"),
                **moments,
            }
        }

    def respond(
        self, request: HttpRequest, channel: Channel, event: Any, created: bool
    ) -> HttpResponse:
        body = {"id": event.pk, "status": "accepted", "duplicate": not created}
        return JsonResponse(body, status=202 if created else 200)

    def read(self, raw: RawDelivery, channel: Channel) -> Delivery:
        body, mail = read_mail(raw)
        key = mail_key(body, mail)
        if mail.problem:
            raise Rejected(mail.problem)
        if mail.auto:
            return Delivery(key=key, ignored=mail.auto)
        own = str(channel.config.get("imap_user") or "").strip().lower()
        if own and mail.from_address.lower() == own:
            return Delivery(key=key, ignored=_("A message from the mailbox itself."))
        return Delivery(key=key, message=inquiry_of(mail))
