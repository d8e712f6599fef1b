"""Celery entry points of import and export: a large export's run, and the periodic resume
and purge of exports."""

from __future__ import annotations

from crm.celery import TenantTask, app, queue_for_every_tenant


@app.task(base=TenantTask)
def export_job_task(*, tenant_id: int, job_id: int) -> int:
    """Write a queued export's file and notify its member (transfer.exporting); how many
    rows (0 when another run took it)."""
    from transfer.exporting import export_job_run

    job = export_job_run(job_id=job_id)
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
