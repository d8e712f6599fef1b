"""What the home page shows besides figures (who I am here, what my role lets me do, my
team; analytics.views.home draws the page) and my availability for new leads."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.access import ENTITY_ACTIONS, Action, Entity, Scope, TenantRight, has_right
from crm.forms import AlertsForm
from crm.selectors import audit_events, invitation_list_pending, member_list
from crm.services import member_set_alerts, member_set_away
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


@require_http_methods(["GET", "POST"])
def alerts(request: HttpRequest) -> HttpResponse:
    """My choice of how open pages announce a new lead: a sound, a browser notification."""
    member = request.membership
    if request.method == "POST":
        form = AlertsForm(request.POST)
        if form.is_valid():
            member_set_alerts(
                member=member,
                sound=form.cleaned_data["sound"],
                desktop=form.cleaned_data["desktop"],
            )
            messages.success(request, _("Saved: new leads are announced as you chose."))
            return redirect(tenant_reverse("crm:alerts", request.tenant))
    else:
        form = AlertsForm(initial={"sound": member.alert_sound, "desktop": member.alert_desktop})
    return render(request, "crm/alerts.html", {"form": form})
