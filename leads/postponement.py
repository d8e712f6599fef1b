"""Postponed leads coming back: the periodic job of "отложили на определённый срок".

A manager postpones a lead to a date (leads.services.lead_postpone): it leaves the working
lists (inbox, lead list, board) and waits in the "Postponed" list. A periodic task
(leads/tasks.py, every minute under Celery beat and under `make run`'s embedded scheduler)
runs `leads_return_postponed` per tenant: every lead whose `postponed_until` has come is
claimed with a conditional UPDATE (still postponed, still due), so it comes back exactly
once even when two workers run at the same moment; then the return is recorded on its
timeline and its owner is notified. Without an owner it is back in the shared inbox (a
new lead) or in the list, and nobody in particular is told.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.models import Membership, Tenant
from crm.notifications import notify
from crm.services import system_actor, timeline_record
from crm.urlnames import tenant_reverse
from leads.models import OPEN_STATES, Lead

BATCH = 500


def due_postponed_ids(*, now: datetime) -> list[int]:
    """Ids of the active tenant's postponed leads whose date has come, earliest first."""
    return list(
        Lead.objects.filter(postponed_until__lte=now, deleted_at=None)
        .order_by("postponed_until", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )


def lead_return(*, tenant: Tenant, lead_id: int, now: datetime, actor: Membership) -> bool:
    """Bring one postponed lead back unless it came back already (or was postponed again,
    further). Returns whether this call brought it back. Side effects: a "lead.returned"
    event and, for an open lead with an owner, a "lead.returned" notification to them."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id, postponed_until__lte=now).first()
        if lead is None:
            return False
        reason = lead.postpone_reason
        claimed = Lead.objects.filter(pk=lead_id, postponed_until=lead.postponed_until).update(
            postponed_until=None, postpone_reason="", updated_at=now
        )
        if claimed != 1:
            return False
        owner = (
            Membership.objects.select_related("user").filter(pk=lead.owner_id).first()
            if lead.owner_id
            else None
        )
        tell = owner if owner is not None and lead.state in OPEN_STATES else None
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.returned",
            data={"reason": reason, "to": str(owner.user) if tell else ""},
        )
        if tell is not None:
            notify(
                recipients=[tell],
                kind="lead.returned",
                data={"title": lead.title, "reason": reason},
                url=tenant_reverse("leads:detail", tenant, pk=lead.pk),
            )
    return True


def leads_return_postponed(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Bring back the tenant's postponed leads whose date has come (at most BATCH per
    run); returns how many."""
    now = now or timezone.now()
    ids = due_postponed_ids(now=now)
    if not ids:
        return 0
    actor = system_actor(tenant)
    return sum(lead_return(tenant=tenant, lead_id=pk, now=now, actor=actor) for pk in ids)
