"""Celery entry points for leads: the purge of the trash, reminders, response time
escalation, postponed leads coming back."""

from __future__ import annotations

from crm.celery import TenantTask, app, long_task_limits, queue_for_every_tenant
from crm.models import Tenant
from leads import services


@app.task(base=TenantTask, **long_task_limits())
def leads_purge_trash_task(*, tenant_id: int) -> int:
    """Delete for good one tenant's leads that stayed in the trash past the limit."""
    from crm.tenancy import current_tenant

    return services.leads_purge_trash(tenant=current_tenant())


@app.task
def leads_purge_trash_all_task() -> int:
    """Beat entry point: queue the purge for every tenant (each runs inside its tenant)."""
    return queue_for_every_tenant(leads_purge_trash_task)


@app.task(base=TenantTask)
def activities_send_reminders_task(*, tenant_id: int) -> int:
    """Send one tenant's due reminders (each once)."""
    return services.activities_send_reminders()


@app.task
def activities_send_reminders_all_task() -> int:
    """Beat entry point: check every tenant's reminders (each runs inside its tenant)."""
    return queue_for_every_tenant(activities_send_reminders_task)


@app.task(base=TenantTask)
def leads_escalate_overdue_task(*, tenant_id: int) -> int:
    """Escalate one tenant's leads that waited past the response time limit (each once)."""
    from crm.tenancy import current_tenant
    from leads.escalation import leads_escalate_overdue

    return leads_escalate_overdue(tenant=current_tenant())


@app.task
def leads_escalate_overdue_all_task() -> int:
    """Beat entry point, every minute: queue the escalation check for every tenant."""
    # Simple-mode tenants have no leads in use; a zero limit turns escalation off.
    tenants = Tenant.objects.filter(mode=Tenant.Mode.CLASSIC, response_sla_minutes__gt=0)
    return queue_for_every_tenant(leads_escalate_overdue_task, tenants)


@app.task(base=TenantTask)
def leads_return_postponed_task(*, tenant_id: int) -> int:
    """Bring back one tenant's postponed leads whose date has come (each once)."""
    from crm.tenancy import current_tenant
    from leads.postponement import leads_return_postponed

    return leads_return_postponed(tenant=current_tenant())


@app.task
def leads_return_postponed_all_task() -> int:
    """Beat entry point, every minute: queue the return of due postponed leads per tenant."""
    # Simple-mode tenants have no leads in use.
    tenants = Tenant.objects.filter(mode=Tenant.Mode.CLASSIC)
    return queue_for_every_tenant(leads_return_postponed_task, tenants)


@app.task(base=TenantTask)
def lead_rescore_task(*, tenant_id: int, lead_id: int) -> int | None:
    """Recompute one lead's score (after a change of what the rules read, or an event)."""
    from leads.qualification import lead_rescore

    lead = lead_rescore(lead_id=lead_id)
    return lead.score if lead is not None else None


@app.task(acks_late=True, reject_on_worker_lost=True, **long_task_limits())
def leads_rescore_task(*, tenant_id: int) -> int:
    """Recompute every open lead of a tenant (its rules or thresholds changed). Not a
    TenantTask: each batch commits in its own tenant transaction."""
    from leads.qualification import leads_rescore

    return leads_rescore(tenant=Tenant.objects.get(pk=tenant_id))


@app.task(acks_late=True, reject_on_worker_lost=True, **long_task_limits())
def scores_decay_task(*, tenant_id: int) -> int:
    """The nightly decay of one tenant's engagement scores (once per workspace day); each
    batch commits on its own."""
    from leads.qualification import scores_decay

    return scores_decay(tenant=Tenant.objects.get(pk=tenant_id))


@app.task
def scores_decay_all_task() -> int:
    """Beat entry point, hourly: each tenant decays once a night in its own time zone."""
    tenants = Tenant.objects.filter(mode=Tenant.Mode.CLASSIC)
    return queue_for_every_tenant(scores_decay_task, tenants)
