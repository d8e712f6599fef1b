"""The enforcement API on every scope: scope_queryset, can/check_object, rights."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from crm.access import (
    DEFAULT_ROLES,
    AccessDenied,
    Action,
    Entity,
    Scope,
    TenantRight,
    can,
    check_entity,
    check_object,
    require_right,
    scope_queryset,
    validate_rights,
)
from crm.models import Membership, Role
from crm.tenancy import tenant_context
from tests.accessapp.models import Memo, Note
from tests.factories import MembershipFactory, TeamFactory


@pytest.fixture
def world(tenant):
    """Two teams; a lead of team A; members; notes (lead entity) and memos (contact entity)."""
    with tenant_context(tenant):
        team_a, team_b = TeamFactory(name="A"), TeamFactory(name="B")
        actor = MembershipFactory(team=team_a)
        teammate = MembershipFactory(team=team_a)
        outsider = MembershipFactory(team=team_b)
        team_b.lead = actor  # the actor also leads team B (the owner's manager)
        team_b.save()
        loner = MembershipFactory(team=None)
        rows = {}
        for model in (Note, Memo):
            rows[model] = {
                "mine": model.objects.create(title="mine", owner=actor),
                "teammate": model.objects.create(title="teammate", owner=teammate),
                "led": model.objects.create(title="led", owner=outsider),
                "loner": model.objects.create(title="loner", owner=loner),
                "unassigned": model.objects.create(title="unassigned", owner=None),
            }
    return {"actor": actor, "rows": rows, "tenant": tenant}


def _set_scope(member: Membership, entity: str, action: str, scope: str) -> None:
    role = Role.objects.create(
        name=f"r-{entity}-{action}-{scope}", rights=validate_rights({entity: {action: scope}})
    )
    member.role = role
    member.save()


EXPECTED = {
    # (model, scope, action) -> titles visible/allowed
    (Note, Scope.NONE, Action.VIEW): set(),
    (Note, Scope.OWN, Action.VIEW): {"mine", "led", "unassigned"},
    (Note, Scope.TEAM, Action.VIEW): {"mine", "teammate", "led", "unassigned"},
    (Note, Scope.ALL, Action.VIEW): {"mine", "teammate", "led", "loner", "unassigned"},
    (Note, Scope.OWN, Action.EDIT): {"mine", "led"},
    (Note, Scope.TEAM, Action.EDIT): {"mine", "teammate", "led"},
    (Note, Scope.ALL, Action.EDIT): {"mine", "teammate", "led", "loner", "unassigned"},
    (Memo, Scope.NONE, Action.VIEW): set(),
    (Memo, Scope.OWN, Action.VIEW): {"mine", "led"},
    (Memo, Scope.TEAM, Action.VIEW): {"mine", "teammate", "led"},
    (Memo, Scope.ALL, Action.DELETE): {"mine", "teammate", "led", "loner", "unassigned"},
}


@pytest.mark.parametrize(("model", "scope", "action"), list(EXPECTED))
def test_scope_queryset_and_can_agree_on_every_scope(world, model, scope, action):
    actor = world["actor"]
    with tenant_context(world["tenant"]):
        _set_scope(actor, model.access_entity, action, scope)
        visible = {
            row.title for row in scope_queryset(model.objects.all(), actor=actor, action=action)
        }
        allowed = {
            title
            for title, row in world["rows"][model].items()
            if can(row, actor=actor, action=action)
        }
    assert visible == EXPECTED[(model, scope, action)]
    assert allowed == visible


def test_scope_of_one_action_does_not_leak_into_another(world):
    actor = world["actor"]
    with tenant_context(world["tenant"]):
        _set_scope(actor, Entity.LEAD, Action.VIEW, Scope.ALL)
        assert scope_queryset(Note.objects.all(), actor=actor, action=Action.DELETE).count() == 0
        assert scope_queryset(Memo.objects.all(), actor=actor, action=Action.VIEW).count() == 0


def test_check_object_raises_access_denied(world):
    actor = world["actor"]
    with tenant_context(world["tenant"]):
        _set_scope(actor, Entity.CONTACT, Action.EDIT, Scope.OWN)
        check_object(world["rows"][Memo]["mine"], actor=actor, action=Action.EDIT)
        with pytest.raises(AccessDenied):
            check_object(world["rows"][Memo]["loner"], actor=actor, action=Action.EDIT)


def test_inactive_member_may_do_nothing(world):
    actor = world["actor"]
    with tenant_context(world["tenant"]):
        actor.role = Role.objects.get(kind="admin")
        actor.is_active = False
        actor.save()
        assert scope_queryset(Note.objects.all(), actor=actor, action=Action.VIEW).count() == 0
        assert not can(world["rows"][Note]["mine"], actor=actor, action=Action.VIEW)


def test_objects_of_another_tenant_are_never_allowed(world, other_tenant, other_admin):
    with tenant_context(world["tenant"]):
        row = world["rows"][Note]["unassigned"]
    assert not can(row, actor=other_admin, action=Action.VIEW)


def test_check_entity_for_actions_without_an_object(tenant, manager, marketer):
    assert check_entity(actor=manager, entity=Entity.LEAD, action=Action.CREATE) == Scope.OWN
    with pytest.raises(AccessDenied):
        check_entity(actor=manager, entity=Entity.LEAD, action=Action.IMPORT)
    assert check_entity(actor=marketer, entity=Entity.LEAD, action=Action.IMPORT) == Scope.ALL


def test_default_roles_follow_the_design(tenant, admin, director, manager, marketer):
    assert admin.role.scope(Entity.LEAD, Action.DELETE) == Scope.ALL
    assert all(admin.role.has_right(r) for r in TenantRight.values)
    assert director.role.scope(Entity.DEAL, Action.VIEW) == Scope.ALL
    assert director.role.has_right(TenantRight.ANALYTICS)
    assert not director.role.has_right(TenantRight.SETTINGS)
    assert manager.role.scope(Entity.LEAD, Action.VIEW) == Scope.OWN
    assert manager.role.scope(Entity.LEAD, Action.CONVERT) == Scope.OWN
    assert manager.role.scope(Entity.LEAD, Action.DELETE) == Scope.NONE
    assert not any(manager.role.has_right(r) for r in TenantRight.values)
    assert marketer.role.scope(Entity.LEAD, Action.IMPORT) == Scope.ALL
    assert marketer.role.scope(Entity.LEAD, Action.EDIT) == Scope.NONE
    assert set(DEFAULT_ROLES) == {"admin", "director", "manager", "marketer"}


def test_the_administrator_role_keeps_every_right_whatever_is_stored(tenant, admin):
    with tenant_context(tenant):
        role = admin.role
        role.rights = validate_rights({})
        role.can_manage_settings = False
        role.save()
        assert role.scope(Entity.LEAD, Action.VIEW) == Scope.ALL
        assert role.has_right(TenantRight.SETTINGS)
        assert role.scope(Entity.DEAL, Action.CONVERT) == Scope.NONE  # deals are not converted


@pytest.mark.parametrize(
    "rights",
    [
        [],
        {"lead": {"view": "everything"}},
        {"lead": {"fly": "all"}},
        {"unicorn": {"view": "all"}},
        {"deal": {"convert": "all"}},
        {"lead": "all"},
    ],
)
def test_validate_rights_rejects_bad_matrices(rights):
    with pytest.raises(ValueError):  # noqa: PT011
        validate_rights(rights)


def test_validate_rights_fills_missing_cells_with_none():
    clean = validate_rights({"lead": {"view": "team"}})
    assert clean["lead"]["view"] == "team"
    assert clean["lead"]["edit"] == "none"
    assert clean["company"]["import"] == "none"


def test_require_right_decorator(tenant, admin, manager):
    @require_right(TenantRight.SETTINGS)
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/")
    request.membership = admin
    assert view(request).status_code == 200
    request.membership = manager
    with pytest.raises(AccessDenied):
        view(request)
    request.membership = None
    with pytest.raises(AccessDenied):
        view(request)
