"""Time zones as people look for them: grouped by region, named in the reader's language
("Москва, Россия" for Europe/Moscow) with their UTC offset, searchable by city, country,
offset or IANA name. The stored value stays the IANA name.

The names come from the Unicode CLDR through babel (the platform's Python and ICU offer
none: zoneinfo knows only IANA names); a zone CLDR does not name yet reads as its IANA
city ("Coyhaique").
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# The IANA areas people think of as regions, in the order the list shows them.
REGIONS: dict[str, str | Promise] = {
    "Europe": _("Europe"),
    "Asia": _("Asia"),
    "America": _("America"),
    "Africa": _("Africa"),
    "Australia": _("Australia"),
    "Pacific": _("Pacific Ocean"),
    "Atlantic": _("Atlantic Ocean"),
    "Indian": _("Indian Ocean"),
    "Antarctica": _("Antarctica"),
    "Arctic": _("Arctic"),
}
OTHER = _("Other")


@dataclass(frozen=True)
class Zone:
    """One choice: the IANA name, what it reads as, and the words a search matches."""

    name: str
    label: str
    search: str
    offset_minutes: int


def _offset(name: str) -> int:
    delta = datetime.now(zoneinfo.ZoneInfo(name)).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def _utc(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@lru_cache(maxsize=1)
def _canonical() -> dict[str, tuple[tuple[str, ...], str]]:
    """Zone name → (its CLDR keys, its territory) for every IANA zone of a region that is
    not an old alias: CLDR keeps some zones under their old names (Asia/Calcutta for
    Asia/Kolkata), some under the new."""
    aliases: dict[str, str] = get_global("zone_aliases")
    territories: dict[str, str] = get_global("zone_territories")
    older: dict[str, list[str]] = {}
    for old, new in aliases.items():
        older.setdefault(new, []).append(old)
    zones: dict[str, tuple[tuple[str, ...], str]] = {}
    for name in zoneinfo.available_timezones():
        if name.split("/")[0] not in REGIONS or name in aliases:
            continue
        keys = (name, *older.get(name, ()))
        territory = next((territories[k] for k in keys if k in territories), "")
        zones[name] = (keys, territory)
    return zones


def _city(locale: Locale, keys: tuple[str, ...]) -> str:
    """The zone's exemplar city in `locale` under any of its CLDR keys, or ""."""
    for key in keys:
        city = (locale.time_zones.get(key) or {}).get("city")
        if city:
            return city
    return ""


def canonical_names() -> frozenset[str]:
    """Every zone the list offers (plus UTC)."""
    return frozenset({*_canonical(), "UTC"})


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale("en")


@lru_cache(maxsize=8)
def _zones(language: str, hour: int) -> tuple[tuple[str, tuple[Zone, ...]], ...]:
    """The regions and their zones named in `language`, by offset then name (`hour` keeps
    offsets fresh across daylight-saving changes)."""
    locale, english = _locale(language), Locale("en")
    grouped: dict[str, list[Zone]] = {region: [] for region in REGIONS}
    for name, (keys, territory) in _canonical().items():
        english_city = _city(english, keys) or name.rsplit("/", 1)[-1].replace("_", " ")
        city = _city(locale, keys) or english_city
        country = locale.territories.get(territory, "") if territory not in ("", "001") else ""
        offset = _offset(name)
        label = f"({_utc(offset)}) {city}" + (f", {country}" if country and country != city else "")
        english_country = english.territories.get(territory, "") if country else ""
        search = " ".join((name, city, country, english_city, english_country, _utc(offset)))
        grouped[name.split("/")[0]].append(Zone(name, label, search.casefold(), offset))
    return tuple(
        (region, tuple(sorted(zones, key=lambda z: (z.offset_minutes, z.label))))
        for region, zones in grouped.items()
        if zones
    )


def zone_choices(current: str = "") -> list:
    """Grouped choices for a <select> in the active language: (region label, [(IANA
    name, label), …]) with UTC first, and `current` kept when the list lacks it (an old
    alias stored earlier)."""
    language = get_language() or "en"
    choices: list = [("UTC", "(UTC) UTC")]
    for region, zones in _zones(language, timezone.now().hour):
        choices.append((REGIONS[region], [(zone.name, zone.label) for zone in zones]))
    if current and current not in canonical_names():
        choices.append((OTHER, [(current, current)]))
    return choices


@lru_cache(maxsize=8)
def _by_name(language: str, hour: int) -> dict[str, Zone]:
    return {zone.name: zone for _region, zones in _zones(language, hour) for zone in zones}


def search_words(name: str) -> str:
    """What a search over the list matches for one zone (names in the active language and
    in English, the IANA name, the offset), lower-cased."""
    zone = _by_name(get_language() or "en", timezone.now().hour).get(name)
    return zone.search if zone else name.casefold()
