"""Leads made through the real service (normalization, statuses, timeline)."""

from __future__ import annotations

import itertools

from crm.models import Membership
from leads.models import Lead
from leads.services import ACTOR, lead_create

_numbers = itertools.count(1000)


def make_lead(actor: Membership, owner=ACTOR, **data) -> Lead:
    """A lead created by `actor` (inside its tenant's context) with a unique phone by default."""
    if not any(k in data for k in ("phone", "email", "messenger_id")):
        data["phone"] = f"+7 999 {next(_numbers):07d}"
    return lead_create(actor=actor, data=data, owner=owner)
