"""Small lists a workspace keeps by hand (roles, statuses, assignment and scoring rules,
loss reasons): names unique ignoring case, new rows after the others, one step up or down."""

from __future__ import annotations

from typing import Any

from django.db import models


def name_taken(queryset: models.QuerySet, name: str, *, exclude_pk: int | None = None) -> bool:
    """Whether another row of `queryset` has `name`, ignoring case and surrounding spaces
    (compared in Python: SQLite folds no Cyrillic)."""
    wanted = name.strip().casefold()
    return any(
        pk != exclude_pk and existing.strip().casefold() == wanted
        for pk, existing in queryset.values_list("pk", "name")
    )


def append_or_change(
    queryset: models.QuerySet, item: models.Model | None, values: dict[str, Any]
) -> tuple[models.Model, bool]:
    """Create a row with `values` after the others in `position` order (`item` None), or
    write `values` to `item`; returns the row and whether it was created."""
    if item is None:
        last = queryset.order_by("-position").values_list("position", flat=True).first()
        return queryset.model._default_manager.create(position=(last or 0) + 1, **values), True
    for key, value in values.items():
        setattr(item, key, value)
    item.save(update_fields=[*values, "updated_at"])
    return item, False


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
