"""Template context shared by every page: the tenant, the navigation, the bell."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from crm.access import TenantRight, abilities, has_right
from crm.navigation import nav_for, section_of
from crm.notifications import unread_count
from crm.urlnames import tenant_reverse


def workspace(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {"tenant": getattr(request, "tenant", None), "membership": membership}
    if membership is not None:
        context["nav_items"] = nav_for(membership)
        context["section_nav"] = section_of(request.resolver_match)
        context["perms_settings"] = has_right(membership, TenantRight.SETTINGS)
        context["perms_users"] = has_right(membership, TenantRight.USERS)
        # What the role may do per entity: {% if may.lead.delete %} shows the trash link.
        context["may"] = SimpleLazyObject(lambda: abilities(membership))
        # Lists build row links from this prefix instead of reversing a URL per row.
        context["leads_root"] = SimpleLazyObject(
            lambda: tenant_reverse("leads:list", request.tenant)
        )
        context["deals_root"] = SimpleLazyObject(
            lambda: tenant_reverse("deals:list", request.tenant)
        )
        context["unread_count"] = SimpleLazyObject(lambda: unread_count(member=membership))
    return context
