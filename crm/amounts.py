"""Amounts as people write them: "1 234 567,89", "1,234.56", "$1,200", "15000 руб.",
"150 тыс", "1,5 млн ₽" — one reading for imports and the qualification questionnaires."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from crm.text import clean_line

LIMIT = Decimal("1e12")
# Words of magnitude after the number ("150 тыс", "1.5 млн", "20k").
MAGNITUDES = {
    "тыс": 3,
    "тысяч": 3,
    "тысячи": 3,
    "тысяча": 3,
    "k": 3,
    "к": 3,
    "млн": 6,
    "миллион": 6,
    "миллиона": 6,
    "миллионов": 6,
    "mln": 6,
    "m": 6,
    "млрд": 9,
    "bn": 9,
}


def parse_amount(value: object) -> Decimal:
    """The amount `value` says, to the kopeck; ValueError when there is none or it is not
    below 10¹²."""
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    line = clean_line(str(value)).replace("\u2212", "-")
    words = re.findall(r"[a-zа-яё]+", line.lower())
    power = next((MAGNITUDES[word] for word in words if word in MAGNITUDES), 0)
    text = re.sub(r"[^\d,.\-]", "", line)
    if not re.search(r"\d", text):
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": str(value)[:40]})
    if "," in text and "." in text:
        # The later mark is the decimal one: 1.234,56 or 1,234.56.
        thousands = "." if text.rfind(",") > text.rfind(".") else ","
        text = text.replace(thousands, "").replace(",", ".")
    elif text.count(",") == 1 and (power or len(text.rsplit(",", 1)[1]) != 3):
        text = text.replace(",", ".")
    elif not power:
        text = text.replace(",", "")
    try:
        amount = (Decimal(text) * (10**power)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not an amount.") % {"value": str(value)[:40]}) from None
    if abs(amount) >= LIMIT:
        raise ValueError(_("The amount %(value)s is too large.") % {"value": str(value)[:40]})
    return amount
