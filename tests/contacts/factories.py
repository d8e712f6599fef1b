"""Contacts and companies made through the real services (normalization, keys, timeline)."""

from __future__ import annotations

import itertools

from contacts.models import Company, Contact
from contacts.services import ACTOR, company_create, contact_create
from crm.models import Membership

_numbers = itertools.count(1000)


def make_contact(actor: Membership, owner=ACTOR, **data) -> Contact:
    """A contact created by `actor` (inside its tenant's context), with a unique phone."""
    data.setdefault("last_name", "Иванов")
    data.setdefault("phones", [f"+7 916 {next(_numbers):07d}"])
    return contact_create(actor=actor, data=data, owner=owner)


def make_company(actor: Membership, owner=ACTOR, **data) -> Company:
    """A company created by `actor` (inside its tenant's context)."""
    data.setdefault("name", f"ООО «Компания {next(_numbers)}»")
    return company_create(actor=actor, data=data, owner=owner)
