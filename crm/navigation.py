"""The main navigation: each item is shown only to roles that may use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import ResolverMatch
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm.access import TenantRight, has_right
from crm.models import Membership


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    section: str
    visible: Callable[[Membership], bool]


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem(_("Overview"), "crm:home", "home", lambda m: True),
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
        return "home" if match.url_name == "home" else "settings"
    return match.app_name
