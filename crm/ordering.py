"""Lists a workspace orders by hand (assignment rules, loss reasons): one step up or down."""

from __future__ import annotations

from django.db import models


def move_one_step(queryset: models.QuerySet, item: models.Model, *, up: bool) -> bool:
    """Swap `item` with its neighbour above (`up`) or below in `queryset`'s `position`
    order, renumbering 1…n; False when it is already first or last. Locks the rows: call it
    inside a transaction."""
    rows = list(queryset.select_for_update().order_by("position", "pk"))
    index = next(i for i, row in enumerate(rows) if row.pk == item.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(rows):
        return False
    rows[index], rows[other] = rows[other], rows[index]
    for position, row in enumerate(rows, start=1):
        if row.position != position:
            queryset.model._default_manager.filter(pk=row.pk).update(position=position)
    return True
