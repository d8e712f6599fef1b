"""Safe spreadsheet values: neutralize formula injection in exported cells (CSV and XLSX)."""

from __future__ import annotations

import re
from typing import Any

# A value made only of these after a leading + or - is a phone number or a number, not a formula.
NUMBER_LIKE = re.compile(r"^[+-][\d\s().-]*$")


def neutralize(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) with '."""
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in "=@\t\r" or (first in "+-" and not NUMBER_LIKE.match(value)):
        return "'" + value
    return value
