"""Tenant modes: classic (leads, deals, contacts) and simple (deals and contacts only).

Switching modes never touches data: in simple mode the leads stay in the database, hidden
(the navigation leaves them out and every lead URL answers 404), and switching back shows
them again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest

from crm.models import Tenant


def has_leads(tenant: Tenant) -> bool:
    """Whether the tenant works with leads (classic mode)."""
    return tenant.mode == Tenant.Mode.CLASSIC


def classic_only(view: Callable) -> Callable:
    """View decorator: 404 in a simple-mode tenant, where there are no leads."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.tenant is not None and not has_leads(request.tenant):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
