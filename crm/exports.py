"""Spreadsheet exports (CSV and XLSX) that are safe to open and read in local time.

Every cell — the header row included, since custom-field labels are tenant text — is
written as text: dates and times in the active time zone (the workspace's, which
`tenant_context` activates) as `dd.mm.yyyy HH:MM` / `dd.mm.yyyy`, and text that a
spreadsheet would run as a formula prefixed with `'`. XLSX cells are typed as strings, so
no cell is ever a formula, whatever its text.

`write_table` streams a table of any size into a file; `ExportResource` is the base of the
lists' django-import-export resources: the list's columns ("visible") or every field plus
the custom fields ("all"), as raw values for `write_table` to format.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from crm import customfields
from crm.models import CustomField, Membership

# A value made only of these after a leading + or - is a phone number or a number, not a formula.
NUMBER_LIKE = re.compile(r"^[+-][\d\s().-]*$")
DATETIME_FORMAT = "%d.%m.%Y %H:%M"
DATE_FORMAT = "%d.%m.%Y"
# Rows of CSV text gathered before they are written out.
CSV_CHUNK = 1000
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
    out = io.BytesIO()
    write_table(headers, rows, fmt=fmt, out=out)
    return out.getvalue()


def write_table(
    headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, fmt: str, out: BinaryIO
) -> int:
    """Write the table to the binary file `out` as `render_table` would, a row at a time
    (CSV flushed every CSV_CHUNK rows; XLSX in openpyxl's write-only mode, which keeps
    the rows in a temporary file): memory stays flat whatever the row count. Returns how
    many rows (headers aside) were written."""
    count = 0
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        text.write("\ufeff")
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow([cell_text(h) for h in headers])
        for row in rows:
            writer.writerow([cell_text(v) for v in row])
            count += 1
            if count % CSV_CHUNK == 0:
                text.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        text.write(buffer.getvalue())
        text.detach()  # leave `out` open for the caller
        return count
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([_string_cell(sheet, cell_text(h)) for h in headers])
    for row in rows:
        sheet.append([_string_cell(sheet, cell_text(v)) for v in row])
        count += 1
    book.save(out)
    return count


def _string_cell(sheet: Any, text: str) -> WriteOnlyCell:
    """A cell that is text whatever it says (openpyxl would take "=…" for a formula); the
    control characters XML cannot hold are dropped."""
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"
    return cell


class Columns(models.TextChoices):
    """Which columns an export has: those its list shows, or every field of the card plus
    the custom fields and the record's id and times."""

    VISIBLE = "visible", _("Visible columns")
    ALL = "all", _("All fields")


class ExportResource(resources.Resource):
    """Base of the list exports (django-import-export): declared fields in order, then one
    column per custom field of the entity ("all" only). `visible` names the fields of the
    list's own columns. Values are raw (dates stay dates) for `write_table` to format."""

    visible: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        columns: str = Columns.ALL,
        custom_fields: list[CustomField],
        members: dict[int, str],
    ) -> None:
        super().__init__()
        self.columns = columns
        self.members = members
        self.custom_fields = {
            customfields.PREFIX + d.key: d
            for d in (custom_fields if columns == Columns.ALL else [])
        }
        for name, definition in self.custom_fields.items():
            self.fields[name] = fields.Field(column_name=definition.label)

    def get_export_fields(self, selected_fields: Any = None) -> list[fields.Field]:
        if self.columns == Columns.VISIBLE:
            return [self.fields[name] for name in self.visible]
        return [self.fields[name] for name in self.get_export_order()]

    def export_field(self, field: fields.Field, instance: Any, **kwargs: Any) -> Any:
        name = self.get_field_name(field)
        definition = self.custom_fields.get(name)
        if definition is not None:
            return self._custom_value(definition, instance.custom or {})
        if callable(getattr(self, f"dehydrate_{name}", None)):
            return super().export_field(field, instance, **kwargs)
        return field.get_value(instance)

    def _custom_value(self, definition: CustomField, custom: dict[str, Any]) -> Any:
        value = custom.get(definition.key)
        if definition.field_type == CustomField.Type.DATE and value:
            try:
                return datetime.date.fromisoformat(value)
            except (TypeError, ValueError):
                return value
        lines = customfields.display([definition], custom, self.members)
        return lines[0][1] if lines else ""


def member_name(member: Membership | None) -> str:
    """A record's owner (or creator) as people read it: the person's name."""
    return str(member.user) if member is not None else ""
