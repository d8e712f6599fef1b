"""Reading a web form submission: its body (urlencoded, multipart or JSON, any charset), its
field names recognised (Tilda's `Name`/`Phone`/`Email`/`Comments`, common English and Russian
names, the channel's own mapping) and one `InboundMessage` built from it, losing nothing:
fields the CRM has no place for are appended to the message as "Label: value" lines. Phone
fields are kept whole (several numbers, an extension, words: the inquiry service reads them);
values are checked after their invisible characters are removed (crm/text.py).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from channels.adapters import InboundMessage, RawDelivery, Rejected, load_json
from contacts.normalize import phones_in, unreadable_phone
from crm.text import clean_line, clean_text
from leads.models import LeadSource

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
DEFAULT_HONEYPOT = "website"
MAX_FIELDS = 200
# Targets a channel's field mapping may name (besides utm_* and custom.<key>).
MAPPING_TARGETS = ("name", "phone", "email", "message", "company_name", "title", "page_url")
MAPPING_TARGETS += ("consent", "ignore")
CUSTOM_KEY = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
# Field names as site builders and hand-written forms send them (compared as `label_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "fullname",
        "full_name",
        "your_name",
        "contact_name",
        "client_name",
        "fio",
        "имя",
        "ваше_имя",
        "фио",
        "имя_фамилия",
        "контактное_лицо",
    ),
    "phone": (
        "phone",
        "tel",
        "telephone",
        "phone_number",
        "phonenumber",
        "mobile",
        "your_phone",
        "телефон",
        "тел",
        "ваш_телефон",
        "номер_телефона",
        "мобильный_телефон",
    ),
    "email": (
        "email",
        "e_mail",
        "mail",
        "your_email",
        "email_address",
        "почта",
        "эл_почта",
        "электронная_почта",
        "ваш_email",
        "ваш_e_mail",
        "ваша_почта",
    ),
    "message": (
        "message",
        "comment",
        "comments",
        "textarea",
        "text",
        "question",
        "msg",
        "сообщение",
        "комментарий",
        "комментарии",
        "вопрос",
        "текст",
        "ваш_вопрос",
        "ваше_сообщение",
        "ваш_комментарий",
    ),
    "company_name": (
        "company",
        "company_name",
        "organization",
        "organisation",
        "компания",
        "организация",
        "название_компании",
    ),
    "title": ("subject", "title", "тема"),
    "page_url": ("page_url", "pageurl", "page_link", "form_url", "страница"),
    "consent": ("consent", "agree", "agreement", "согласие"),
    "referrer": ("referrer", "referer"),
    "telegram": ("telegram", "tg", "телеграм", "телеграмм"),
    "whatsapp": ("whatsapp", "ватсап", "вотсап"),
    "vk": ("vk", "vkontakte", "вконтакте", "вк"),
}
# Sent by site builders and frameworks; never shown (tranid and COOKIES are read apart).
TECHNICAL = {"formid", "csrfmiddlewaretoken", "g_recaptcha_response", "smart_token", "secret"}
MESSENGERS = ("telegram", "whatsapp", "vk")
FALSE_VALUES = {"", "0", "no", "off", "false", "нет", "n"}


def label_key(label: str) -> str:
    """A field name compared case- and punctuation-insensitively: "Эл. почта" → "эл_почта"."""
    return "_".join(re.findall(r"\w+", label.casefold()))


_ALIAS_TARGET = {alias: target for target, names in ALIASES.items() for alias in names}


# --- The body -----------------------------------------------------------------------------


def _charset(header: str) -> str:
    """The charset a Content-Type names, if Python knows it; else UTF-8."""
    match = re.search(r"charset=\"?([\w.:-]+)", header, re.IGNORECASE)
    try:
        return codecs.lookup(match.group(1)).name if match else "utf-8"
    except LookupError:
        return "utf-8"


def _decode(data: bytes, charset: str) -> str:
    return data.decode(charset, errors="replace")


def _json_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_json_value(item) for item in value if item not in (None, ""))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_pairs(body: bytes) -> list[tuple[str, str]]:
    data = load_json(body)
    if not isinstance(data, dict):
        raise Rejected(_("The body must be a JSON object."))
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if value is None:
            continue
        if key in ("utm", "custom") and isinstance(value, dict):
            prefix = "custom." if key == "custom" else ""
            pairs += [(prefix + str(k), _json_value(v)) for k, v in value.items() if v is not None]
        else:
            pairs.append((str(key), _json_value(value)))
    return pairs


def _multipart_pairs(body: bytes, header: str) -> list[tuple[str, str]]:
    head = b"Content-Type: " + header.encode("latin-1", errors="replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise Rejected(_("The multipart body cannot be read."))
    pairs = []
    for part in message.iter_parts():
        assert isinstance(part, Message)  # noqa: S101 - narrowing for the type checker
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue  # files are not taken from web forms
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            pairs.append((name, _decode(payload, part.get_content_charset() or _charset(header))))
    return pairs


def parse_body(raw: RawDelivery) -> list[tuple[str, str]]:
    """The submitted (name, value) pairs in order; Rejected when the body cannot be read."""
    kind = raw.content_type.lower()
    header = raw.headers.get("Content-Type", raw.content_type)
    sniffed_json = kind != "application/x-www-form-urlencoded" and raw.body.lstrip()[:1] == b"{"
    if kind == "multipart/form-data":
        pairs = _multipart_pairs(raw.body, header)
    elif kind == "application/json" or kind.endswith("+json") or sniffed_json:
        pairs = _json_pairs(raw.body)
    else:
        charset = _charset(header)
        try:
            pairs = parse_qsl(
                _decode(raw.body, charset),
                keep_blank_values=True,
                encoding=charset,
                errors="replace",
                max_num_fields=MAX_FIELDS,
            )
        except ValueError:
            raise Rejected(_("The form has too many fields.")) from None
    if len(pairs) > MAX_FIELDS:
        raise Rejected(_("The form has too many fields."))
    return pairs


# --- The channel's field mapping ----------------------------------------------------------


def parse_mapping(text: str) -> dict[str, str]:
    """ "their field = our field" lines → {label_key: target}; ValueError names a bad line."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        theirs, sep, ours = line.rpartition("=")
        theirs, ours = label_key(theirs), ours.strip()
        if not sep or not theirs:
            raise ValueError(
                _("Line %(number)s: write “their field = our field”.") % {"number": number}
            )
        custom = ours.startswith("custom.") and CUSTOM_KEY.match(ours[7:])
        if ours not in MAPPING_TARGETS and ours not in UTM_KEYS and not custom:
            raise ValueError(
                _("Line %(number)s: unknown field “%(field)s”.") % {"number": number, "field": ours}
            )
        mapping[theirs] = ours
    return mapping


# --- The message --------------------------------------------------------------------------


@dataclass
class Submission:
    """What a form sent, sorted: the message, and the fields the endpoint itself looks at."""

    message: InboundMessage
    tranid: str = ""
    honeypot: str = ""
    ping: bool = False
    # Values that cannot reach the person (a malformed e-mail…), by our field name.
    invalid: dict[str, str] = field(default_factory=dict)
    # The tenant's phone region (numbers in national format).
    region: str = ""


class FormRejected(Rejected):
    """A submission refused with messages per field (the widget shows them by the inputs)."""

    def __init__(self, reason: str, *, fields: dict[str, str], status: int = 400) -> None:
        super().__init__(reason, status)
        self.fields = fields


def _tilda_utm(cookies: str) -> dict[str, str]:
    """UTM tags from Tilda's TILDAUTM cookie ("utm_source=x|||utm_medium=y|||…")."""
    for chunk in cookies.split(";"):
        name, _sep, value = chunk.strip().partition("=")
        if name == "TILDAUTM":
            pairs = (item.partition("=") for item in unquote(value).split("|||"))
            return {k: v for k, _s, v in pairs if k in UTM_KEYS and v}
    return {}


def _url_utm(url: str) -> dict[str, str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v for k, v in parse_qsl(query) if k in UTM_KEYS and v}


def _web_url(value: str) -> str:
    return value if value.startswith(("http://", "https://")) else ""


def _consent(value: str, text: str) -> str:
    """What the person agreed to: the channel's consent text when the box is ticked."""
    answer = value.strip()
    return "" if answer.casefold() in FALSE_VALUES else text or answer


def _valid_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def read_submission(
    pairs: list[tuple[str, str]],
    *,
    config: dict[str, Any],
    headers: dict[str, str],
    region: str = "",
) -> Submission:
    """Sort the submitted pairs into a message (not yet validated: see `require_contact`);
    `region`: the tenant's phone region."""
    try:
        mapping = parse_mapping(config.get("field_mapping") or "")
    except ValueError as error:  # set around the settings form: kept as rejected, replayable
        raise Rejected(str(error)) from None
    honeypot_key = label_key(config.get("honeypot") or DEFAULT_HONEYPOT)
    found: dict[str, list[tuple[str, str]]] = {}
    custom: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    submission = Submission(message=InboundMessage(source=LeadSource.WEB_FORM), region=region)
    cookie_utm: dict[str, str] = {}
    for label, raw_value in pairs:
        key, value = label_key(label), clean_text(raw_value).strip()
        if key == honeypot_key:
            submission.honeypot = value
            continue
        target = mapping.get(key)
        if target is None:
            if key == "tranid":
                submission.tranid = value
                continue
            if key == "cookies":
                cookie_utm = _tilda_utm(value)
                continue
            if key in TECHNICAL:
                continue
            if key in UTM_KEYS:
                target = key
            elif label.startswith("custom."):
                target = label if CUSTOM_KEY.match(label[7:]) else None
            else:
                target = _ALIAS_TARGET.get(key)
        if target == "ignore" or not value:
            continue
        if target is None:
            extra.append((label.strip()[:100], value[:2000]))
        elif target.startswith("custom."):
            custom[target[7:]] = value[:500]
        else:
            found.setdefault(target, []).append((label.strip()[:100], value))
    submission.ping = _is_ping(pairs)
    _fill(submission, found, extra, custom, config)
    message = submission.message
    # A plain form's page is the Referer (only its origin when posting to another site,
    # under browsers' default referrer policy).
    message.page_url = message.page_url or _web_url(headers.get("Referer", ""))[:2000]
    utm = {**_url_utm(message.page_url), **cookie_utm}
    utm.update({k: found[k][0][1][:200] for k in UTM_KEYS if k in found})
    message.utm = utm
    return submission


def _is_ping(pairs: list[tuple[str, str]]) -> bool:
    """Tilda's check when a webhook is added: a lone `test=test`."""
    shown = [(label_key(k), v.strip()) for k, v in pairs if v.strip()]
    return shown == [("test", "test")]


def _fill(
    submission: Submission,
    found: dict[str, list[tuple[str, str]]],
    extra: list[tuple[str, str]],
    custom: dict[str, str],
    config: dict[str, Any],
) -> None:
    message = submission.message

    def first(target: str, limit: int) -> str:
        values = found.get(target, [])
        extra.extend(values[1:])  # a second e-mail is kept, as a line of the message
        return clean_line(values[0][1])[:limit] if values else ""

    message.name = " ".join(value for _label, value in found.get("name", []))[:200]
    message.title = first("title", 200)
    message.company_name = first("company_name", 200)
    # Every phone field, whole: the first number becomes the lead's phone, the others its
    # other phones, words beside them a line of its message (leads.services.intake_fields).
    phones = (clean_line(value) for _label, value in found.get("phone", []))
    message.phone = ", ".join(phone for phone in phones if phone)[:2000]
    if message.phone and not phones_in(message.phone, submission.region):
        submission.invalid["phone"] = message.phone
    email = first("email", 254)
    if email and not _valid_email(email):
        submission.invalid["email"] = email
        extra.append((found["email"][0][0], email))
    elif email:
        message.email = email
    for messenger in MESSENGERS:
        handle = first(messenger, 128)
        if handle and not message.messenger_id:
            message.messenger, message.messenger_id = messenger, handle.lstrip("@")
        elif handle:
            extra.append((found[messenger][0][0], handle))
    message.page_url = _web_url(first("page_url", 2000))
    referrer = _web_url(first("referrer", 2000))
    if referrer:
        extra.append((_("Came from"), referrer))
    consent = first("consent", 500)
    if consent:
        message.consent = _consent(consent, config.get("consent_text") or "")[:1000]
    message.custom = custom
    text = "\n".join(value for _label, value in found.get("message", []))
    lines = "\n".join(f"{label}: {value}" for label, value in extra)
    message.message = "\n\n".join(part for part in (text, lines) if part)[:10_000]


def require_contact(submission: Submission) -> None:
    """Rejected unless the submission gives a usable phone (one in which a number can be
    read), e-mail or messenger handle."""
    message = submission.message
    phone = message.phone and "phone" not in submission.invalid
    if phone or message.email or message.messenger_id:
        return
    errors = {}
    if "email" in submission.invalid:
        errors["email"] = _("Enter a valid e-mail address.")
    if "phone" in submission.invalid:
        errors["phone"] = unreadable_phone(submission.invalid["phone"], submission.region)
    reason = " ".join(errors.values()) or _("Leave a phone or an e-mail so we can reach you.")
    raise FormRejected(reason, fields=errors)
