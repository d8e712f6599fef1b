"""What a report hands its page: tables of figures (each with the previous period's value
and a link to the records behind it), charts drawn from them, and a definition per figure.
The same tables are exported to CSV and XLSX."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from analytics.formats import figure_text

COUNT, MONEY, PERCENT, SECONDS, TEXT = "count", "money", "percent", "seconds", "text"
# A duration in whole minutes (analytics.sql.duration; shown by formats.minutes_text).
MINUTES = "minutes"
# A number with one decimal (an average of points, say).
NUMBER = "number"
Number = int | float | Decimal | None


@dataclass
class Column:
    """A figure's column: its heading, kind of value and one-line definition."""

    label: str | Promise
    kind: str = COUNT
    help: str | Promise = ""
    # Whether a bigger value is better (a growing response time is not).
    higher_is_better: bool = True


@dataclass
class Cell:
    """One figure: this period's value, the previous period's, and where it leads."""

    value: Number
    previous: Number = None
    url: str | None = None

    def change(self, kind: str) -> float | None:
        """The change against the previous period: in percentage points for shares, else
        relative (a share of the previous value); None when there is nothing to compare."""
        if self.value is None or self.previous is None:
            return None
        if kind == PERCENT:
            return float(self.value) - float(self.previous)
        if not self.previous:
            return None
        return (float(self.value) - float(self.previous)) / float(self.previous) * 100


@dataclass
class Row:
    label: str
    cells: list[Cell]
    url: str | None = None  # the row's own records (its label links there)


@dataclass
class Table:
    """A table of a report: rows of figures under columns, with an optional total row."""

    key: str
    title: str | Promise
    head: str | Promise  # the heading of the label column
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    total: Row | None = None
    note: str | Promise = ""
    compare: bool = True  # whether cells carry the previous period's values

    def column(self, index: int) -> list[Number]:
        return [row.cells[index].value for row in self.rows]

    def export_rows(self) -> tuple[list[Any], list[list[Any]]]:
        """Headings and rows as text for a spreadsheet (the previous period beside)."""
        headers: list[Any] = [self.head]
        for column in self.columns:
            headers.append(column.label)
            if self.compare:
                headers.append(_("%(figure)s, previous period") % {"figure": column.label})
        rows = []
        for row in [*self.rows, *([self.total] if self.total else [])]:
            values: list[Any] = [row.label]
            for column, cell in zip(self.columns, row.cells, strict=True):
                values.append(figure_text(cell.value, column.kind))
                if self.compare:
                    values.append(figure_text(cell.previous, column.kind))
            rows.append(values)
        return headers, rows


@dataclass
class Dataset:
    label: str | Promise
    data: list[Number]
    urls: list[str | None] | None = None
    previous: bool = False


@dataclass
class Chart:
    """A chart of a report (drawn by static/js/charts.js from this as JSON)."""

    id: str
    title: str | Promise
    kind: str  # bar, hbar, line, doughnut, sparkline
    labels: list[str]
    datasets: list[Dataset]
    unit: str = COUNT
    stacked: bool = False

    @property
    def empty(self) -> bool:
        return not any(v for d in self.datasets for v in d.data)

    def spec(self, currency: str) -> dict[str, Any]:
        """The chart as templates/analytics/_chart.html and static/js/charts.js take it."""
        return {
            "id": self.id,
            "title": str(self.title),
            "empty": self.empty,
            "kind": self.kind,
            "labels": [str(label) for label in self.labels],
            "unit": self.unit,
            "currency": currency,
            "stacked": self.stacked,
            "datasets": [
                {
                    "label": str(d.label),
                    "data": [None if v is None else float(v) for v in d.data],
                    "urls": d.urls or [],
                    "previous": d.previous,
                }
                for d in self.datasets
            ],
        }


def chart_of(
    table: Table,
    index: int,
    *,
    chart_id: str,
    kind: str = "bar",
    title: str | Promise | None = None,
    previous: bool = True,
    rows: Iterable[Row] | None = None,
) -> Chart:
    """A chart of one column of `table`: a bar per row linking to the row's records, and
    the previous period's bars beside when the table compares."""
    column = table.columns[index]
    rows = list(table.rows if rows is None else rows)
    datasets = [
        Dataset(
            label=_("This period") if table.compare and previous else column.label,
            data=[row.cells[index].value for row in rows],
            urls=[row.cells[index].url for row in rows],
        )
    ]
    if table.compare and previous:
        datasets.append(
            Dataset(
                label=_("Previous period"),
                data=[row.cells[index].previous for row in rows],
                previous=True,
            )
        )
    return Chart(
        id=chart_id,
        title=title or column.label,
        kind=kind,
        labels=[row.label for row in rows],
        datasets=datasets,
        unit=column.kind,
    )


@dataclass
class Report:
    """A report as its page shows it."""

    slug: str
    title: str | Promise
    description: str | Promise
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)


def share(part: Number, whole: Number) -> float | None:
    """`part` as a percentage of `whole` (None when the whole is zero or unknown)."""
    if part is None or not whole:
        return None
    return float(part) / float(whole) * 100
