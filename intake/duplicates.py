"""Duplicates at creation: what the workspace already has for a phone or an e-mail typed
into a manager's new-lead form, before the rest is typed (the form's htmx look-up).

The phone is read as intake reads it (E.164 with the workspace's region) and the e-mail as
a case-folded key, so the form finds what `inquiry_register` would match. Records the
member may see are listed (a few of each kind); those they may not see are only counted,
and the form says so plainly. A constant number of queries whatever the matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from contacts.models import Contact, MatchKey
from contacts.selectors import base_of
from crm.access import Action, scope_queryset
from crm.models import Membership
from deals.models import Deal, Outcome
from intake.matching import Keys
from leads.models import OPEN_STATES, Lead

SHOWN = 5  # records of each kind listed


@dataclass
class Found:
    """The matches of one phone and e-mail, as one member may see them."""

    keys: Keys = field(default_factory=Keys)
    leads: list[Lead] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    hidden_leads: int = 0
    hidden_contacts: int = 0
    hidden_deals: int = 0

    def __bool__(self) -> bool:
        return bool(self.leads or self.contacts or self.deals or self.hidden)

    @property
    def hidden(self) -> int:
        return self.hidden_leads + self.hidden_contacts + self.hidden_deals


def _split(queryset: QuerySet, visible: QuerySet, limit: int) -> tuple[list, int]:
    """(the first `limit` visible rows, how many rows the member may not see)."""
    shown = list(visible[:limit])
    return shown, queryset.count() - visible.count()


def duplicates_lookup(*, actor: Membership, keys: Keys, limit: int = SHOWN) -> Found:
    """The open leads, live contacts and open deals (of those contacts) with these keys."""
    if not (keys.phone_e164 or keys.email_key):
        return Found(keys=keys)
    wanted = Q()
    key_q = Q()
    if keys.phone_e164:
        wanted |= Q(phone_e164=keys.phone_e164)
        key_q |= Q(kind=MatchKey.Kind.PHONE, value=keys.phone_e164)
    if keys.email_key:
        wanted |= Q(email_key=keys.email_key)
        key_q |= Q(kind=MatchKey.Kind.EMAIL, value=keys.email_key)
    leads = Lead.objects.filter(wanted, state__in=list(OPEN_STATES), deleted_at=None)
    visible_leads = (
        scope_queryset(leads, actor=actor, action=Action.VIEW)
        .select_related("status", "owner__user")
        .order_by("-created_at", "-pk")
    )
    contact_ids = MatchKey.objects.filter(key_q, contact__isnull=False).values("contact_id")
    contacts = base_of(Contact).filter(pk__in=contact_ids)
    visible_contacts = scope_queryset(contacts, actor=actor, action=Action.VIEW).order_by(
        "-created_at", "-pk"
    )
    deals = Deal.objects.filter(contact__in=contacts, outcome=Outcome.OPEN)
    visible_deals = (
        scope_queryset(deals, actor=actor, action=Action.VIEW)
        .select_related("stage", "owner__user")
        .order_by("-created_at", "-pk")
    )
    found = Found(keys=keys)
    found.leads, found.hidden_leads = _split(leads, visible_leads, limit)
    found.contacts, found.hidden_contacts = _split(contacts, visible_contacts, limit)
    found.deals, found.hidden_deals = _split(deals, visible_deals, limit)
    return found


def duplicate_lead(*, actor: Membership, keys: Keys, lead_id: int | None) -> Lead | None:
    """The open lead `lead_id` when it matches these keys and the member may see it (the
    lead a manager chose to add the inquiry to), else None."""
    if lead_id is None or not (keys.phone_e164 or keys.email_key):
        return None
    wanted = Q()
    if keys.phone_e164:
        wanted |= Q(phone_e164=keys.phone_e164)
    if keys.email_key:
        wanted |= Q(email_key=keys.email_key)
    leads = Lead.objects.filter(wanted, pk=lead_id, state__in=list(OPEN_STATES), deleted_at=None)
    return scope_queryset(leads, actor=actor, action=Action.VIEW).first()
