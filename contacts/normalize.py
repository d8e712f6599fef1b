"""Normalization of the ways to reach a person: phones to E.164, e-mails to a match key.

Values are read through `crm.text.clean_line` first, so an invisible character pasted into
a phone or an e-mail never changes its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.utils.translation import gettext as _

from crm.text import clean_line

DIGITS = re.compile(r"\d")
WORD_CHAR = re.compile(r"\w")
# Finding numbers in a field: only numbers valid for their region (phonenumbers' metadata)
# count, so "после 18:00", an order number or a date beside a phone is not read as another
# number. A field that holds one number the metadata does not know (a new range, a test
# number) is still read as before: parsed whole, kept when it is a possible number; so is
# such a number listed beside valid ones as an item of its own ("…, …", "… или …").
LENIENCY = phonenumbers.Leniency.VALID
# A field that holds one number and nothing else (digits, spaces, + ( ) - .).
ONLY_NUMBER = re.compile(r"\+?[0-9 ()\-.]+")
# How a list of numbers is written in one field: "…, …", "…; …", "… или …", "… / …".
LIST_SEPARATOR = re.compile(r"\s*(?:[,;/]|\b(?:или|or)\b)\s*", re.IGNORECASE)
POSSIBLE = phonenumbers.Leniency.POSSIBLE
# The longest number kept as written (longer ones are written in international format).
MAX_WRITTEN = 32


@dataclass(frozen=True)
class Phone:
    """One number found in a phone field: its key, its extension, the text it was read from."""

    e164: str
    extension: str = ""
    text: str = ""

    @property
    def display(self) -> str:
        """How a record keeps it: as written; with an extension, in international format
        followed by the extension under the label the person used ("доб. 12", else
        "ext. 7"), never glued onto the number's digits. At most 64 characters."""
        if not self.extension:
            # A number written with padding ("8-----999…") is shown the standard way: what a
            # record keeps must fit its column and read like a phone.
            return self.text if len(self.text) <= MAX_WRITTEN else phone_display(self.e164)
        label = "доб." if "доб" in self.text.casefold() else "ext."
        return f"{phone_display(self.e164)} {label} {self.extension}"[:64]


def _region(region: str) -> str | None:
    return region.upper() or None


def _found(number: phonenumbers.PhoneNumber, text: str) -> Phone:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, extension=number.extension or "", text=text.strip())


@lru_cache(maxsize=4096)  # a delivery's number is read several times on its way
def phones_in(raw: str, region: str) -> tuple[Phone, ...]:
    """Every phone number in a field, in order and without repeats, read with `region` for
    national formats: "8 (999) 123-45-67, +7 916 765-43-21", "+7 999 123-45-67 доб. 12",
    "звоните 8 999 123 45 67 после 18" all work. () when none can be read."""
    text = clean_line(raw)
    if len(DIGITS.findall(text)) < 5:
        return ()
    if ONLY_NUMBER.fullmatch(text):
        # One number and nothing else, as most fields hold: parsing it whole is ~10× cheaper
        # than the matcher, which reads any text.
        try:
            number = phonenumbers.parse(text, _region(region))
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            return (_found(number, text),)
    found: list[tuple[int, Phone]] = []
    for match in phonenumbers.PhoneNumberMatcher(text, _region(region) or "ZZ", LENIENCY):
        found.append((match.start, _found(match.number, match.raw_string)))
    if found:
        found += _listed_unknown(text, region, [phone.text for _start, phone in found])
        unique: list[Phone] = []
        for _start, phone in sorted(found, key=lambda pair: pair[0]):
            if all((p.e164, p.extension) != (phone.e164, phone.extension) for p in unique):
                unique.append(phone)
        return tuple(unique)
    try:
        number = phonenumbers.parse(text, _region(region))
    except phonenumbers.NumberParseException:
        return ()
    if not phonenumbers.is_possible_number(number):
        return ()
    phone = _found(number, text)
    # The number's own text, without words after it ("+7 000 000-00-00 после 18").
    possible = phonenumbers.PhoneNumberMatcher(text, _region(region) or "ZZ", POSSIBLE)
    spans = (m.raw_string for m in possible if _found(m.number, "").e164 == phone.e164)
    return (Phone(e164=phone.e164, extension=phone.extension, text=next(spans, phone.text)),)


def _listed_unknown(text: str, region: str, known: list[str]) -> list[tuple[int, Phone]]:
    """Numbers the metadata does not know in a field that lists numbers beside valid ones
    ("+7 930 065-21-96, 8 (812) 328-43-84"): each item of the list that is a bare number,
    not one found already, kept when it is a possible number (a new range must not be
    lost because it sits beside another number). Words, dates and times are no items."""
    extra = []
    position = 0
    for item in LIST_SEPARATOR.split(text):
        start = text.find(item, position)
        position = start + len(item)
        if not item or not ONLY_NUMBER.fullmatch(item) or any(item in k for k in known):
            continue
        try:
            number = phonenumbers.parse(item, _region(region))
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            extra.append((start, _found(number, item)))
    return extra


def phone_e164(raw: str, region: str) -> str:
    """The first number of `raw` as E.164 (`+79991234567`, no extension) read with `region`
    for national formats, or "".

    `8 (999) 123-45-67` and `+7 999 1234567` give the same key in region RU.
    """
    phones = phones_in(raw or "", region)
    return phones[0].e164 if phones else ""


def phone_tail(e164: str) -> str:
    """A number's digits backwards ("+79671234567" → "76543217697"): the last digits a
    caller reads out ("…45-67") are a prefix of it, so "ends with" is a range of a btree."""
    return "".join(DIGITS.findall(e164))[::-1]


def phone_rest(raw: str, phones: tuple[Phone, ...]) -> str:
    """What a phone field says besides its numbers ("" when only separators are left):
    e.g. "звоните … после 18" — words a record keeps beside the numbers."""
    rest = clean_line(raw)
    for phone in phones:
        rest = rest.replace(phone.text, " ")
    return rest if WORD_CHAR.search(rest) else ""


@dataclass(frozen=True)
class PhoneField:
    """A phone field read: its first number as a record keeps it (`Phone.display`), further
    numbers, and the field as given when it said more than its numbers ("звоните … после
    18") or held none that could be read ("" otherwise)."""

    phone: str = ""
    others: tuple[str, ...] = ()
    note: str = ""


def phone_field(raw: str, region: str) -> PhoneField:
    """Read a phone field (`phones_in`): nothing it held is dropped."""
    text = clean_line(raw)
    phones = phones_in(text, region)
    if not phones:
        return PhoneField(note=text)
    return PhoneField(
        phone=phones[0].display,
        others=tuple(p.display for p in phones[1:]),
        note=text if phone_rest(text, phones) else "",
    )


def phones_merged(
    phones: list[str], more: tuple[str, ...] | list[str], *, besides: str, region: str
) -> list[str]:
    """`phones` then `more`, cleaned, without two of one number and without the number
    `besides` (a record's main phone, as E.164)."""
    seen = {besides} if besides else set()
    merged: list[str] = []
    for value in (*phones, *more):
        value = clean_line(value)
        key = phone_e164(value, region) or value
        if value and key not in seen:
            seen.add(key)
            merged.append(value)
    return merged


def phone_example(region: str) -> str:
    """A mobile number of the region in international format, to show how to write one
    ("" without a region)."""
    if not _region(region):
        return ""
    number = phonenumbers.example_number_for_type(
        _region(region), phonenumbers.PhoneNumberType.MOBILE
    )
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def unreadable_phone(raw: str, region: str) -> str:
    """Why a phone in which no number can be read is refused as the only way to reach the
    person (the sender and the manager see it)."""
    values = {"phone": clean_line(raw)[:100], "example": phone_example(region)}
    if not values["example"]:
        return (
            _(
                "No phone number can be read in “%(phone)s”: write it with its country code, "
                "or leave an e-mail."
            )
            % values
        )
    return (
        _(
            "No phone number can be read in “%(phone)s”: write it with its area code, "
            "e.g. %(example)s, or leave an e-mail."
        )
        % values
    )


def email_key(raw: str) -> str:
    """The case-folded e-mail used to match people ("" when empty)."""
    return clean_line(raw).casefold()


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
    raw = clean_line(raw)
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
    return {word.casefold() for part in parts for word in WORD.findall(clean_line(part))}


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`: a prefix
    search as `value >= prefix AND value < bound`, which a btree answers under RLS (LIKE
    is not leakproof there, see bench/README.md finding 3)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
