"""Template filters of the analytics pages: figures and their changes as text."""

from __future__ import annotations

from typing import Any

from django import template

from analytics.formats import change_text, figure_text
from analytics.tables import Cell, Column

register = template.Library()


@register.simple_tag(takes_context=True)
def figure(context: Any, value: Any, kind: str) -> str:
    """A figure in the page's language (money in the workspace's currency)."""
    return figure_text(value, kind, context.get("currency", ""))


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
