"""Celery entry points for leads: the daily purge of the trash."""

from __future__ import annotations

from crm.celery import TenantTask, app
from crm.models import Tenant
from leads import services


@app.task(base=TenantTask)
def leads_purge_trash_task(*, tenant_id: int) -> int:
    """Delete for good one tenant's leads that stayed in the trash past the limit."""
    from crm.tenancy import current_tenant

    return services.leads_purge_trash(tenant=current_tenant())


@app.task
def leads_purge_trash_all_task() -> int:
    """Beat entry point: queue the purge for every tenant (each runs inside its tenant)."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        leads_purge_trash_task.apply_async(kwargs={"tenant_id": tenant_id})
    return len(tenant_ids)


@app.task(base=TenantTask)
def activities_send_reminders_task(*, tenant_id: int) -> int:
    """Send one tenant's due reminders (each once)."""
    return services.activities_send_reminders()


@app.task
def activities_send_reminders_all_task() -> int:
    """Beat entry point: check every tenant's reminders (each runs inside its tenant)."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        activities_send_reminders_task.apply_async(kwargs={"tenant_id": tenant_id})
    return len(tenant_ids)
