"""Background work of imports: the run, and the periodic pick-up of runs a stopped worker
or server left behind."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from crm.celery import app
from crm.models import Tenant
from crm.tenancy import tenant_context
from transfer import engine
from transfer.models import ImportJob

# A running import writes a heartbeat with every batch (seconds apart); one silent for
# this long was left by a worker or server that stopped.
STALE_AFTER = timedelta(minutes=3)


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_run_task(*, tenant_id: int, job_id: int) -> None:
    """Run an import (each batch its own transaction, so not a TenantTask)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        engine.run(tenant, job_id)


@app.task(ignore_result=True)
def imports_resume_task() -> int:
    """Start again the imports that are queued or running with no run alive (a worker or
    `make run` stopped mid-file): each resumes after its last committed batch."""
    from crm.background import start_long

    stale = timezone.now() - STALE_AFTER
    resumed = 0
    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            jobs = ImportJob.objects.filter(
                state__in=[ImportJob.State.QUEUED, ImportJob.State.RUNNING],
                heartbeat_at__lt=stale,
            ) | ImportJob.objects.filter(
                state=ImportJob.State.QUEUED, heartbeat_at=None, created_at__lt=stale
            )
            for job in jobs:
                ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
                start_long(import_run_task, tenant_id=tenant.pk, job_id=job.pk)
                resumed += 1
    return resumed
