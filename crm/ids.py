"""Record ids read from requests (query strings, cursors, form text): strict and bounded.

`str.isdigit()` is true for "²" and "١٢٣", which `int()` then refuses or reads, and an id
past the database's bigint range makes SQLite raise OverflowError: a hostile URL must get
"nothing found", never a 500. Every id parsed by hand goes through `parse_id`.
"""

from __future__ import annotations

import re

# The largest value of a bigint primary key (PostgreSQL and SQLite alike).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value: object) -> int | None:
    """`value` as a record id (1…MAX_ID: ASCII digits, or an int that is not a bool), else
    None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_ID else None
