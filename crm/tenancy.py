"""Tenancy that fails closed.

* `TenantModel` is the base of every tenant-owned table: a `tenant` foreign key, a
  django-scopes manager that raises without an active tenant, and an explicit `unscoped`
  manager for system code only.
* `tenant_context(tenant)` is the one way to act inside a tenant: it opens a transaction,
  sets `app.tenant_id` with `set_config(..., true)` (= SET LOCAL) for PostgreSQL's
  row-level security, enters the django-scopes scope and activates the tenant's time zone
  (every date shown, typed in or compared is the workspace's). Requests (TenantMiddleware),
  Celery tasks (TenantTask) and management commands all go through it.
* `user_context(user)` sets `app.user_id`, which lets a user read their own memberships
  in every tenant (the tenant switcher) and nothing else.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.utils import timezone
from django_scopes import ScopedManager, scope

if TYPE_CHECKING:
    from crm.models import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("current_tenant", default=None)


class TenantMismatchError(Exception):
    """A row of one tenant was about to be written inside another tenant's scope."""


def current_tenant() -> Tenant | None:
    """Return the tenant whose context is active, or None outside any tenant."""
    return _current_tenant.get()


def _set_db_settings(settings: dict[str, str]) -> dict[str, str]:
    """Set transaction-local PostgreSQL settings in one query; return their previous values."""
    names = list(settings)
    columns = ", ".join("current_setting(%s, true), set_config(%s, %s, true)" for _ in names)
    params = [part for name in names for part in (name, name, settings[name])]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", params)  # only placeholders are interpolated
        row = cursor.fetchone()
    return {name: row[2 * i] or "" for i, name in enumerate(names)}


@contextmanager
def _atomic_with_settings(settings: dict[str, str]) -> Iterator[None]:
    """An atomic block holding transaction-local settings; the previous values come back
    after it, unless the block is the whole transaction (its end discards them anyway)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield
            return
        previous = _set_db_settings(settings)
        yield
        # Not in a `finally`: after an error the surrounding atomic block's rollback undoes
        # the settings, and a query on an aborted transaction would hide the original error.
        if not outermost and not connection.needs_rollback:
            _set_db_settings(previous)


@contextmanager
def local_settings(settings: dict[str, str]) -> Iterator[None]:
    """PostgreSQL settings for the current transaction only (`SET LOCAL`), e.g. more sort
    memory for a report's queries; nothing on other databases."""
    with _atomic_with_settings(settings):
        yield


@contextmanager
def tenant_context(tenant: Tenant, *, user: Any = None) -> Iterator[Tenant]:
    """Act inside `tenant`: one transaction, RLS setting, django-scopes scope, time zone.

    With `user`, the database also lets that user read their own memberships across
    tenants (as `user_context` does), in the same statement. Nested use (a task run eagerly
    inside a request, a test switching tenants) restores the outer tenant on exit.
    """
    settings = {"app.tenant_id": str(tenant.pk)}
    if user is not None:
        settings["app.user_id"] = str(user.pk)
    token = _current_tenant.set(tenant)
    try:
        with (
            _atomic_with_settings(settings),
            scope(tenant=tenant),
            timezone.override(tenant_zone(tenant)),
        ):
            yield tenant
    finally:
        _current_tenant.reset(token)


def tenant_zone(tenant: Tenant) -> zoneinfo.ZoneInfo:
    """The tenant's time zone; UTC when its name is not a zone this machine knows."""
    try:
        return zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@contextmanager
def user_context(user: Any) -> Iterator[None]:
    """Let the database show `user` their own memberships across tenants (RLS)."""
    with _atomic_with_settings({"app.user_id": str(user.pk)}):
        yield


def _claim(row: models.Model) -> None:
    """Give `row` the active tenant, or refuse it when it belongs to another tenant or when
    no tenant is active."""
    active = current_tenant()
    if row.tenant_id is None:
        if active is None:
            raise TenantMismatchError(f"{type(row).__name__} saved outside a tenant context.")
        row.tenant = active
    elif active is not None and row.tenant_id != active.pk:
        raise TenantMismatchError(
            f"{type(row).__name__} of tenant {row.tenant_id} saved in tenant {active.pk}."
        )


class TenantManager(models.Manager):
    """The base of the scoped manager: `bulk_create` checks each row's tenant as `save()`
    does (bulk inserts bypass it), then inserts without building the scope's filter, which a
    plain INSERT does not use."""

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list:
        rows = list(objs)
        for row in rows:
            _claim(row)
        queryset = self._queryset_class(model=self.model, using=self._db)
        return queryset.bulk_create(rows, *args, **kwargs)


class CreatedAtField(models.DateTimeField):
    """`auto_now_add` that keeps a moment given on purpose: an instance marked with
    `keep_created_at = True` (an import keeping a base's history) is inserted with its
    own `created_at`. Migrations see a plain DateTimeField."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if add and value is not None and getattr(model_instance, "keep_created_at", False):
            return value
        return super().pre_save(model_instance, add)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class TenantModel(models.Model):
    """Base for tenant-owned data. Subclasses must declare `class Meta(TenantModel.Meta)`."""

    tenant = models.ForeignKey("crm.Tenant", on_delete=models.PROTECT, editable=False)
    created_at = CreatedAtField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Extra RLS clause for tables a user may read across tenants (their memberships).
    rls_user_column: str | None = None

    objects = ScopedManager(tenant="tenant", _manager_class=TenantManager)
    # System code only (allow-listed modules, see tests/test_conventions.py).
    unscoped = models.Manager()  # noqa: DJ012 - ruff takes ScopedManager(...) for a field

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Fill the tenant from the active context and refuse a foreign tenant."""
        _claim(self)
        super().save(*args, **kwargs)


def tenant_models() -> list[type[models.Model]]:
    """Every concrete model that carries tenant-owned rows (from the model registry)."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.abstract and not model._meta.proxy
    ]
