"""Normalization of the ways to reach a person: phones to E.164, e-mails to a match key."""

from __future__ import annotations

import re

import phonenumbers

DIGITS = re.compile(r"\d")


def phone_e164(raw: str, region: str) -> str:
    """`raw` as E.164 (`+79991234567`) read with `region` for national formats, or "".

    `8 (999) 123-45-67` and `+7 999 1234567` give the same key in region RU.
    """
    raw = (raw or "").strip()
    if len(DIGITS.findall(raw)) < 5:
        return ""
    try:
        number = phonenumbers.parse(raw, region.upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_key(raw: str) -> str:
    """The case-folded e-mail used to match people ("" when empty)."""
    return (raw or "").strip().casefold()


def phone_display(e164: str) -> str:
    """An E.164 number in international format for reading (`+7 999 123-45-67`)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
