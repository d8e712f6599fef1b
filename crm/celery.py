"""The Celery application and the TenantTask base class every tenant task uses."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("voronka")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
