"""The Celery application and the TenantTask base class every tenant task uses."""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

from celery import Celery, Task, signals

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from crm.models import Tenant

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("voronka")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_db_connections(sender: Task | None = None, **kwargs: Any) -> None:
    """Workers keep their database connection between tasks (CELERY_DB_REUSE_MAX) and drop
    it by Django's rules, as a request does: older than CONN_MAX_AGE, or unusable."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()


class TenantTask(Task):
    """A task that runs inside one tenant: requires a `tenant_id` keyword argument.

    The tenant context (transaction, RLS setting, django-scopes scope) is entered before
    the task body runs, so the body queries like a view does.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    retry_backoff = True
    retry_backoff_max = 600
    max_retries = 8

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from crm.models import Tenant
        from crm.tenancy import tenant_context

        tenant_id = kwargs.get("tenant_id")
        if tenant_id is None:
            raise TypeError(f"{self.name} needs a tenant_id keyword argument.")
        tenant = Tenant.objects.get(pk=tenant_id)
        with tenant_context(tenant):
            return super().__call__(*args, **kwargs)


def long_task_limits() -> dict[str, int]:
    """The time limits of a long job's task (`@app.task(**long_task_limits())`): longer than
    the default ones, still below the broker's visibility timeout (crm/settings.py)."""
    from django.conf import settings

    return {
        "soft_time_limit": settings.CELERY_LONG_TASK_SOFT_TIME_LIMIT,
        "time_limit": settings.CELERY_LONG_TASK_TIME_LIMIT,
    }


def task_named(name: str) -> Task:
    """The task named `name` ("<module>.<function>"), its module imported: what a module
    that the task's own module imports uses to queue it, without importing it back."""
    importlib.import_module(name.rpartition(".")[0])  # registers the task
    return app.tasks[name]


def queue_for_every_tenant(task: Task, tenants: QuerySet[Tenant] | None = None) -> int:
    """Queue `task(tenant_id=…)` once for every tenant, or for those of `tenants` (beat
    entry points); how many.

    Without a broker (the embedded setup) each runs at once, in-process: one tenant's
    failure is logged and the others still run, as separate tasks on a worker would.
    """
    from crm.models import Tenant

    queryset = Tenant.objects.all() if tenants is None else tenants
    tenant_ids = list(queryset.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        try:
            task.apply_async(kwargs={"tenant_id": tenant_id})
        except Exception:
            if not task.app.conf.task_always_eager:
                raise
            logger.exception("%s failed for tenant %s.", task.name, tenant_id)
    return len(tenant_ids)
