"""What the home page shows besides figures (who I am here, what my role lets me do, my
team; analytics.views.home draws the page) and my availability for new leads."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.access import ENTITY_ACTIONS, Action, Entity, Scope, TenantRight, has_right
from crm.selectors import audit_events, invitation_list_pending, member_list
from crm.services import member_set_away
from crm.urlnames import tenant_reverse


def overview_context(request: HttpRequest) -> dict:
    """What the home page says besides figures: my role's rights, my team, and (for those
    who manage users) pending invitations and recent changes."""
    membership = request.membership
    role = membership.role
    rights = [
        {
            "entity": Entity(entity).label,
            "cells": [
                Scope(role.scope(entity, action)).label if action in actions else None
                for action in Action.values
            ],
        }
        for entity, actions in ENTITY_ACTIONS.items()
    ]
    context = {
        "rights": rights,
        "actions": Action.labels,
        "tenant_rights": [label for value, label in TenantRight.choices if role.has_right(value)],
        "teammates": (
            member_list()
            .filter(team_id=membership.team_id, is_active=True)
            .exclude(pk=membership.pk)
            if membership.team_id
            else []
        ),
    }
    if has_right(membership, TenantRight.USERS):
        context["pending_invitations"] = invitation_list_pending().count()
        context["recent_events"] = audit_events()[:8]
    return context


@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """Mark myself away (away=1: no new leads from distribution) or back; then go back."""
    away = request.POST.get("away") == "1"
    member_set_away(member=request.membership, away=away)
    messages.success(
        request,
        _("You are away: new leads go to others.")
        if away
        else _("Welcome back: new leads come to you again."),
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = tenant_reverse("crm:home", request.tenant)
    return redirect(target)
