"""Celery entry points for analytics: keeping the daily rollups up to date."""

from __future__ import annotations

from crm.celery import TenantTask, app, long_task_limits, queue_for_every_tenant
from crm.models import Tenant


@app.task(base=TenantTask, **long_task_limits())
def rollups_refresh_task(*, tenant_id: int) -> dict[str, int]:
    """Recompute one workspace's changed rolled-up days and roll up its finished days."""
    from analytics.rollups import refresh
    from crm.tenancy import current_tenant

    return refresh(current_tenant())


@app.task
def rollups_refresh_all_task() -> int:
    """Beat entry point: queue the rollup refresh for every workspace with leads in use."""
    return queue_for_every_tenant(
        rollups_refresh_task, Tenant.objects.filter(mode=Tenant.Mode.CLASSIC)
    )
