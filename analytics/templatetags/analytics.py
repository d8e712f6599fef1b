"""Template filters of the analytics pages: figures and their changes as text."""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from analytics.formats import change_text, figure_text
from analytics.tables import Cell, Column, Row, Table

register = template.Library()


@register.simple_tag(takes_context=True)
def figure(context: Any, value: Any, kind: str) -> str:
    """A figure in the page's language (money in the workspace's currency)."""
    return figure_text(value, kind, context.get("currency", ""))


@register.simple_tag(takes_context=True)
def figure_cells(context: Any, row: Row, table: Table) -> SafeString:
    """A report table row's cells: each figure (a link to its records), and under it the
    previous period's with the change. One tag a row, in Python, every value escaped: a
    report has hundreds of cells, and a tag a cell cost a fifth of the page's time."""
    currency = context.get("currency", "")
    before_title = escape(_("Previous period"))
    parts = []
    for cell, column in zip(row.cells, table.columns, strict=True):
        text = figure_text(cell.value, column.kind, currency)
        if cell.url and text:
            value = "" if cell.value is None else cell.value
            shown = (
                f'<a href="{escape(cell.url)}" data-figure="{escape(str(value))}">'
                f"{escape(text)}</a>"
            )
        else:
            shown = escape(text) if text else "—"
        before = ""
        if table.compare:
            delta = change(cell, column)
            tail = (
                f' <span class="change-{delta["tone"]}">{escape(delta["text"])}</span>'
                if delta
                else ""
            )
            previous = figure_text(cell.previous, column.kind, currency)
            before = (
                f'<div class="small text-muted"><span title="{before_title}">'
                f"{escape(previous) if previous else '—'}</span>{tail}</div>"
            )
        parts.append(f'<td class="text-end text-nowrap" data-testid="cell">{shown}{before}</td>')
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


@register.simple_tag
def change(cell: Cell, column: Column) -> dict[str, str] | None:
    """The change of a cell against the previous period, with whether it is good news."""
    amount = cell.change(column.kind)
    if amount is None or round(amount, 1) == 0:
        return None
    better = (amount > 0) == column.higher_is_better
    return {"text": change_text(amount, column.kind), "tone": "up" if better else "down"}


@register.filter
def chart_spec(chart: Any, currency: str) -> dict[str, Any]:
    return chart.spec(currency)
