"""Reading an uploaded table: what kind of file it is, its encoding and delimiter (detected,
not asked), and its rows one at a time.

CSV in UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode text"), windows-1251,
KOI8-R, CP866 or windows-1252, delimited by comma, semicolon, tab or bar; XLSX (the first
sheet); and the HTML table that Bitrix24's "Export to Excel" writes under an .xls name.
Rows are streamed — a file of a million rows is never held in memory — and numbered as
the file numbers them (the header is row 1), so a rejected row can be found again.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import IO, Any

from django.utils.translation import gettext as _

CSV, XLSX, HTML = "csv", "xlsx", "html"
ENCODINGS = ("utf-8", "utf-16", "windows-1251", "koi8-r", "cp866", "windows-1252")
DELIMITERS = (";", ",", "\t", "|")
SAMPLE_BYTES = 256 * 1024
SAMPLE_ROWS = 20
MAX_COLUMNS = 200
MAX_CELL = 10_000  # characters kept of one cell

csv.field_size_limit(1 << 20)

# How often each Russian letter occurs (per cent): a text decoded with the right one of
# the Russian code pages is made of frequent letters, mostly lowercase; decoded with a
# wrong one it is rare letters, capitals and box-drawing signs.
_FREQUENCY = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (
            10.97,
            8.45,
            8.01,
            7.35,
            6.70,
            6.26,
            5.47,
            4.73,
            4.54,
            4.40,
            3.49,
            3.21,
            2.98,
            2.81,
            2.62,
            2.01,
            1.90,
            1.74,
            1.70,
            1.65,
            1.59,
            1.44,
            1.21,
            0.97,
            0.94,
            0.73,
            0.64,
            0.48,
            0.36,
            0.32,
            0.26,
            0.04,
            0.04,
        ),
        strict=True,
    )
)


def _russian_score(text: str) -> float:
    letters = [c for c in text if c.lower() in _FREQUENCY]
    if len(letters) < 3:
        return 0.0
    frequent = sum(_FREQUENCY[c.lower()] for c in letters) / len(letters)
    lower = sum(1 for c in letters if c.islower()) / len(letters)
    odd = sum(1 for c in text if "\u2500" <= c <= "\u25ff" or c == "\ufffd") / len(text)
    # Western text read as Cyrillic gives words of both alphabets ("Cafи").
    words = [w for w in re.findall(r"[^\W\d_]+", text) if any(c.lower() in _FREQUENCY for c in w)]
    mixed = sum(1 for w in words if re.search(r"[a-zA-Z]", w)) / max(len(words), 1)
    return frequent * (0.5 + 0.5 * lower) * (1 - mixed) - 50 * odd


class UnreadableFileError(ValueError):
    """The file cannot be read as a table; the message says why, for the person."""


@dataclass
class Detected:
    """How a file is read, and its first rows."""

    file_format: str
    encoding: str = ""
    delimiter: str = ""
    headers: list[str] = field(default_factory=list)
    sample: list[tuple[int, list[Any]]] = field(default_factory=list)  # (row number, cells)


def _sniff_kind(head: bytes, filename: str) -> str:
    name = filename.lower()
    if head.startswith(b"PK\x03\x04"):
        return XLSX
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFileError(
            _("This is an old Excel file (.xls). Save it as .xlsx or .csv and upload that.")
        )
    probe = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if probe.startswith((b"<html", b"<!doctype", b"<table", b"<meta", b"<?xml")) or (
        name.endswith(".xls") and b"<table" in head.lower()
    ):
        return HTML
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFileError(_("This is not a table file: upload a .csv or .xlsx file."))
    return CSV


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV sample: a BOM says it; else UTF-8 if it decodes as such; else
    the Russian or Western code page whose reading looks like text."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # A sample cut inside a character fails only in its last 3 bytes.
        if error.start >= len(sample) - 3:
            return "utf-8"
    best, best_score = "windows-1252", 2.0  # below this, no Russian text was found
    for encoding in ("windows-1251", "koi8-r", "cp866"):
        score = _russian_score(sample.decode(encoding, errors="replace"))
        if score > best_score:
            best, best_score = encoding, score
    return best


def detect_delimiter(text: str) -> str:
    """The delimiter of a CSV text sample: the candidate that splits its first lines into
    the same number (more than one) of columns most often, outside quotes."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ";"
    best, best_key = ";", (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        header = widths[0]
        if header < 2:
            continue
        agreeing = sum(1 for width in widths if width == header)
        key = (agreeing, header)
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _text_stream(fileobj: IO[bytes], encoding: str) -> io.TextIOWrapper:
    fileobj.seek(0)
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a BOM, if any, is not part of the first header
    return io.TextIOWrapper(fileobj, encoding=encoding, errors="replace", newline="")


def _release(text: io.TextIOWrapper) -> None:
    """Leave the underlying file open for its owner (closed already if the run stopped)."""
    with contextlib.suppress(ValueError):
        text.detach()


def _clip(row: list[Any]) -> list[Any]:
    return [cell[:MAX_CELL] if isinstance(cell, str) else cell for cell in row[:MAX_COLUMNS]]


def _blank(row: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _csv_rows(fileobj: IO[bytes], encoding: str, delimiter: str) -> Iterator[list[Any]]:
    text = _text_stream(fileobj, encoding)
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except csv.Error as error:
        message = _("The file cannot be read as CSV: %(error)s") % {"error": error}
        raise UnreadableFileError(message) from error
    finally:
        _release(text)


def _xlsx_rows(fileobj: IO[bytes]) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    fileobj.seek(0)
    try:
        book = load_workbook(fileobj, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UnreadableFileError(_("The XLSX file is damaged or not an XLSX file.")) from error
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


class _TableParser(HTMLParser):
    """The rows of the first HTML table, fed in chunks (Bitrix24's "Excel" export)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._tables = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._tables += 1
        elif self._tables == 1 and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = []
        elif self._cell is not None and tag == "br":
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(re.sub(r"[ \t\r\n]+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._tables += 1  # a second table is not read

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_rows(fileobj: IO[bytes], encoding: str) -> Iterator[list[Any]]:
    text = _text_stream(fileobj, encoding)
    parser = _TableParser()
    try:
        while chunk := text.read(64 * 1024):
            parser.feed(chunk)
            yield from parser.rows
            parser.rows.clear()
        parser.close()
        yield from parser.rows
    finally:
        _release(text)


def _html_encoding(head: bytes) -> str:
    found = re.search(rb"charset=[\"']?([\w-]+)", head[:4096], re.IGNORECASE)
    if found:
        try:
            return codecs.lookup(found.group(1).decode("ascii")).name
        except LookupError:
            pass
    return detect_encoding(head)


def rows(
    fileobj: IO[bytes], *, file_format: str, encoding: str = "", delimiter: str = ""
) -> Iterator[tuple[int, list[Any]]]:
    """Every non-blank row of the file with its row number (1-based, as a spreadsheet
    shows it), the header row first; at most MAX_COLUMNS cells of MAX_CELL characters."""
    if file_format == XLSX:
        source = _xlsx_rows(fileobj)
    elif file_format == HTML:
        source = _html_rows(fileobj, encoding or "utf-8")
    else:
        source = _csv_rows(fileobj, encoding or "utf-8", delimiter or ";")
    for number, row in enumerate(source, start=1):
        if not _blank(row):
            yield number, _clip(row)


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ".0", dates as ISO, invisible characters
    kept for the parsers to clean."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return (
            value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
        )
    return str(value)


def detect(
    fileobj: IO[bytes], filename: str, *, encoding: str = "", delimiter: str = ""
) -> Detected:
    """What the file is and how to read it (the given encoding and delimiter override the
    detected ones), its header row and first rows. Raises UnreadableFileError."""
    fileobj.seek(0)
    head = fileobj.read(SAMPLE_BYTES)
    if not head.strip():
        raise UnreadableFileError(_("The file is empty."))
    kind = _sniff_kind(head, filename)
    found = Detected(file_format=kind)
    if kind == CSV:
        found.encoding = encoding or detect_encoding(head)
        sample_text = head.decode(found.encoding, errors="replace").lstrip("\ufeff")
        found.delimiter = delimiter or detect_delimiter(sample_text)
    elif kind == HTML:
        found.encoding = encoding or _html_encoding(head)
    iterator = rows(fileobj, file_format=kind, encoding=found.encoding, delimiter=found.delimiter)
    try:
        for number, row in iterator:
            if not found.headers:
                found.headers = [cell_text(cell).strip().lstrip("\ufeff") for cell in row]
                continue
            found.sample.append((number, row))
            if len(found.sample) >= SAMPLE_ROWS:
                break
    except UnicodeError as error:
        raise UnreadableFileError(
            _("The file's encoding could not be read: choose it below.")
        ) from error
    finally:
        iterator.close()
    if not found.headers:
        raise UnreadableFileError(_("The file has no rows."))
    if kind == CSV and len(found.headers) < 2 and not delimiter:
        raise UnreadableFileError(
            _("Only one column was found: is this a table? Choose its delimiter below.")
        )
    return found


def count_rows(fileobj: IO[bytes], *, file_format: str, encoding: str, delimiter: str) -> int:
    """How many data rows (not blank, not the header) the file has: one streamed pass."""
    return max(
        0,
        sum(
            1
            for _row in rows(
                fileobj, file_format=file_format, encoding=encoding, delimiter=delimiter
            )
        )
        - 1,
    )
