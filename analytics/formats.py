"""Figures as people read them, in the active language: counts with grouping, money,
shares in percent, durations in days, hours and minutes (a deal's sales cycle also in
seconds)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.formats import get_format, number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

# Per language: its decimal and thousand separators, and whether it groups by threes.
_SEPARATORS: dict[str | None, tuple[str, str, bool]] = {}


def duration_text(seconds: float | None) -> str:
    """A duration, the two largest units: "2 d 3 h", "1 h 5 min", "4 min 10 s", "45 s"."""
    if seconds is None:
        return ""
    total = max(round(float(seconds)), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [
        (days, _("%(n)s d")),
        (hours, _("%(n)s h")),
        (minutes, _("%(n)s min")),
        (secs, _("%(n)s s")),
    ]
    shown = [text % {"n": n} for n, text in units if n][:2]
    return " ".join(shown) if shown else _("%(n)s s") % {"n": 0}


def minutes_text(minutes: float | None) -> str:
    """A duration in whole minutes, its largest unit and the next one when not zero: "2 d
    3 h", "1 d", "1 h 5 min", "4 min"; "< 1 min" below a minute (decision 011: a director
    reads minutes, and a day's hours — so durations are kept at that resolution)."""
    if minutes is None:
        return ""
    total = int(minutes // 1)
    if total < 1:
        return _("< 1 min")
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    units = [(days, _("%(n)s d")), (hours, _("%(n)s h")), (mins, _("%(n)s min"))]
    first = next(index for index, (n, _text) in enumerate(units) if n)
    shown = [units[first][1] % {"n": units[first][0]}]
    if first < 2 and units[first + 1][0]:
        shown.append(units[first + 1][1] % {"n": units[first + 1][0]})
    return " ".join(shown)


def grouped(value: int | float | Decimal, places: int) -> str:
    """`number_format(value, places, force_grouping=True)` (a float or Decimal rounded to
    `places` first) in one string format: a report shows a thousand figures, and Django's
    general formatter was a fifth of the page's time."""
    lang = get_language()
    found = _SEPARATORS.get(lang)
    if found is None:
        found = _SEPARATORS[lang] = (
            get_format("DECIMAL_SEPARATOR"),
            get_format("THOUSAND_SEPARATOR"),
            get_format("NUMBER_GROUPING") == 3,
        )
    decimal, thousand, threes = found
    # + 0: no "-0" (Django shows a negative zero as 0).
    rounded = (
        Decimal(value).quantize(Decimal(1)) + 0 if places == 0 else round(float(value), places)
    )
    if not threes:
        return number_format(rounded, places, force_grouping=True)
    text = f"{rounded:,}" if places == 0 else f"{rounded:,.{places}f}"
    return text.translate({ord(","): thousand, ord("."): decimal})


def figure_text(value: Any, kind: str, currency: str = "") -> str:
    """A figure of `kind` (count, number, money, percent, minutes, seconds, text) as text;
    "" for none."""
    if value is None:
        return ""
    if kind == "minutes":
        return minutes_text(value)
    if kind == "seconds":
        return duration_text(value)
    if kind == "percent":
        return f"{grouped(value, 1)} %"
    if kind == "money":
        return f"{grouped(value, 0)} {currency}".strip()
    if kind == "count":
        return grouped(int(value), 0)
    if kind == "number":
        return grouped(value, 1)
    return str(value)


def change_text(change: float | None, kind: str) -> str:
    """A change against the previous period: "+12 %" (relative) or "+3,5 pp" (of a share)."""
    if change is None:
        return ""
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    amount = number_format(round(abs(change), 1), 1 if kind == "percent" else 0)
    unit = _("pp") if kind == "percent" else "%"
    return f"{sign}{amount} {unit}"
