"""Deals and customers made through the real services (stages, timeline)."""

from __future__ import annotations

import itertools

from contacts.models import Contact
from contacts.services import contact_create
from crm.models import Membership
from deals.models import Deal, Pipeline, Stage
from deals.services import deal_create

_numbers = itertools.count(1000)


def make_contact(actor: Membership, **data) -> Contact:
    data.setdefault("last_name", "Петров")
    data.setdefault("phones", [f"+7 916 {next(_numbers):07d}"])
    return contact_create(actor=actor, data=data, owner=actor)


def make_deal(actor: Membership, customer: bool = True, **kwargs) -> Deal:
    """An open deal created by `actor` (inside its tenant's context), with a contact."""
    data = kwargs.pop("data", {})
    data.setdefault("title", f"Сделка {next(_numbers)}")
    if customer and "contact" not in data:
        data["contact"] = make_contact(actor)
    return deal_create(actor=actor, data=data, **kwargs)


def sales() -> Pipeline:
    return Pipeline.objects.get(is_default=True)


def stage(pipeline: Pipeline, kind: str, index: int = 0) -> Stage:
    return list(Stage.objects.filter(pipeline=pipeline, kind=kind))[index]
