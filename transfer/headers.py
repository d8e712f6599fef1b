"""Which field a column is, by its header (a first version: the fields' own names in
Russian and English, and their keys)."""

from __future__ import annotations

import re

from django.utils import translation

from crm.text import clean_line
from transfer.fields import FIELDS


def normalize_header(text: str) -> str:
    """A header as compared: case, ё, spaces and punctuation do not count."""
    text = clean_line(str(text)).casefold().replace("ё", "е")
    return " ".join(re.sub(r"[^\w@+]+", " ", text).split())


def guess_mapping(entity: str, headers: list[str], custom_labels: dict[str, str]) -> dict[int, str]:
    """Column index -> field key for the columns whose header names a field."""
    names: dict[str, str] = {}
    for spec in FIELDS[entity]:
        names.setdefault(normalize_header(spec.key), spec.key)
        for language in ("ru", "en"):
            with translation.override(language):
                names.setdefault(normalize_header(str(spec.label)), spec.key)
    for label, key in custom_labels.items():
        names[normalize_header(label)] = key
    multi = {spec.key for spec in FIELDS[entity] if spec.multi}
    found: dict[int, str] = {}
    for index, header in enumerate(headers):
        key = names.get(normalize_header(header))
        if key and (key in multi or key not in found.values()):
            found[index] = key
    return found
