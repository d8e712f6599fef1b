"""Spreadsheet exports (CSV and XLSX) that are safe to open and read in local time.

Every cell — the header row included, since custom-field labels are tenant text — is
written as text: dates and times in the active time zone (the workspace's, which
`tenant_context` activates) as `dd.mm.yyyy HH:MM` / `dd.mm.yyyy`, and text that a
spreadsheet would run as a formula prefixed with `'`. XLSX cells are typed as strings, so
no cell is ever a formula, whatever its text.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# A value made only of these after a leading + or - is a phone number or a number, not a formula.
NUMBER_LIKE = re.compile(r"^[+-][\d\s().-]*$")
DATETIME_FORMAT = "%d.%m.%Y %H:%M"
DATE_FORMAT = "%d.%m.%Y"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def neutralize(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) with '."""
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in "=@\t\r" or (first in "+-" and not NUMBER_LIKE.match(value)):
        return "'" + value
    return value


def cell_text(value: Any) -> str:
    """One exported value as the text of its cell, neutralized: an aware date and time in
    the active time zone without seconds, a date as dd.mm.yyyy, nothing for None."""
    if value is None:
        text = ""
    elif isinstance(value, datetime.datetime):
        moment = timezone.localtime(value) if timezone.is_aware(value) else value
        text = moment.strftime(DATETIME_FORMAT)
    elif isinstance(value, datetime.date):
        text = value.strftime(DATE_FORMAT)
    else:
        text = str(value)
    return neutralize(text)


def render_table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, fmt: str) -> bytes:
    """The table as a CSV (UTF-8 with a BOM, `;`: what Excel in Russian locales opens as
    columns) or XLSX file, every cell — headers too — through `cell_text`."""
    table = ([cell_text(h) for h in headers], *([cell_text(v) for v in row] for row in rows))
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(table)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for values in table:
        sheet.append([_string_cell(sheet, text) for text in values])
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()


def _string_cell(sheet: Any, text: str) -> WriteOnlyCell:
    """A cell that is text whatever it says (openpyxl would take "=…" for a formula); the
    control characters XML cannot hold are dropped."""
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"
    return cell
