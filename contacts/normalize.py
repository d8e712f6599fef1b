"""Normalization of the ways to reach a person: phones to E.164, e-mails to a match key."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

DIGITS = re.compile(r"\d")


@lru_cache(maxsize=4096)  # a delivery's number is read several times on its way (≈ 60 µs each)
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


WORD = re.compile(r"\w+")
HANDLE_PREFIXES = ("https://", "http://", "www.", "t.me/", "vk.com/", "wa.me/")


def messenger_key(provider: str, raw: str, region: str) -> str:
    """A messenger identity as a match key: WhatsApp by its phone (E.164), Telegram and VK
    by the handle without `@` or link prefix, case-folded ("" when empty)."""
    raw = (raw or "").strip()
    for prefix in HANDLE_PREFIXES:
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    raw = raw.lstrip("@").strip("/").casefold()
    if provider == "whatsapp":
        return phone_e164(raw, region) or raw
    return raw


def tax_id_key(raw: str) -> str:
    """A tax id (INN) as its digits only ("" when it has none)."""
    return "".join(DIGITS.findall(raw or ""))


def name_words(*parts: str) -> set[str]:
    """The case-folded words of names, for prefix search (`ё` kept apart from `е`)."""
    return {word.casefold() for part in parts for word in WORD.findall(part or "")}


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`: a prefix
    search as `value >= prefix AND value < bound`, which a btree answers under RLS (LIKE
    is not leakproof there, see bench/README.md finding 3)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
