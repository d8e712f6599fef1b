"""Tenant settings: general, users and invitations, teams, roles and rights, audit log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import customfields, selectors, services
from crm.access import Action, Entity, TenantRight, has_right, require_right
from crm.errors import DomainError
from crm.forms import (
    CustomFieldForm,
    InviteForm,
    MemberForm,
    RoleCreateForm,
    RoleRightsForm,
    TeamForm,
    TenantSettingsForm,
)
from crm.urlnames import tenant_reverse

SETTINGS = TenantRight.SETTINGS
USERS = TenantRight.USERS


def _to(request: HttpRequest, name: str, **kwargs: object) -> HttpResponse:
    return redirect(tenant_reverse(name, request.tenant, **kwargs))


@require_GET
@require_right(SETTINGS, USERS)
def index(request: HttpRequest) -> HttpResponse:
    """Open the first settings section the role may use."""
    return _to(
        request,
        "crm:settings_general" if has_right(request.membership, SETTINGS) else "crm:members",
    )


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def general(request: HttpRequest) -> HttpResponse:
    form = TenantSettingsForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        services.tenant_update(
            actor=request.membership, tenant=request.tenant, data=form.cleaned_data
        )
        messages.success(request, _("Settings saved."))
        return _to(request, "crm:settings_general")
    return render(
        request,
        "crm/settings_general.html",
        {"form": form, "section": "general"},
        status=400 if form.errors else 200,
    )


# --- Users and invitations ----------------------------------------------------------------


def _members_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    context = {
        "members": selectors.member_list(),
        "invitations": selectors.invitation_list_pending(),
        "invite_form": invite_form,
        "section": "members",
    }
    return render(request, "crm/settings_members.html", context, status=status)


@require_GET
@require_right(USERS)
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request, InviteForm())


@require_POST
@require_right(USERS)
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.member_invite(
                actor=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                team=form.cleaned_data["team"],
            )
        except DomainError as error:
            form.add_error("email", error.message)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return _to(request, "crm:members")
    return _members_page(request, form, status=400)


@require_http_methods(["GET", "POST"])
@require_right(USERS)
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(member_id=pk)
    form = MemberForm(
        request.POST or None, initial={"role": member.role_id, "team": member.team_id}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                actor=request.membership,
                member=member,
                role=form.cleaned_data["role"],
                team=form.cleaned_data["team"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Saved."))
            return _to(request, "crm:members")
    context = {
        "member": member,
        "form": form,
        "events": selectors.timeline_for(target=member)[:50],
        "section": "members",
    }
    return render(request, "crm/settings_member.html", context, status=400 if form.errors else 200)


def _set_active(request: HttpRequest, pk: int, *, active: bool) -> HttpResponse:
    member = selectors.member_get(member_id=pk)
    try:
        services.member_set_active(actor=request.membership, member=member, active=active)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(user)s can no longer sign in to this workspace.") % {"user": member.user}
            if not active
            else _("%(user)s is active again.") % {"user": member.user},
        )
    return _to(request, "crm:members")


@require_POST
@require_right(USERS)
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=False)


@require_POST
@require_right(USERS)
def member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=True)


@require_POST
@require_right(USERS)
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.invitation_get(invitation_id=pk)
    try:
        services.invitation_revoke(actor=request.membership, invitation=invitation)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invitation revoked."))
    return _to(request, "crm:members")


# --- Teams --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_right(USERS)
def teams(request: HttpRequest) -> HttpResponse:
    """The teams list with a form to add one."""
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_save(actor=request.membership, team=None, **form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Team created."))
            return _to(request, "crm:teams")
    context = {"teams": selectors.team_list(), "form": form, "section": "teams"}
    return render(request, "crm/settings_teams.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@require_right(USERS)
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = selectors.team_get(team_id=pk)
    form = TeamForm(request.POST or None, initial={"name": team.name, "lead": team.lead_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.team_save(actor=request.membership, team=team, **form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Saved."))
            return _to(request, "crm:teams")
    context = {
        "team": team,
        "form": form,
        "members": selectors.member_list().filter(team=team),
        "section": "teams",
    }
    return render(request, "crm/settings_team.html", context, status=400 if form.errors else 200)


@require_POST
@require_right(USERS)
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = selectors.team_get(team_id=pk)
    services.team_delete(actor=request.membership, team=team)
    messages.success(request, _("Team deleted; its members are now without a team."))
    return _to(request, "crm:teams")


# --- Roles --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def roles(request: HttpRequest) -> HttpResponse:
    """The roles list with a form to add a custom role."""
    form = RoleCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role = services.role_create(actor=request.membership, **form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Role created: now set its rights."))
            return _to(request, "crm:role_edit", pk=role.pk)
    context = {"roles": selectors.role_list(), "form": form, "section": "roles"}
    return render(request, "crm/settings_roles.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The permission matrix of one role as a grid of selects (saved in place with htmx)."""
    role = selectors.role_get(role_id=pk)
    form = RoleRightsForm(request.POST or None, role=role)
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            services.role_update(
                actor=request.membership,
                role=role,
                name=form.cleaned_data["name"],
                rights=form.rights(),
                tenant_rights=set(form.cleaned_data["tenant_rights"]),
            )
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            if not request.htmx:
                messages.success(request, _("Rights of “%(role)s” saved.") % {"role": role.name})
                return _to(request, "crm:role_edit", pk=role.pk)
            form, saved = RoleRightsForm(role=role), True
    context = {
        "role": role,
        "form": form,
        "saved": saved,
        "section": "roles",
        "actions": Action.choices,
        "events": selectors.timeline_for(target=role)[:20],
    }
    template = "crm/settings_role.html" + ("#editor" if request.htmx else "")
    response = render(request, template, context, status=400 if form.errors else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@require_right(SETTINGS)
def role_delete(request: HttpRequest, pk: int) -> HttpResponse:
    role = selectors.role_get(role_id=pk)
    try:
        services.role_delete(actor=request.membership, role=role)
    except DomainError as error:
        messages.error(request, error.message)
        return _to(request, "crm:role_edit", pk=role.pk)
    messages.success(request, _("Role deleted."))
    return _to(request, "crm:roles")


# --- Audit log ----------------------------------------------------------------------------


@require_GET
@require_right(SETTINGS, USERS)
def audit(request: HttpRequest) -> HttpResponse:
    """Who changed members, roles, teams and settings, newest first (keyset-free: small)."""
    page = Paginator(selectors.audit_events(), 50).get_page(request.GET.get("page"))
    return render(request, "crm/settings_audit.html", {"page": page, "section": "audit"})


# --- Custom fields ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def custom_fields(request: HttpRequest) -> HttpResponse:
    """Fields per record type, with a form to add one."""
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customfields.field_save(actor=request.membership, field=None, data=form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Field added."))
            return _to(request, "crm:custom_fields")
    rows = customfields.all_definitions()
    groups = [
        (value, label, [f for f in rows if f.entity == value]) for value, label in Entity.choices
    ]
    context = {"groups": groups, "form": form, "section": "fields"}
    return render(request, "crm/settings_fields.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@require_right(SETTINGS)
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = customfields.field_get(field_id=pk)
    form = CustomFieldForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        try:
            customfields.field_save(actor=request.membership, field=field, data=form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Saved."))
            return _to(request, "crm:custom_fields")
    context = {"field": field, "form": form, "section": "fields"}
    return render(request, "crm/settings_field.html", context, status=400 if form.errors else 200)


@require_POST
@require_right(SETTINGS)
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    field = customfields.field_get(field_id=pk)
    customfields.field_delete(actor=request.membership, field=field)
    messages.success(request, _("Field removed."))
    return _to(request, "crm:custom_fields")
