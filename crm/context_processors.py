"""Template context shared by every page: the tenant, the navigation, the bell."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from crm import live
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
        # What the page polls with (templates/components/_live.html): read only by pages
        # that show it, once.
        context["live"] = SimpleLazyObject(lambda: live_context(request))
    return context


def live_context(request: HttpRequest) -> dict[str, Any] | None:
    """The poll's token and the versions the page starts from (crm.live), for members
    who see the inbox (None for the others). The inbox reads the versions before its rows
    (`request.live_versions`), so a lead arriving in between comes with the next poll."""
    member = request.membership
    if not any(item.section == "inbox" for item in nav_for(member)):
        return None
    versions = getattr(request, "live_versions", None) or live.current_versions(
        request.tenant.pk, member.pk
    )
    return {"token": live.token_for(request), "versions": versions}
