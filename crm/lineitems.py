"""Product line items shared by leads and deals: the model base, parsing and replacing.

A record's lines are parsed from parallel form lists (product_name / product_qty /
product_price), replaced as a whole on save, and their total becomes the record's amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.tenancy import TenantModel


class LineItem(TenantModel):
    """One product line of a record (the concrete model adds the FK to its record)."""

    name = models.CharField(gettext_lazy("product"), max_length=200)
    quantity = models.DecimalField(
        gettext_lazy("quantity"), max_digits=12, decimal_places=3, default=Decimal("1")
    )
    price = models.DecimalField(
        gettext_lazy("price"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.price).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ProductLine:
    name: str
    quantity: Decimal
    price: Decimal


def parse_product_lines(data: Any) -> tuple[list[ProductLine], list[str]]:
    """Lines from a form's parallel lists, and the errors of the lines that are wrong."""
    names = data.getlist("product_name") if hasattr(data, "getlist") else []
    quantities = data.getlist("product_qty") if names else []
    prices = data.getlist("product_price") if names else []
    lines, errors = [], []
    for index, name in enumerate(names):
        name = name.strip()
        if not name:
            continue
        try:
            quantity = Decimal(quantities[index] or "1")
            price = Decimal(prices[index] or "0")
        except (InvalidOperation, IndexError):
            errors.append(
                _("Product “%(name)s”: quantity and price must be numbers.") % {"name": name}
            )
            continue
        if not quantity.is_finite() or not price.is_finite() or quantity <= 0 or price < 0:
            errors.append(
                _("Product “%(name)s”: quantity must be positive and price not negative.")
                % {"name": name}
            )
            continue
        lines.append(ProductLine(name=name[:200], quantity=quantity, price=price))
    return lines, errors


def same_lines(existing: Iterable[LineItem], lines: Iterable[ProductLine]) -> bool:
    return [(p.name, p.quantity, p.price) for p in existing] == [
        (p.name, p.quantity, p.price) for p in lines
    ]


def replace_lines(
    model: type[LineItem], *, tenant_id: int, lines: Iterable[ProductLine], **parent: Any
) -> Decimal | None:
    """Replace the parent's lines (`parent` is e.g. lead=…); return their total, or None
    when there are none (the amount then stays as typed)."""
    model.objects.filter(**parent).delete()
    rows = [
        model(
            tenant_id=tenant_id,
            name=p.name,
            quantity=p.quantity,
            price=p.price,
            position=i,
            **parent,
        )
        for i, p in enumerate(lines)
    ]
    model.objects.bulk_create(rows)
    if not rows:
        return None
    return sum((row.total for row in rows), Decimal("0"))
