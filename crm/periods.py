"""Days and periods in the workspace's time zone.

`tenant_context` activates the workspace's zone, so "today" here is the workspace's today,
not the server's: a lead created at 22:30 UTC on the 3rd is created on the 4th in Moscow
and on the 3rd in Bogotá. Every period is a half-open range of instants
[start, end) — what an indexed `created_at >= start AND created_at < end` needs — built from
local midnights (so a day with a daylight-saving change is 23 or 25 hours long, as it is).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Period:
    """The local days `first`..`last` (inclusive) as the instants [start, end)."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return day_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return day_start(self.last + dt.timedelta(days=1))


def today() -> dt.date:
    """Today in the active (the workspace's) time zone."""
    return timezone.localdate()


def day_start(day: dt.date) -> dt.datetime:
    """Local midnight at the beginning of `day`, as an aware instant."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def local_text(value: dt.datetime | str) -> str:
    """An instant (or its ISO text, as events and notifications store it) as the workspace's
    local date and time in the active language's short format; "" for an unreadable text."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return ""
    if timezone.is_naive(value):
        return ""
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s week (ISO weeks, as in Russia and most of Europe)."""
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


# Named periods, in the order a period picker lists them.
PRESETS = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "this_week": _("This week"),
    "last_7_days": _("Last 7 days"),
    "last_30_days": _("Last 30 days"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "this_quarter": _("This quarter"),
    "this_year": _("This year"),
}


def preset(name: str, *, on: dt.date | None = None) -> Period:
    """The named period (a key of PRESETS) as seen on the local day `on` (default today).

    Raises KeyError for an unknown name.
    """
    if name not in PRESETS:
        raise KeyError(name)
    day = on or today()
    one = dt.timedelta(days=1)
    if name == "today":
        return Period(day, day)
    if name == "yesterday":
        return Period(day - one, day - one)
    if name == "this_week":
        return Period(week_start(day), week_start(day) + 6 * one)
    if name == "last_7_days":
        return Period(day - 6 * one, day)
    if name == "last_30_days":
        return Period(day - 29 * one, day)
    if name == "this_month":
        return Period(month_start(day), _month_end(day))
    if name == "last_month":
        previous = month_start(day) - one
        return Period(month_start(previous), previous)
    if name == "this_quarter":
        first = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        return Period(first, _month_end(first.replace(month=first.month + 2)))
    return Period(day.replace(month=1, day=1), day.replace(month=12, day=31))
