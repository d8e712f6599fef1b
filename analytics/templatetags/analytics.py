"""Template filters of the analytics pages: figures and their changes as text."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from analytics.formats import change_text, figure_text
from analytics.tables import Cell, Column

register = template.Library()


@register.simple_tag(takes_context=True)
def figure(context: Any, value: Any, kind: str) -> str:
    """A figure in the page's language (money in the workspace's currency)."""
    return figure_text(value, kind, context.get("currency", ""))


@register.simple_tag(takes_context=True)
def figure_cell(context: Any, cell: Cell, column: Column, compare: bool) -> SafeString:
    """A report table's cell: the figure (a link to its records), and under it the previous
    period's with the change. In Python: a report has hundreds of cells, and an include
    each cost a tenth of the page's time."""
    currency = context.get("currency", "")
    text = figure_text(cell.value, column.kind, currency)
    if cell.url and text:
        value = "" if cell.value is None else cell.value
        shown = format_html('<a href="{}" data-figure="{}">{}</a>', cell.url, value, text)
    else:
        shown = text or "—"
    before = ""
    if compare:
        delta = change(cell, column)
        tail = (
            format_html(' <span class="change-{}">{}</span>', delta["tone"], delta["text"])
            if delta
            else ""
        )
        before = format_html(
            '<div class="small text-muted"><span title="{}">{}</span>{}</div>',
            _("Previous period"),
            figure_text(cell.previous, column.kind, currency) or "—",
            tail,
        )
    return format_html(
        '<td class="text-end text-nowrap" data-testid="cell">{}{}</td>', shown, before
    )


@register.simple_tag
def change(cell: Cell, column: Column) -> dict[str, str] | None:
    """The change of a cell against the previous period, with whether it is good news."""
    amount = cell.change(column.kind)
    if amount is None or round(amount, 1) == 0:
        return None
    better = (amount > 0) == column.higher_is_better
    return {"text": change_text(amount, column.kind), "tone": "up" if better else "down"}


@register.filter
def cells(row: Any, columns: list[Column]) -> list[tuple[Cell, Column]]:
    """A row's cells beside their columns."""
    return list(zip(row.cells, columns, strict=True))


@register.filter
def chart_spec(chart: Any, currency: str) -> dict[str, Any]:
    return chart.spec(currency)
