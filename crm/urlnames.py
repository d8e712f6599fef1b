"""Reversing tenant URLs: every URL under /<tenant-slug>/ needs the tenant's slug."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

from crm.models import Tenant


def tenant_reverse(name: str, tenant: Tenant, **kwargs: Any) -> str:
    """reverse() for a tenant URL name, filling in the tenant's slug. Remembered per process:
    a page reverses some fifteen URLs (the navigation, its forms), 30 µs each."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reverse(name, tenant.slug, tuple(sorted(kwargs.items())), get_script_prefix(), urlconf)


@lru_cache(maxsize=4096)
def _reverse(name: str, slug: str, kwargs: tuple, prefix: str, urlconf: str) -> str:
    # The prefix and the URLconf are part of the key: reverse() depends on them.
    return reverse(name, urlconf=urlconf, kwargs={"tenant_slug": slug, **dict(kwargs)})


def site_url(request: HttpRequest | None = None) -> str:
    """The CRM's public base URL, without a trailing slash: SITE_URL; without it (DEBUG
    only) the address `request` came to — what the admin really uses — or, outside a
    request, LOCAL_SITE_URL (make run's address)."""
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return settings.LOCAL_SITE_URL


def public_url(request: HttpRequest | None = None) -> str:
    """The base URL providers call the CRM at, without a trailing slash: PUBLIC_URL (a
    proxy or tunnel with another host or prefix), else `site_url`."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/")
    return site_url(request)
