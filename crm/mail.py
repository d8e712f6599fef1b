"""The one way the application sends e-mail: headers made of user text are one line.

A lead's title, a member's name or a company's name ends up in a subject. A line break in
it would be a header injection (Django refuses it with BadHeaderError, so the notification
would fail for good); `send_email` folds every run of whitespace — CR, LF, the Unicode line
and paragraph separators — into one space and drops other control characters.
"""

from __future__ import annotations

import unicodedata

from django.core.mail import send_mail

# Subjects longer than this are cut (mail clients show less; RFC 5322 advises 78 a line).
SUBJECT_MAX = 150


def header_text(value: str, limit: int = SUBJECT_MAX) -> str:
    """`value` as a one-line header value of at most `limit` characters."""
    printable = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in str(value)
    )
    return " ".join(printable.split())[:limit]


def send_email(*, subject: str, body: str, to: list[str]) -> None:
    """Send one plain-text message from DEFAULT_FROM_EMAIL, its subject made one line."""
    send_mail(header_text(subject), body, None, to)
