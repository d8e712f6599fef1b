"""Reversing tenant URLs: every URL under /<tenant-slug>/ needs the tenant's slug."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from crm.models import Tenant


def tenant_reverse(name: str, tenant: Tenant, **kwargs: Any) -> str:
    """reverse() for a tenant URL name, filling in the tenant's slug."""
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kwargs})
