"""The tenant's overview page: who I am here, what my role lets me do, my team."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.access import ENTITY_ACTIONS, Action, Entity, Scope, TenantRight, has_right
from crm.selectors import audit_events, invitation_list_pending, member_list


@require_GET
def home(request: HttpRequest) -> HttpResponse:
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
    return render(request, "crm/home.html", context)
