"""Reading one cell of an import as the value its field needs: dates and times in the
workspace's zone, amounts in any common spelling, currencies by code or sign, e-mails.
Each parser raises ValueError with a message for the row's report."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.text import clean_line

DMY, MDY, YMD = "dmy", "mdy", "ymd"

_DATE = re.compile(
    r"^(?P<a>\d{1,4})[./\-](?P<b>\d{1,2})[./\-](?P<c>\d{1,4})"
    r"(?:[ T,]+(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<ampm>[AaPp][Mm])?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$"
)
_EXCEL_EPOCH = datetime.date(1899, 12, 30)

CURRENCIES = {
    "российский рубль": "RUB",
    "рубль рф": "RUB",
    "доллар сша": "USD",
    "американский доллар": "USD",
    "белорусский рубль": "BYN",
    "казахстанский тенге": "KZT",
    "украинская гривна": "UAH",
    "гривна": "UAH",
    "китайский юань": "CNY",
    "₽": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "рубль": "RUB",
    "рублей": "RUB",
    "rur": "RUB",
    "р": "RUB",
    "р.": "RUB",
    "$": "USD",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
    "евро": "EUR",
    "₸": "KZT",
    "тенге": "KZT",
    "byn": "BYN",
    "£": "GBP",
    "¥": "CNY",
    "юань": "CNY",
}


def jsonable(value: object) -> object:
    """A field's value as an import's undo record keeps it (JSON)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def same_name(text: str) -> str:
    """A name as compared with others: case, ё, spaces, punctuation and invisible
    characters do not count ("Иванов  Пётр" = "иванов петр")."""
    text = clean_line(text).casefold().replace("ё", "е")
    return " ".join(re.sub(r"[^\w@.+]+", " ", text).split())


def date_order(samples: Iterable[str]) -> str:
    """Whether the file writes dates day first (dd.mm.yyyy, the default) or month first
    (mm/dd/yyyy): a first number above 12 says day first, a second above 12 month first."""
    for text in samples:
        found = _DATE.match(clean_line(text))
        if not found or len(found["a"]) == 4:
            continue
        first, second = int(found["a"]), int(found["b"])
        if first > 12 >= second:
            return DMY
        if second > 12 >= first:
            return MDY
    return DMY


def _parts(text: str, order: str) -> tuple[re.Match, int, int, int]:
    found = _DATE.match(text)
    if not found:
        raise ValueError(_("“%(value)s” is not a date.") % {"value": text[:40]})
    a, b, c = found["a"], found["b"], found["c"]
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    elif order == MDY:
        month, day, year = int(a), int(b), int(c)
    else:
        day, month, year = int(a), int(b), int(c)
    if year < 100:
        year += 2000 if year < 70 else 1900
    return found, year, month, day


# What exports write in a date column that holds no date (amoCRM: an open deal's close date).
NO_DATE = {"не закрыта", "не закрыт", "нет", "—", "-", "n/a", "none", "null", "never"}


def no_date(value: object) -> bool:
    """Whether a date cell says there is no date."""
    return isinstance(value, str) and clean_line(value).strip().lower() in NO_DATE


def parse_datetime(value: object, order: str = DMY) -> datetime.datetime:
    """A moment: "05.12.2026 14:30", "2026-12-05T14:30:00Z", "12/05/2026 2:30 PM", an Excel
    date; without a zone it is the workspace's (the active time zone)."""
    zone = timezone.get_current_timezone()
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, zone)
    if isinstance(value, datetime.date):
        return timezone.make_aware(datetime.datetime.combine(value, datetime.time()), zone)
    text = clean_line(str(value))
    if isinstance(value, int | float) or re.fullmatch(r"\d{5}(\.\d+)?", text):
        serial = float(text)  # an Excel serial date written out as a number
        moment = datetime.datetime.combine(_EXCEL_EPOCH, datetime.time()) + datetime.timedelta(
            days=serial
        )
        return timezone.make_aware(moment.replace(microsecond=0), zone)
    found, year, month, day = _parts(text, order)
    hour = int(found["h"] or 0)
    if found["ampm"]:
        hour = hour % 12 + (12 if found["ampm"].lower() == "pm" else 0)
    try:
        moment = datetime.datetime(  # noqa: DTZ001 - naive on purpose, made aware below
            year, month, day, hour, int(found["m"] or 0), int(found["s"] or 0)
        )
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date.") % {"value": text[:40]}) from None
    if found["tz"]:
        offset = found["tz"].replace(":", "")
        if offset == "Z":
            tz = datetime.UTC
        else:
            minutes = int(offset[1:3]) * 60 + int(offset[3:5])
            tz = datetime.timezone(
                datetime.timedelta(minutes=minutes if offset[0] == "+" else -minutes)
            )
        return moment.replace(tzinfo=tz)
    return timezone.make_aware(moment, zone)


def parse_date(value: object, order: str = DMY) -> datetime.date:
    """A calendar date in the workspace's zone (a moment with a zone is read there)."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    return timezone.localtime(parse_datetime(value, order)).date()


def parse_currency(value: object) -> str:
    """A three-letter code from a code, a sign or a Russian word ("руб.", "₽", "usd")."""
    text = clean_line(str(value)).strip().lower()
    if text in CURRENCIES:
        return CURRENCIES[text]
    if re.fullmatch(r"[a-z]{3}", text):
        return text.upper()
    raise ValueError(_("“%(value)s” is not a currency.") % {"value": str(value)[:40]})


def currency_in(value: object) -> str:
    """The currency an amount's cell names ("15 000 ₽", "$1,200"), or ""."""
    text = clean_line(str(value)).lower()
    for sign, code in CURRENCIES.items():
        if len(sign) == 1 and not sign.isalpha() and sign in text:
            return code
    word = re.search(r"[a-zа-я]{1,7}\.?$", text)
    return CURRENCIES.get(word.group(0), "") if word else ""


def emails_in(value: str) -> tuple[list[str], list[str]]:
    """The valid e-mails in a cell (several may be separated by , ; or spaces) and the
    parts that are not e-mails."""
    good, bad = [], []
    for part in re.split(r"[,;\s]+", clean_line(value)):
        part = part.strip("<>()\"'")
        if not part:
            continue
        if part.lower().startswith("mailto:"):
            part = part[7:]
        try:
            validate_email(part)
            good.append(part)
        except ValidationError:
            bad.append(part)
    return good, bad
