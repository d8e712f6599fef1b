"""Regenerates the derived fixtures from their source files in this folder:

* bitrix24_leads_cp1251.csv — bitrix24_leads_utf8_bom.csv as a Bitrix24 portal running in
  windows-1251 writes it: the same bytes of text in cp1251, without the UTF-8 BOM;
* amocrm_leads.xlsx — amocrm_leads.csv as amoCRM's "Экспорт в Excel": one sheet, the
  header row first; ID and Бюджет as numbers, everything else as text.

Run from the repository root: `.venv/bin/python tests/transfer/files/make_files.py`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
NUMBERS = {"ID", "Бюджет"}


def make_cp1251() -> None:
    text = (HERE / "bitrix24_leads_utf8_bom.csv").read_bytes().decode("utf-8-sig")
    (HERE / "bitrix24_leads_cp1251.csv").write_bytes(text.encode("cp1251"))


def make_xlsx() -> None:
    text = (HERE / "amocrm_leads.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    book = Workbook()
    sheet = book.active
    sheet.title = "Сделки"
    sheet.append(header)
    for row in rows[1:]:
        cells = zip(header, row, strict=True)
        sheet.append([int(v) if name in NUMBERS and v.isdigit() else v for name, v in cells])
    book.save(HERE / "amocrm_leads.xlsx")


if __name__ == "__main__":
    make_cp1251()
    make_xlsx()
