"""Response time escalation: new leads nobody answered within the tenant's limit.

A periodic task (leads/tasks.py) runs `leads_escalate_overdue` per tenant every minute. A
lead is overdue when it is still in state "new", has no first response, and was created
more than `Tenant.response_sla_minutes` ago. Each overdue lead is claimed with a
conditional UPDATE (`escalated_at IS NULL`), so it is escalated exactly once even when two
workers run at the same moment; then the event is recorded, the owner's team lead (or, for
a lead without one, the tenant's administrators and directors) is notified, and with
`Tenant.sla_reassign` the lead goes to the next member its rule picks, or to any available
manager.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from crm.models import Membership, Role, Tenant
from crm.notifications import notify
from crm.services import system_actor, timeline_record
from crm.urlnames import tenant_reverse
from leads.distribution import (
    HANDOVER_LEVELS,
    any_available_manager,
    matching_rule,
    routing_context_for,
    rule_pick,
)
from leads.models import Lead, LeadState
from leads.services import lead_assign

# Leads that waited longer than this past the limit are not escalated any more (they are
# a matter for reports, and a first run must not flood people with old leads).
ESCALATION_WINDOW = timedelta(days=1)
BATCH = 200


def overdue_lead_ids(*, tenant: Tenant, now: datetime) -> list[int]:
    """Ids of the tenant's leads waiting past the response time limit, oldest first."""
    if not tenant.response_sla_minutes:
        return []
    due = now - timedelta(minutes=tenant.response_sla_minutes)
    return list(
        Lead.objects.filter(
            state=LeadState.NEW,
            first_response_at=None,
            escalated_at=None,
            deleted_at=None,
            postponed_until=None,  # out of the inbox on purpose
            created_at__lte=due,
            created_at__gt=due - ESCALATION_WINDOW,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )


def escalation_recipients(lead: Lead) -> list[Membership]:
    """Whom to tell: the lead of the owner's team, else the administrators and directors."""
    owner = lead.owner
    team_lead = owner.team.lead if owner is not None and owner.team is not None else None
    if team_lead is not None and team_lead.is_active:
        return [team_lead]
    return list(
        Membership.objects.filter(
            is_active=True,
            is_system=False,
            role__kind__in=[Role.Kind.ADMIN, Role.Kind.DIRECTOR],
        ).order_by("pk")
    )


def reassignment_pick(lead: Lead) -> Membership | None:
    """Who gets an escalated lead: the next member of the rule that matches the lead's data,
    else the least loaded available manager; never the current owner."""
    # A lead handed over to sales is re-picked by its handover rule, others by the rules
    # for new inquiries.
    level = lead.level if lead.level in HANDOVER_LEVELS else ""
    rule = matching_rule(routing_context_for(lead, level=level))
    member = rule_pick(rule, exclude=lead.owner_id) if rule is not None else None
    return member or any_available_manager(exclude=lead.owner_id)


def lead_escalate(*, tenant: Tenant, lead_id: int, now: datetime, actor: Membership) -> bool:
    """Escalate one overdue lead unless someone did already or it was answered meanwhile.

    Returns whether this call escalated it. Side effects: a "lead.escalated" event, a
    notification per recipient (e-mailed after commit), and with `sla_reassign` a new owner
    through `lead_assign` (which notifies them).
    """
    with transaction.atomic():
        claimed = Lead.objects.filter(
            pk=lead_id, state=LeadState.NEW, first_response_at=None, escalated_at=None
        ).update(escalated_at=now)
        if claimed != 1:
            return False
        lead = Lead.objects.select_related("owner__user", "owner__team__lead").get(pk=lead_id)
        new_owner = reassignment_pick(lead) if tenant.sla_reassign else None
        timeline_record(
            actor=actor,
            target=lead,
            kind="lead.escalated",
            data={
                "minutes": tenant.response_sla_minutes,
                "to": str(new_owner.user) if new_owner else "",
            },
        )
        notify(
            recipients=escalation_recipients(lead),
            kind="lead.escalated",
            data={"title": lead.title, "minutes": tenant.response_sla_minutes},
            url=tenant_reverse("leads:detail", tenant, pk=lead.pk),
        )
        if new_owner is not None:
            lead_assign(actor=actor, lead=lead, owner=new_owner)
    return True


def leads_escalate_overdue(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Escalate the tenant's overdue leads (at most BATCH per run); returns how many."""
    now = now or timezone.now()
    ids = overdue_lead_ids(tenant=tenant, now=now)
    if not ids:
        return 0
    actor = system_actor(tenant)
    return sum(lead_escalate(tenant=tenant, lead_id=pk, now=now, actor=actor) for pk in ids)
