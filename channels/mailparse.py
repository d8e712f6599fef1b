"""Reading raw e-mail (RFC 5322 bytes) defensively: whatever a mailer produced, a message.

`parse_mail` never raises for bad input: a message is bytes from strangers (mailers of every
age, spammers, broken gateways). It reads headers with `email.policy.default` and falls
back to a forgiving decoding when a header defeats it (raw 8-bit, broken RFC 2047 words);
text parts in any charset (an unknown or wrong label falls back to UTF-8, then
windows-1251, the usual legacy charset of Russian mail, then Latin-1); the plain-text body
is preferred, else the HTML body turned into text; the HTML body is also kept sanitized
with nh3 (for display only). Attachments are listed with their RFC 2231 / RFC 2047 names.
`auto_reason` says why a message is an auto-reply or a bounce (recorded, never a lead).
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from django.utils.translation import gettext as _

from crm.htmlsafe import sanitize_html

# A header section larger than this is not mail but an attack on the parser.
MAX_HEADER_BYTES = 256 * 1024
# Parts of a message walked at most (a bomb of nested multiparts stops here).
MAX_PARTS = 500
# Message-ids kept from References (the newest ones: the end of the list).
MAX_REFERENCES = 30
# Characters of body text kept.
MAX_TEXT = 100_000
FALLBACK_CHARSETS = ("utf-8", "windows-1251")
# Subjects of out-of-office and vacation replies from mailers that set no header for it.
AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|autoreply|out of (the )?office|"
    r"abwesenheitsnotiz|автоответ|автоматический ответ|вне офиса|я в отпуске|"
    r"undeliverable|undelivered mail|delivery status notification|"
    r"mail delivery (failed|failure|system)|returned mail|"
    r"не удается доставить|недоставленное сообщение|сообщение не доставлено)",
    re.IGNORECASE,
)
BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
BLOCK_TAGS = {
    "address", "article", "blockquote", "br", "div", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul",
}  # fmt: skip
PARAGRAPH_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol"}
SKIPPED_TAGS = {"script", "style", "head", "title", "noscript", "template"}


@dataclass
class MailAttachment:
    """One attached file: its name, declared type and content."""

    filename: str
    content_type: str
    payload: bytes


@dataclass
class ParsedMail:
    """What a raw message says, decoded."""

    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    subject: str = ""
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str = ""  # sanitized
    attachments: list[MailAttachment] = field(default_factory=list)
    auto: str = ""  # why it is an auto-reply or a bounce, else ""
    problem: str = ""  # why it cannot be read at all, else ""


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML body: blocks on their own lines, no scripts or styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def _break(self, tag: str) -> None:
        """A line break at a block's edge (one, however many blocks meet); a paragraph or a
        heading ends with an empty line."""
        text = "".join(self.parts[-2:])
        wanted = 2 if tag in PARAGRAPH_TAGS else 1
        have = len(text) - len(text.rstrip("\n")) if text.strip(" \t") else wanted
        self.parts.append("\n" * max(wanted - have, 0))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in BLOCK_TAGS:
            self._break("")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in BLOCK_TAGS and tag != "br":
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text a reader sees in `html` (whitespace tidied, paragraphs kept)."""
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is forgiving; whatever it still trips on costs the markup
        return re.sub(r"<[^>]*>", " ", html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _charset_ok(name: str) -> str:
    """`name` if Python knows the charset, else ""."""
    try:
        return codecs.lookup(name).name if name else ""
    except (LookupError, ValueError):
        return ""


def decode_bytes(data: bytes, charset: str = "") -> str:
    """Text from bytes in the declared charset, else the first fallback that fits."""
    known = _charset_ok(charset.strip().strip('"').lower())
    for candidate in (known, *FALLBACK_CHARSETS):
        if candidate:
            try:
                return data.decode(candidate)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("latin-1")


def _unescape_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (no RFC 2047) come back from the parser as surrogate
    escapes: decode them as UTF-8, else windows-1251."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"))


def _raw_header(message: Message, name: str) -> str:
    """A header decoded by hand (RFC 2047 words, any charset), for when the policy fails."""
    raw = message.get_all(name) if hasattr(message, "get_all") else None
    if not raw:
        return ""
    value = str(raw[0]) if not isinstance(raw[0], str) else raw[0]
    try:
        parts = decode_header(value)
    except Exception:
        return _unescape_surrogates(value)
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            text.append(decode_bytes(chunk, charset or ""))
        else:
            text.append(_unescape_surrogates(chunk))
    return "".join(text)


def header(message: Message, name: str) -> str:
    """Header `name` as one line of text ("" when absent), whatever its encoding."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:
        text = _raw_header(message, name)
    text = _unescape_surrogates(text)
    if "=?" in text:  # an encoded word the policy left alone (e.g. broken spacing)
        with contextlib.suppress(Exception):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())


MSGID = re.compile(r"<([^<>\s]{1,250})>")


def message_ids(value: str) -> list[str]:
    """The message-ids in a header value (without angle brackets), in order."""
    found = MSGID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")[:250]]
    return [mid for mid in found if mid]


def _address(message: Message) -> tuple[str, str]:
    """The sender's (name, address) from From (else Sender)."""
    for name in ("From", "Sender"):
        value = header(message, name)
        if not value:
            continue
        try:
            pairs = [p for p in getaddresses([value]) if p[1]]
        except Exception:
            pairs = []
        display, address = pairs[0] if pairs else parseaddr(value)
        if "@" in address:
            return " ".join(display.split())[:200], address.strip()[:254]
    return "", ""


def auto_reason(message: Message, sender: str, subject: str) -> str:
    """Why the message is an automatic one (auto-reply, bounce, list mail), else ""."""
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        return _("A delivery or read report.")
    if BOUNCE_SENDERS.match(sender) or (not sender and header(message, "Return-Path") == "<>"):
        return _("A bounce from a mail server (%(sender)s).") % {"sender": sender or "<>"}
    auto_submitted = header(message, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return _("An automatic message (Auto-Submitted: %(value)s).") % {
            "value": auto_submitted[:60]
        }
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        value = header(message, name).lower()
        if value and (name != "X-Auto-Response-Suppress" or "oof" in value or "all" in value):
            return _("An automatic reply (%(header)s).") % {"header": name}
    precedence = header(message, "Precedence").lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return _("An automatic or bulk message (Precedence: %(value)s).") % {"value": precedence}
    if AUTO_SUBJECT.match(subject):
        return _("An automatic reply (by its subject).")
    return ""


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    return decode_bytes(payload, part.get_content_charset() or "")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        name = _raw_header_param(part)
    name = _unescape_surrogates(str(name or ""))
    if "=?" in name:
        with contextlib.suppress(Exception):
            name = str(make_header(decode_header(name)))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:200]


def _raw_header_param(part: Message) -> str:
    """A name= parameter of Content-Type when Content-Disposition gives none."""
    try:
        return str(part.get_param("name") or "")
    except Exception:
        return ""


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    return disposition == "attachment" or (bool(_filename(part)) and disposition != "inline")


def _walk(message: Message) -> list[Message]:
    """The leaf parts of a message, at most MAX_PARTS, attached messages not entered."""
    leaves: list[Message] = []
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed(payload))
            continue
        leaves.append(part)
    return leaves


def _attachment(part: Message) -> MailAttachment:
    name = _filename(part)
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = part.get_payload()
        body = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
        name = name or "message.eml"
    else:
        try:
            body = part.get_payload(decode=True) or b""
        except Exception:
            body = b""
    return MailAttachment(filename=name or "attachment", content_type=content_type, payload=body)


def _bodies(leaves: list[Message]) -> tuple[str, str, list[MailAttachment]]:
    text, html, files = "", "", []
    for part in leaves:
        content_type = part.get_content_type()
        if _is_attachment(part) or content_type == "message/rfc822":
            files.append(_attachment(part))
        elif content_type == "text/plain" and not text:
            text = _part_text(part)
        elif content_type == "text/html" and not html:
            html = _part_text(part)
        elif content_type.startswith(("image/", "application/", "audio/", "video/")):
            files.append(_attachment(part))  # inline images and unnamed files
    return text, html, files


def _header_block_size(raw: bytes) -> int:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(separator, 0, MAX_HEADER_BYTES + 4)
        if index >= 0:
            return index
    return len(raw) if len(raw) <= MAX_HEADER_BYTES else MAX_HEADER_BYTES + 1


def parse_mail(raw: bytes) -> ParsedMail:
    """Read a raw message; never raises (`problem` says why one cannot be read)."""
    if not raw.strip():
        return ParsedMail(problem=_("The message is empty."))
    if _header_block_size(raw) > MAX_HEADER_BYTES:
        return ParsedMail(problem=_("The message's headers are too large."))
    try:
        message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:
        return ParsedMail(problem=_("The message cannot be parsed."))
    mail = ParsedMail()
    mail.from_name, mail.from_address = _address(message)
    reply_to = header(message, "Reply-To")
    with contextlib.suppress(Exception):
        mail.reply_to = parseaddr(reply_to)[1][:254]
    mail.subject = header(message, "Subject")[:500]
    ids = message_ids(header(message, "Message-ID"))
    mail.message_id = ids[0] if ids else ""
    mail.in_reply_to = message_ids(header(message, "In-Reply-To"))[:5]
    mail.references = message_ids(header(message, "References"))[-MAX_REFERENCES:]
    try:
        text, html, files = _bodies(_walk(message))
    except Exception:
        text, html, files = "", "", []
    mail.attachments = files
    if html:
        mail.html = sanitize_html(html)
    mail.text = (text.strip() or html_to_text(html))[:MAX_TEXT]
    mail.auto = auto_reason(message, mail.from_address, mail.subject)
    if not mail.from_address and not mail.auto:
        mail.problem = _("The message has no sender address (From).")
    return mail
