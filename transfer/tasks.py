"""Celery entry points of import and export: an import's run and the periodic pick-up of
runs a stopped worker or server left behind; a large export's run, and the periodic resume
and purge of exports."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import Task
from django.conf import settings
from django.utils import timezone

from crm.celery import TenantTask, app, long_task_limits, queue_for_every_tenant
from crm.models import Tenant
from crm.tenancy import tenant_context
from transfer import engine
from transfer.models import ImportJob

# A running import writes a heartbeat with every batch (seconds apart); one silent for
# this long was left by a worker or server that stopped.
STALE_AFTER = timedelta(minutes=3)
# An import's task hands over to a new one this long before its soft time limit.
HAND_OVER_BEFORE = 60


@app.task(
    bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **long_task_limits()
)
def import_run_task(self: Task, *, tenant_id: int, job_id: int) -> None:
    """Run an import (each batch its own transaction, so not a TenantTask). On a worker,
    the run stops between batches before the task's soft time limit and queues a new task,
    which goes on after the last committed batch."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return
    deadline = None
    if not self.request.is_eager:  # in-process (no broker): no time limit applies
        limit = self.soft_time_limit or self.app.conf.task_soft_time_limit
        deadline = time.monotonic() + max(limit - HAND_OVER_BEFORE, limit / 2)
    if engine.run(tenant, job_id, deadline=deadline):
        import_run_task.apply_async(kwargs={"tenant_id": tenant_id, "job_id": job_id})


def _purge_files(tenant: Tenant) -> int:
    """A draft nobody ran for a day goes, with its file; an ended import's file goes after
    IMPORT_KEEP_DAYS (its report, rejected rows and undo stay: they are rows)."""
    now = timezone.now()
    gone = 0
    with tenant_context(tenant):
        drafts = ImportJob.objects.filter(
            state=ImportJob.State.DRAFT, created_at__lt=now - timedelta(days=1)
        )
        for job in drafts:
            job.file.delete(save=False)
            job.delete()
            gone += 1
        ended = ImportJob.objects.filter(
            finished_at__lt=now - timedelta(days=settings.IMPORT_KEEP_DAYS)
        ).exclude(file="")
        for job in ended:
            job.file.delete(save=False)
            ImportJob.objects.filter(pk=job.pk).update(file="")
            gone += 1
    return gone


@app.task(ignore_result=True)
def imports_resume_task() -> int:
    """Start again the imports that are queued or running with no run alive (a worker or
    `make run` stopped mid-file): each resumes after its last committed batch. Old files
    are purged on the way."""
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
        _purge_files(tenant)
    return resumed


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, **long_task_limits())
def export_job_task(*, tenant_id: int, job_id: int) -> int:
    """Write a queued export's file and notify its member (transfer.exporting; its own
    short transactions, so not a TenantTask); how many rows (0 when another run took it)."""
    from transfer.exporting import export_job_run

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    job = export_job_run(tenant=tenant, job_id=job_id) if tenant is not None else None
    return job.row_count if job is not None else 0


@app.task(base=TenantTask)
def export_jobs_maintain_task(*, tenant_id: int) -> int:
    """One tenant's exports: start those left queued, delete those past their days."""
    from transfer.exporting import export_jobs_purge, export_jobs_resume

    return export_jobs_resume() + export_jobs_purge()


@app.task
def export_jobs_maintain_all_task() -> int:
    """Beat entry point: queue the exports' upkeep for every tenant."""
    return queue_for_every_tenant(export_jobs_maintain_task)
