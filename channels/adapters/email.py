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

One way out: replies from the cards (channels/conversations.py) go over SMTP (`send`), when
the channel has an SMTP server — without one the channel only receives. Each reply carries
the Message-ID recorded with it before the first attempt (so a retry is the same message to
the client's mail program and the client's answer names it), In-Reply-To and References of
the client's message, and is never marked Auto-Submitted (the client's auto-responders and
filters must treat it as a person's letter).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import mimetypes
import re
import smtplib
import socket
import ssl
import uuid
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, JsonResponse
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
from channels.adapters.sealed import sending_secret
from channels.mailparse import ParsedMail, parse_mail
from channels.models import Channel, Message
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
# The longest reply a card sends by e-mail (the composer's limit).
MAX_REPLY = 20_000


class Security:
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"
    CHOICES = (
        (SSL, gettext_lazy("SSL/TLS (port 993)")),
        (STARTTLS, gettext_lazy("STARTTLS (port 143)")),
        (NONE, gettext_lazy("None (a trusted network only)")),
    )


class SmtpSecurity:
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"
    CHOICES = (
        (SSL, gettext_lazy("SSL/TLS (port 465)")),
        (STARTTLS, gettext_lazy("STARTTLS (port 587)")),
        (NONE, gettext_lazy("None (a trusted network only)")),
    )
    PORTS = {SSL: 465, STARTTLS: 587, NONE: 25}


def _clean_host(value: str, example: str) -> str:
    host = value.strip().lower()
    if host and (any(ch.isspace() or ch in "/@:" for ch in host)):
        raise forms.ValidationError(
            _("Enter the server's name only, e.g. %(example)s.") % {"example": example}
        )
    return host


def _is_address(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def smtp_from(config: dict[str, Any]) -> str:
    """The address replies come from: `smtp_from`, else the IMAP login if it is an address
    ("" when neither)."""
    given = str(config.get("smtp_from") or "").strip()
    if given:
        return given
    login = str(config.get("imap_user") or "").strip()
    return login if _is_address(login) else ""


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
    smtp_host = forms.CharField(
        label=gettext_lazy("SMTP server (replies)"),
        max_length=253,
        required=False,
        help_text=gettext_lazy(
            "E.g. smtp.gmail.com, smtp.yandex.ru, smtp.mail.ru; managers' replies from the "
            "cards go out through it. Empty: the channel only receives mail."
        ),
    )
    smtp_port = forms.IntegerField(
        label=gettext_lazy("SMTP port"),
        min_value=1,
        max_value=65535,
        initial=465,
        required=False,
        help_text=gettext_lazy("Empty: 465 for SSL/TLS, 587 for STARTTLS, 25 for none."),
    )
    smtp_security = forms.ChoiceField(
        label=gettext_lazy("SMTP encryption"),
        choices=SmtpSecurity.CHOICES,
        initial=SmtpSecurity.SSL,
        required=False,
    )
    smtp_user = forms.CharField(
        label=gettext_lazy("SMTP login"),
        max_length=254,
        required=False,
        help_text=gettext_lazy("Empty: the IMAP login."),
    )
    smtp_password = forms.CharField(
        label=gettext_lazy("SMTP password"),
        max_length=500,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Empty: the IMAP password (the same app password usually works for both). "
            "Stored encrypted; never shown again."
        ),
    )
    smtp_from = forms.EmailField(
        label=gettext_lazy("Replies come from"),
        max_length=254,
        required=False,
        help_text=gettext_lazy(
            "The address clients see and answer to; empty: the IMAP login. Most servers "
            "only let the login send from its own address."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.initial.get("imap_password"):  # editing: empty keeps the stored password
            self.fields["imap_password"].help_text = _(
                "A password is stored. Leave empty to keep it."
            )
        if self.initial.get("smtp_password"):
            self.fields["smtp_password"].help_text = _(
                "A password is stored. Leave empty to keep it."
            )

    def clean_imap_host(self) -> str:
        return _clean_host(self.cleaned_data["imap_host"], "imap.yandex.ru")

    def clean_smtp_host(self) -> str:
        return _clean_host(self.cleaned_data["smtp_host"], "smtp.yandex.ru")

    def clean_smtp_security(self) -> str:
        return self.cleaned_data["smtp_security"] or SmtpSecurity.SSL

    def clean_smtp_user(self) -> str:
        return self.cleaned_data["smtp_user"].strip()

    def clean_smtp_from(self) -> str:
        return self.cleaned_data["smtp_from"].strip().lower()

    def clean_smtp_password(self) -> str:
        password = self.cleaned_data["smtp_password"]
        if not password:
            return str(self.initial.get("smtp_password") or "")
        return seal(password)

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
        if "smtp_port" in data and not data["smtp_port"]:
            data["smtp_port"] = SmtpSecurity.PORTS[data.get("smtp_security") or SmtpSecurity.SSL]
        if data.get("smtp_host") and not smtp_from(data) and "smtp_from" not in self.errors:
            self.add_error(
                "smtp_from",
                _("Enter the address replies come from (the IMAP login is not an address)."),
            )
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
            },
            "outgoing": {
                "host": config.get("smtp_host") or "",
                "port": config.get("smtp_port") or "",
                "security": dict(SmtpSecurity.CHOICES).get(config.get("smtp_security"), ""),
                "user": config.get("smtp_user") or config.get("imap_user") or "",
                "sender": smtp_from(config),
            },
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
        own = {
            str(channel.config.get(name) or "").strip().lower()
            for name in ("imap_user", "smtp_from")
        }
        if mail.from_address.lower() in own - {""}:
            return Delivery(key=key, ignored=_("A message from the mailbox itself."))
        return Delivery(key=key, message=inquiry_of(mail))

    # --- Replies (SMTP) --------------------------------------------------------------------

    replies = True
    max_reply = MAX_REPLY

    def new_message_id(self, channel: Channel) -> str:
        """A Message-ID under the domain replies come from (stored without brackets, as
        received ones are)."""
        domain = smtp_from(channel.config).rpartition("@")[2] or "voronka.local"
        return f"{uuid.uuid4().hex}@{domain}"

    sealed_keys = ("imap_password", "smtp_password")

    def reply_address(self, message: dict[str, Any]) -> str:
        """The client's address: their Reply-To when they gave one, else From."""
        properties = message.get("properties")
        reply_to = properties.get("reply_to") if isinstance(properties, dict) else ""
        address = str(reply_to or message.get("email") or "").strip().lower()
        return address if "@" in address else ""

    def reply_problem(self, channel: Channel) -> str:
        if not channel.config.get("smtp_host"):
            return _("The channel has no SMTP server: it only receives mail.")
        if not smtp_from(channel.config):
            return _("The channel has no address to send replies from.")
        return ""

    def send(
        self, channel: Channel, message: Message, file: tuple[str, bytes] | None
    ) -> outbound.Sent:
        config = channel.config
        if self.reply_problem(channel):
            raise outbound.Refused(self.reply_problem(channel))
        sender = smtp_from(config)
        user = str(config.get("smtp_user") or "").strip() or str(config.get("imap_user") or "")
        password = sending_secret(channel, "smtp_password") or sending_secret(
            channel, "imap_password"
        )
        mail = reply_mail(channel, message, sender, file)
        smtp_deliver(
            config,
            user=user,
            password=password,
            sender=sender,
            recipient=message.address,
            mail=mail,
            login_required=bool(str(config.get("smtp_user") or "").strip()),
        )
        return outbound.Sent(external_id=message.external_id, delivered=False)


# --- Replies: the message and the SMTP conversation ---------------------------------------------

_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def _one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value).strip()


def _msgid(value: str) -> str:
    """A message-id in angle brackets (stored with or without them)."""
    value = value.strip()
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def reply_mail(
    channel: Channel, message: Message, sender: str, file: tuple[str, bytes] | None
) -> EmailMessage:
    """The reply as an e-mail: from the channel (its name shown), to the client, with the
    Message-ID recorded before the first attempt, the thread's In-Reply-To and References,
    plain UTF-8 text and the file attached. Refused when the address is not one."""
    if not _is_address(message.address):
        raise outbound.Refused(
            _("“%(address)s” is not an e-mail address.") % {"address": message.address}
        )
    if not message.external_id:
        raise outbound.Refused(_("The reply has no Message-ID: write it again."))
    # Built 7-bit clean (quoted-printable or base64 bodies): any server takes it, 8BITMIME
    # or not.
    mail = EmailMessage(policy=policy.SMTP.clone(cte_type="7bit"))
    local, _at, domain = sender.rpartition("@")
    mail["From"] = Address(display_name=_one_line(channel.name), username=local, domain=domain)
    mail["To"] = message.address
    mail["Subject"] = _one_line(message.subject)
    mail["Date"] = format_datetime(timezone.now())
    mail["Message-ID"] = _msgid(message.external_id)
    if message.in_reply_to:
        mail["In-Reply-To"] = _msgid(message.in_reply_to)
    references = [_msgid(mid) for mid in message.references.split() if mid.strip("<>")]
    if references:
        mail["References"] = " ".join(references)
    mail.set_content(message.text or "", charset="utf-8")
    if file is not None:
        name, payload = file
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, _slash, subtype = content_type.partition("/")
        filename = _one_line(name) or "file"
        mail.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return mail


def _reply_text(response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
    return " ".join(text.split())[:300]


def _answer(code: int, response: bytes | str) -> outbound.SendError:
    """What an SMTP reply means for the message: 4xx try again later, anything else (5xx)
    refused for good, with the server's words."""
    text = f"{code} {_reply_text(response)}".strip()
    if 400 <= code < 500:
        return outbound.Retry(
            _("The mail server asked to try again later: %(reply)s") % {"reply": text}
        )
    return outbound.Refused(_("The mail server refused the message: %(reply)s") % {"reply": text})


def _unreachable(error: BaseException) -> outbound.Retry:
    reason = str(error) or error.__class__.__name__
    return outbound.Retry(
        _("The mail server cannot be reached (%(reason)s).") % {"reason": reason[:200]}
    )


def _connect(config: dict[str, Any], timeout: float) -> smtplib.SMTP:
    """A connected client (TLS per the settings); raises outbound errors."""
    host = str(config.get("smtp_host") or "")
    security = config.get("smtp_security") or SmtpSecurity.SSL
    port = int(config.get("smtp_port") or SmtpSecurity.PORTS.get(security, 465))
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if security == SmtpSecurity.SSL:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        if security == SmtpSecurity.STARTTLS:
            try:
                client.starttls(context=context)
            except BaseException:
                client.close()  # the connection is not left open behind a refusal
                raise
    except smtplib.SMTPNotSupportedError:
        raise outbound.Refused(
            _("The mail server does not offer STARTTLS: choose SSL/TLS or no encryption.")
        ) from None
    except ssl.SSLCertVerificationError as error:
        raise outbound.Refused(
            _("The mail server's certificate is not trusted (%(reason)s).")
            % {"reason": error.verify_message or error.reason}
        ) from None
    except smtplib.SMTPConnectError as error:  # a greeting other than 220: busy, try later
        raise _unreachable(error) from None
    except smtplib.SMTPResponseException as error:  # STARTTLS refused
        raise _answer(error.smtp_code, error.smtp_error) from None
    except (smtplib.SMTPException, OSError) as error:  # refused, DNS, timeouts, TLS
        raise _unreachable(error) from None
    return client


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def smtp_deliver(
    config: dict[str, Any],
    *,
    user: str,
    password: str,
    sender: str,
    recipient: str,
    mail: EmailMessage,
    login_required: bool = True,
) -> None:
    """Hand `mail` to the channel's SMTP server (within CHANNELS_SEND_TIMEOUT per
    operation), logging in as `user` where the server offers AUTH (where it does not:
    refused if `login_required`, else sent without a login — a relay on a trusted network).
    Raises outbound.Retry when the server certainly did not take it (cannot be reached,
    dropped the connection or timed out before the message's data, a 4xx answer), Refused
    for a 5xx answer (a login refused, an unknown recipient) with the server's words,
    Unknown when the data went out and no answer came (it may have been accepted: never
    sent again on its own)."""
    ascii_only = (sender + recipient).isascii()
    # Serialized before the transaction begins: nothing can fail half-way through DATA.
    data = mail.as_bytes(policy=policy.SMTP if ascii_only else policy.SMTPUTF8)
    data = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    client = _connect(config, settings.CHANNELS_SEND_TIMEOUT)
    try:
        try:
            client.ehlo_or_helo_if_needed()
            if user and client.has_extn("auth"):
                client.login(user, password)
            elif user and login_required:
                raise outbound.Refused(
                    _("The mail server does not accept a login here (check the encryption).")
                )
            options = [] if ascii_only else ["SMTPUTF8"]
            if not ascii_only and not client.has_extn("smtputf8"):
                raise outbound.Refused(
                    _("The mail server cannot send to addresses in non-Latin letters.")
                )
            if client.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            code, response = client.mail(sender, options)
            if code != 250:
                raise _answer(code, response)
            code, response = client.rcpt(recipient)
            if code not in (250, 251):
                raise _answer(code, response)
            client.putcmd("data")
            code, response = client.getreply()
            if code != 354:
                raise _answer(code, response)
        except smtplib.SMTPResponseException as error:  # a login refused (535), 4xx/5xx
            raise _answer(error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPNotSupportedError as error:  # a setting the server cannot meet
            raise outbound.Refused(
                _("The mail server cannot do what the channel asks: %(reason)s")
                % {"reason": str(error)[:200]}
            ) from None
        except (smtplib.SMTPException, OSError) as error:  # before the data: not taken
            if "authentication method" in str(error):  # no AUTH mechanism both know
                raise outbound.Refused(
                    _("The mail server offers no login method Voronka can use.")
                ) from None
            raise _unreachable(error) from None
        try:
            # Until the final dot has gone out the server cannot have taken the message.
            client.send(data + b".\r\n")
        except (smtplib.SMTPException, OSError) as error:
            raise _unreachable(error) from None
        try:
            code, response = client.getreply()
        except (smtplib.SMTPException, OSError) as error:  # the data went out, no answer
            reason = "timeout" if isinstance(error, socket.timeout | TimeoutError) else error
            raise outbound.Unknown(
                _("The mail server did not confirm the message (%(reason)s).")
                % {"reason": str(reason)[:200] or error.__class__.__name__}
            ) from None
        if code != 250:
            raise _answer(code, response)
    finally:
        _close(client)
