"""Every task ends before the broker would hand its message out again: the time limits
(the app's defaults, a long job's own) are below the visibility timeout, and an import
hands over to a new task before its soft limit instead of being stopped by it."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.conf import settings

from crm.celery import app
from crm.tenancy import tenant_context
from tests.processes import run_manage
from tests.security.test_web_security import PRODUCTION
from transfer import engine
from transfer.models import ImportJob
from transfer.tasks import import_run_task

LONG_TASKS = {
    "transfer.tasks.import_run_task",
    "transfer.tasks.export_job_task",
    "leads.tasks.leads_rescore_task",
    "leads.tasks.scores_decay_task",
    "analytics.tasks.rollups_refresh_task",
}


def _reread(job: ImportJob) -> ImportJob:
    with tenant_context(job.tenant):
        return ImportJob.objects.get(pk=job.pk)


def test_every_task_ends_before_its_message_would_be_handed_out_again():
    app.loader.import_default_modules()  # every app's tasks registered
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility == settings.CELERY_VISIBILITY_TIMEOUT == 3600
    tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert set(tasks) >= LONG_TASKS
    assert "channels.tasks.process_events_task" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft, name
        assert hard, name
        assert soft < hard < visibility, name
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (300, 330)
    for name in LONG_TASKS:
        assert (tasks[name].soft_time_limit, tasks[name].time_limit) == (3000, 3300)


@pytest.mark.parametrize(
    "env",
    [
        {"CELERY_VISIBILITY_TIMEOUT": "300"},
        {"CELERY_TASK_SOFT_TIME_LIMIT": "400", "CELERY_TASK_TIME_LIMIT": "350"},
        {"CELERY_LONG_TASK_TIME_LIMIT": "3600"},
    ],
)
def test_settings_refuse_time_limits_at_or_past_the_visibility_timeout(env):
    result = run_manage("check", **PRODUCTION, **env)
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT" in result.stderr


def test_a_longer_visibility_timeout_and_limits_are_taken_from_the_environment():
    env = {
        "CELERY_VISIBILITY_TIMEOUT": "7200",
        "CELERY_LONG_TASK_SOFT_TIME_LIMIT": "6000",
        "CELERY_LONG_TASK_TIME_LIMIT": "6600",
    }
    assert run_manage("check", **PRODUCTION, **env).returncode == 0


def test_an_import_on_a_worker_hands_over_before_its_soft_limit(
    tenant, admin, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.transfer.test_runs import _queued, _rows

    monkeypatch.setattr(engine, "BATCH", 10)
    runs: list[bool] = []
    original = engine.run

    def counting(*args, **kwargs):
        runs.append(original(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(engine, "run", counting)
    job = _queued(admin, _rows(25))
    # On a worker (not eager) with almost no time left: the run stops before its first
    # batch, the job still running, and queues the next run (eager here: runs at once).
    monkeypatch.setattr(import_run_task, "soft_time_limit", 1e-6)
    with django_capture_on_commit_callbacks(execute=True):
        import_run_task(tenant_id=tenant.pk, job_id=job.pk)
    assert runs == [True, False]
    job = _reread(job)
    assert (job.state, job.processed_rows, job.created_count) == ("done", 25, 25)


def test_an_import_stopped_by_its_deadline_keeps_its_batches_and_resumes(
    tenant, admin, monkeypatch
):
    from tests.transfer.test_runs import _queued, _rows

    monkeypatch.setattr(engine, "BATCH", 10)
    original = engine.process_batch
    batches: list[int] = []

    def timed(adapter, batch):
        batches.append(len(batch))
        if len(batches) == 2:  # the deadline passes during the second batch
            monkeypatch.setattr(
                engine, "time", SimpleNamespace(monotonic=lambda: 2e9, sleep=time.sleep)
            )
        return original(adapter, batch)

    monkeypatch.setattr(engine, "process_batch", timed)
    job = _queued(admin, _rows(35))
    assert engine.run(tenant, job.pk, deadline=1e9) is True
    assert (_reread(job).state, _reread(job).processed_rows) == ("running", 20)
    assert engine.run(tenant, job.pk) is False
    job = _reread(job)
    assert (job.state, job.processed_rows, job.created_count) == ("done", 35, 35)


def test_an_import_stopped_by_its_soft_limit_mid_batch_stays_running_to_resume(
    tenant, admin, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from tests.transfer.test_runs import _queued, _rows

    monkeypatch.setattr(engine, "BATCH", 10)
    original = engine.process_batch
    batches: list[int] = []

    def limited(adapter, batch):
        batches.append(len(batch))
        if len(batches) == 2:
            raise SoftTimeLimitExceeded
        return original(adapter, batch)

    monkeypatch.setattr(engine, "process_batch", limited)
    job = _queued(admin, _rows(25))
    with pytest.raises(SoftTimeLimitExceeded):
        engine.run(tenant, job.pk)
    job = _reread(job)
    assert (job.state, job.processed_rows, job.error) == ("running", 10, "")
    monkeypatch.setattr(engine, "process_batch", original)
    engine.run(tenant, job.pk)  # imports_resume_task's run
    assert (_reread(job).state, _reread(job).created_count) == ("done", 25)
