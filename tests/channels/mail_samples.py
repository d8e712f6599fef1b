"""Raw messages shaped like the ones real mailers send (Gmail, Outlook, Yandex, Mail.ru,
Exchange auto-replies, Postfix bounces), for the e-mail channel's tests."""

from __future__ import annotations

import base64
import quopri
from email.header import Header


def b64(text: str, charset: str = "utf-8") -> str:
    """Base64 lines of 76 characters, as mailers wrap them."""
    data = base64.b64encode(text.encode(charset)).decode()
    return "\r\n".join(data[i : i + 76] for i in range(0, len(data), 76))


def wrapped(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.encode(charset)).decode().replace("\n", "\r\n")


def word(text: str, charset: str = "utf-8") -> str:
    """An RFC 2047 encoded header value (folded by the encoder when long)."""
    return Header(text, charset, maxlinelen=76).encode(linesep="\r\n ")


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def gmail(
    *,
    sender: str,
    name: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str = "",
) -> bytes:
    """Gmail's multipart/alternative: UTF-8 plain text (QP) and HTML (base64)."""
    reply = f"In-Reply-To: <{in_reply_to}>\nReferences: <{in_reply_to}>\n" if in_reply_to else ""
    html = '<div dir="ltr">' + text.replace("\n", "<br>") + "</div>"
    return crlf(
        f"""MIME-Version: 1.0
Date: Fri, 4 Dec 2026 10:15:02 +0300
Message-ID: <{message_id}>
{reply}Subject: {word(subject)}
From: {word(name)} <{sender}>
To: sales@acme.test
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(text)}
--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: base64

{b64(html)}
--000000000000a1b2c3d4e5f60718--
"""
    )


def outlook_cp1251(*, message_id: str, attachment: bytes = b"%PDF-1.4 price list") -> bytes:
    """Outlook: windows-1251 everywhere, a folded RFC 2047 subject, multipart/mixed holding
    multipart/alternative (QP text, HTML) and a PDF with an RFC 2231 (UTF-8) file name."""
    subject = "Запрос коммерческого предложения на поставку оборудования для склада"
    text = "Добрый день!\nПрошу выслать КП на стеллажи.\nИван Петров, ООО «Ромашка»"
    filename = "Прайс-лист 2026.pdf"
    encoded_name = "".join(f"%{b:02X}" for b in filename.encode("utf-8"))
    return crlf(
        f"""From: {word("Иван Петров", "windows-1251")} <ivan.petrov@romashka.ru>
To: "sales@acme.test" <sales@acme.test>
Subject: {word(subject, "windows-1251")}
Thread-Topic: {word(subject, "windows-1251")}
Date: Fri, 4 Dec 2026 07:01:12 +0000
Message-ID: <{message_id}>
Accept-Language: ru-RU, en-US
Content-Language: ru-RU
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
\tboundary="_004_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_"
MIME-Version: 1.0

--_004_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_
Content-Type: multipart/alternative;
\tboundary="_000_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_"

--_000_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_
Content-Type: text/plain; charset="windows-1251"
Content-Transfer-Encoding: quoted-printable

{qp(text, "windows-1251")}
--_000_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_
Content-Type: text/html; charset="windows-1251"
Content-Transfer-Encoding: quoted-printable

{qp("<html><body><p>" + text.replace(chr(10), "<br>") + "</p></body></html>", "windows-1251")}
--_000_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_--

--_004_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_
Content-Type: application/pdf; name="=?utf-8?B?{base64.b64encode(filename.encode()).decode()}?="
Content-Description: {word(filename)}
Content-Disposition: attachment;
\tfilename*=utf-8''{encoded_name}; size={len(attachment)}
Content-Transfer-Encoding: base64

{base64.b64encode(attachment).decode()}

--_004_DB9PR02MB7001A3F5C3A4E0B5E0A1B2C3DB9PR02MB7001eurp_--
"""
    )


def mailru_koi8(*, message_id: str) -> bytes:
    """An old Mail.ru / The Bat! letter: KOI8-R, base64 body, encoded From and Subject."""
    return crlf(
        f"""From: {word("Ольга Сидорова", "koi8-r")} <olga.s@mail.ru>
To: sales@acme.test
Subject: {word("Вопрос по доставке", "koi8-r")}
Date: Thu, 03 Dec 2026 18:44:10 +0300
Message-ID: <{message_id}>
X-Mailer: The Bat! (v9.1.18) Professional
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: base64

{b64("Здравствуйте! Сколько стоит доставка в Казань?", "koi8-r")}
"""
    )


def yandex_html_only(*, message_id: str) -> bytes:
    """Yandex web mail with an HTML-only body (and a script someone slipped in)."""
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<div>Здравствуйте!</div><div>Нужен <b>счёт</b> на 10 коробок.</div>"
        "<script>alert('xss')</script><img src=x onerror=alert(1)>"
        '<a href="javascript:alert(2)">ссылка</a></body></html>'
    )
    return crlf(
        f"""From: =?utf-8?B?{base64.b64encode("Пётр".encode()).decode()}?= <petr@yandex.ru>
To: sales@acme.test
Subject: =?utf-8?B?{base64.b64encode("Счёт".encode()).decode()}?=
MIME-Version: 1.0
X-Mailer: Yamail [ http://yandex.ru ] 5.0
Date: Fri, 04 Dec 2026 12:00:00 +0300
Message-Id: <{message_id}>
Content-Transfer-Encoding: base64
Content-Type: text/html; charset=utf-8

{b64(html)}
"""
    )


def unknown_charset(*, message_id: str) -> bytes:
    """A UTF-8 body under a charset label nobody knows."""
    body = "Привет, нужна консультация".encode()
    head = crlf(
        f"""From: noname@example.org
To: sales@acme.test
Subject: test
Message-ID: <{message_id}>
Content-Type: text/plain; charset="x-unknown-8bit"
Content-Transfer-Encoding: 8bit

"""
    )
    return head + body + b"\r\n"


def auto_reply(*, sender: str, message_id: str) -> bytes:
    """Exchange's out-of-office reply."""
    return crlf(
        f"""From: {sender}
To: sales@acme.test
Subject: {word("Автоответ: Re: Заказ")}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Message-ID: <{message_id}>
Content-Type: text/plain; charset=utf-8

Я в отпуске до понедельника.
"""
    )


def bounce(*, message_id: str) -> bytes:
    """Postfix's delivery status notification."""
    return crlf(
        f"""From: MAILER-DAEMON@mx.acme.test (Mail Delivery System)
To: sales@acme.test
Subject: Undelivered Mail Returned to Sender
Message-Id: <{message_id}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="9F1C2A0E7B.1733400000/mx.acme.test"

--9F1C2A0E7B.1733400000/mx.acme.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.test.
I'm sorry to have to inform you that your message could not be delivered.

--9F1C2A0E7B.1733400000/mx.acme.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.test
Final-Recipient: rfc822; nobody@example.com
Action: failed
Status: 5.1.1

--9F1C2A0E7B.1733400000/mx.acme.test--
"""
    )


def bounce_without_auto_header(*, message_id: str) -> bytes:
    """A bounce that says so only by its sender."""
    return crlf(
        f"""From: postmaster@mail.example.net
To: sales@acme.test
Subject: Delivery failure
Message-Id: <{message_id}>
Content-Type: text/plain

The message could not be delivered.
"""
    )


GARBAGE = b"\x00\xff\xfe garbage \x80\x81 no headers at all\r\n\r\n\xd0\xd1"


def without_sender(*, message_id: str) -> bytes:
    return crlf(
        f"""To: sales@acme.test
Subject: no from
Message-ID: <{message_id}>

Who am I?
"""
    )


def huge_headers() -> bytes:
    return b"From: a@b.c\r\n" + b"X-Junk: " + b"a" * 300_000 + b"\r\n\r\nbody\r\n"


def with_files(*, sender: str, message_id: str, files: dict[str, tuple[str, bytes]]) -> bytes:
    """A Thunderbird-like message with attachments (name: (type, content))."""
    parts = "".join(
        f"""--------------B0undary
Content-Type: {kind}; name="{name}"
Content-Disposition: attachment; filename="{name}"
Content-Transfer-Encoding: base64

{wrapped(data)}
"""
        for name, (kind, data) in files.items()
    )
    return crlf(
        f"""From: Client <{sender}>
To: sales@acme.test
Subject: Files
Message-ID: <{message_id}>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------B0undary"

--------------B0undary
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

See the files.
{parts}--------------B0undary--
"""
    )
