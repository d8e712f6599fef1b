"""The main navigation: each item is shown only to roles that may use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import ResolverMatch
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.access import Action, Entity, Scope, TenantRight, has_right, scope_for
from crm.models import Membership
from crm.modes import has_leads


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    section: str
    visible: Callable[[Membership], bool]


def _sees_leads(member: Membership) -> bool:
    return has_leads(member.tenant) and scope_for(member, Entity.LEAD, Action.VIEW) != Scope.NONE


def _sees(entity: str) -> Callable[[Membership], bool]:
    return lambda member: scope_for(member, entity, Action.VIEW) != Scope.NONE


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem(_("Inbox"), "leads:inbox", "inbox", _sees_leads),
    NavItem(_("Tasks"), "crm:tasks", "tasks", lambda m: True),
    NavItem(_("Leads"), "leads:list", "leads", _sees_leads),
    NavItem(_("Board"), "leads:kanban", "kanban", _sees_leads),
    NavItem(_("Deals"), "deals:list", "deals", _sees(Entity.DEAL)),
    NavItem(_("Contacts"), "contacts:list", "contacts", _sees(Entity.CONTACT)),
    NavItem(_("Companies"), "companies:list", "companies", _sees(Entity.COMPANY)),
    NavItem(_("Overview"), "crm:home", "home", lambda m: True),
    NavItem(
        _("Analytics"),
        "analytics:dashboard",
        "analytics",
        lambda m: has_right(m, TenantRight.ANALYTICS),
    ),
    NavItem(
        _("Settings"),
        "crm:settings",
        "settings",
        lambda m: has_right(m, TenantRight.SETTINGS) or has_right(m, TenantRight.USERS),
    ),
)


def nav_for(membership: Membership) -> list[NavItem]:
    """The navigation items this member's role may see."""
    return [item for item in NAV_ITEMS if item.visible(membership)]


def section_of(match: ResolverMatch | None) -> str:
    """Which navigation section a resolved URL belongs to (to highlight it)."""
    if match is None:
        return ""
    if match.app_name == "crm":
        if match.url_name.startswith("notification"):
            return "notifications"
        if match.url_name.startswith("task"):
            return "tasks"
        return "home" if match.url_name == "home" else "settings"
    if match.app_name == "leads":
        if match.url_name.startswith(("status", "scoring")):
            return "settings"
        if match.url_name == "kanban":
            return "kanban"
        return "inbox" if match.url_name.startswith("inbox") else "leads"
    if match.app_name == "deals":
        return "settings" if match.url_name.startswith(("pipeline", "stage")) else "deals"
    if match.app_name == "contacts" and match.url_name.startswith("blocklist"):
        return "settings"
    return match.app_name
