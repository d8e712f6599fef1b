"""The floor: the least a page can do to show 50 leads of a tenant.

No session, no login, no membership check, no filters, no navigation: one tenant lookup,
the tenant's transaction with its RLS setting (`tenant_context`, as for every request), one
query for the 50 newest rows of `leads_lead` and a minimal template. The inbox's time over
this page's time is what the application adds on top of the unavoidable.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from crm.models import Tenant
from crm.tenancy import tenant_context
from leads.models import Lead

ROWS = 50


def floor(request: HttpRequest, slug: str) -> HttpResponse:
    """The 50 newest leads of the tenant `slug`, through the RLS-bound connection."""
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise Http404
    with tenant_context(tenant):
        rows = list(Lead.objects.order_by("-created_at", "-pk")[:ROWS])
        return render(request, "bench/floor.html", {"rows": rows})


def ping(request: HttpRequest) -> HttpResponse:
    """The least a request to this server costs (bench/live.py's floor): the whole
    middleware stack for an anonymous visitor, no query, an empty 204."""
    return HttpResponse(status=204)
