"""Celery entry points for contacts and companies: the purge of the trash."""

from __future__ import annotations

from crm.celery import TenantTask, app, long_task_limits, queue_for_every_tenant
from crm.tenancy import current_tenant


@app.task(base=TenantTask, **long_task_limits())
def parties_purge_trash_task(*, tenant_id: int) -> int:
    """Delete for good one tenant's contacts and companies past the trash limit."""
    from contacts.services import parties_purge_trash

    return parties_purge_trash(tenant=current_tenant())


@app.task
def parties_purge_trash_all_task() -> int:
    """Beat entry point: queue the purge for every tenant (each runs inside its tenant)."""
    return queue_for_every_tenant(parties_purge_trash_task)
