"""Inquiries: the one entry point for "someone asked us" (quick entry now, channels later).

In classic mode an inquiry is a lead. In simple mode a tenant has no leads: the inquiry
becomes a deal in the first stage of the default pipeline, with its contact (the one the
tenant already knows by phone, e-mail or messenger, or a new one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.normalize import email_key, phone_e164
from contacts.services import contact_create
from crm.errors import DomainError
from crm.lineitems import ProductLine
from crm.models import Membership, Tenant
from crm.services import timeline_record
from deals.models import Deal
from deals.services import deal_create, default_pipeline
from leads.conversion import find_contact
from leads.models import Lead, LeadSource
from leads.services import ACTOR, lead_create


def _contact_for(actor: Membership, data: dict[str, Any], owner: Membership | None) -> Contact:
    """The known contact with the inquiry's phone, e-mail or messenger, or a new one."""
    region = actor.tenant.default_region
    phone, email = (data.get("phone") or "").strip(), (data.get("email") or "").strip()
    messenger, handle = data.get("messenger") or "", (data.get("messenger_id") or "").strip()
    known = find_contact(
        actor=actor,
        phone_e164=phone_e164(phone, region),
        email_key=email_key(email),
        messenger=messenger,
        messenger_id=handle,
    )
    if known is not None:
        return known
    if not (phone or email or handle):
        raise DomainError(
            _("Give at least one way to reach the person: a phone, an e-mail or a messenger.")
        )
    fields: dict[str, Any] = {
        "first_name": (data.get("name") or "").strip(),
        "phones": [phone] if phone else [],
        "emails": [email] if email else [],
    }
    if messenger and handle:
        fields[messenger] = handle
    return contact_create(actor=actor, data=fields, owner=owner or actor)


def inquiry_create(
    *,
    actor: Membership,
    data: dict[str, Any],
    source: str = LeadSource.MANUAL,
    owner: Membership | Any | None = ACTOR,
    products: Iterable[ProductLine] = (),
) -> Lead | Deal:
    """Register an inquiry (lead fields in `data`: name, phone, email, messenger,
    messenger_id, title, message, company_name…) from `source`.

    Classic mode: a lead (`lead_create`). Simple mode: a deal in the first stage of the
    default pipeline with its contact, found by match keys or created; the deal belongs to
    `owner` (default and None: the actor). Raises what lead_create / deal_create raise.
    """
    tenant: Tenant = actor.tenant
    if tenant.mode == Tenant.Mode.CLASSIC:
        return lead_create(
            actor=actor, data={**data, "source": source}, owner=owner, products=products
        )
    deal_owner = actor if owner is ACTOR or owner is None else owner
    with transaction.atomic():
        contact = _contact_for(actor, data, deal_owner)
        title = (data.get("title") or "").strip() or (data.get("company_name") or "").strip()
        deal = deal_create(
            actor=actor,
            data={"title": title or str(contact), "contact": contact},
            owner=deal_owner,
            pipeline=default_pipeline(),
            products=products,
        )
        timeline_record(
            actor=actor,
            target=deal,
            kind="deal.inquiry",
            data={"source": str(LeadSource(source).label), "message": data.get("message", "")},
        )
    return deal
