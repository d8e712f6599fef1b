"""Settings pages through HTTP: roles matrix, members, teams, general settings, audit log."""

from __future__ import annotations

import pytest

from crm.access import Action, Entity, Scope, validate_rights
from crm.models import Membership, Role, Team, Tenant, TimelineEvent
from crm.tenancy import tenant_context
from tests.factories import TeamFactory


def _rights_payload(role: Role, **changes: str) -> dict[str, str]:
    data = {"name": role.name}
    for entity, actions in validate_rights(role.rights).items():
        for action, scope in actions.items():
            data[f"{entity}__{action}"] = changes.get(f"{entity}__{action}", scope)
    return data


def _role(tenant: Tenant, kind: str) -> Role:
    with tenant_context(tenant):
        return Role.objects.get(kind=kind)


# --- Roles --------------------------------------------------------------------------------


def test_admin_changes_a_right_and_it_is_enforced_and_recorded(client_for, tenant, admin, manager):
    role = _role(tenant, "manager")
    page = client_for(admin).get(f"/{tenant.slug}/settings/roles/{role.pk}/")
    assert page.status_code == 200
    assert 'name="lead__view"' in page.content.decode()
    payload = _rights_payload(role, lead__view="team", deal__export="all")
    payload["tenant_rights"] = ["settings"]
    response = client_for(admin).post(f"/{tenant.slug}/settings/roles/{role.pk}/", payload)
    assert response.status_code == 302
    with tenant_context(tenant):
        role.refresh_from_db()
        manager.refresh_from_db()
        assert manager.role.scope(Entity.LEAD, Action.VIEW) == Scope.TEAM
        assert role.scope(Entity.DEAL, Action.EXPORT) == Scope.ALL
        assert role.can_manage_settings
        assert not role.can_manage_users
        event = TimelineEvent.objects.get(kind="role.rights_changed")
        assert event.actor == admin
        assert event.data["changes"]["lead.view"] == ["own", "team"]
    # The effect: the manager now opens the settings.
    assert client_for(manager).get(f"/{tenant.slug}/settings/general/").status_code == 200


def test_the_matrix_saves_in_place_with_htmx(client_for, tenant, admin):
    role = _role(tenant, "marketer")
    client = client_for(admin)
    url = f"/{tenant.slug}/settings/roles/{role.pk}/"
    response = client.post(url, _rights_payload(role, deal__edit="team"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="role-editor">')
    assert 'data-testid="saved"' in body
    assert "HX-Request" in response["Vary"]
    bad = client.post(url, _rights_payload(role, deal__edit="bogus"), HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    assert bad.content.decode().lstrip().startswith('<div id="role-editor">')
    assert "is-invalid" in bad.content.decode()
    with tenant_context(tenant):
        role.refresh_from_db()
        assert role.scope(Entity.DEAL, Action.EDIT) == Scope.TEAM


def test_htmx_posts_carry_the_csrf_token_in_a_header(tenant, admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    page = client.get(f"/{tenant.slug}/settings/roles/")
    token = page.cookies["csrftoken"].value
    assert "hx-headers" in page.content.decode()
    response = client.post(
        f"/{tenant.slug}/settings/teams/",
        {"name": "Через htmx"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 302


def test_a_bad_scope_value_changes_nothing(client_for, tenant, admin):
    role = _role(tenant, "manager")
    payload = _rights_payload(role, lead__view="everything", deal__view="all")
    response = client_for(admin).post(f"/{tenant.slug}/settings/roles/{role.pk}/", payload)
    assert response.status_code == 400
    assert response.context["form"].errors["lead__view"]
    with tenant_context(tenant):
        role.refresh_from_db()
        assert role.scope(Entity.DEAL, Action.VIEW) == Scope.OWN
        assert not TimelineEvent.objects.filter(kind="role.rights_changed").exists()


def test_the_administrator_role_cannot_lose_rights(client_for, tenant, admin):
    role = _role(tenant, "admin")
    payload = dict.fromkeys(_rights_payload(role), "none") | {"name": "Владелец"}
    response = client_for(admin).post(f"/{tenant.slug}/settings/roles/{role.pk}/", payload)
    assert response.status_code == 302
    with tenant_context(tenant):
        role.refresh_from_db()
        assert role.name == "Владелец"
        assert role.scope(Entity.LEAD, Action.DELETE) == Scope.ALL


def test_custom_role_create_copy_and_delete(client_for, tenant, admin):
    client = client_for(admin)
    director = _role(tenant, "director")
    response = client.post(
        f"/{tenant.slug}/settings/roles/", {"name": "Аналитик", "copy_from": director.pk}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        custom = Role.objects.get(name="Аналитик")
        assert custom.kind == Role.Kind.CUSTOM
        assert custom.scope(Entity.DEAL, Action.VIEW) == Scope.ALL
        assert custom.can_view_analytics
    duplicate = client.post(f"/{tenant.slug}/settings/roles/", {"name": "аналитик"})
    assert duplicate.status_code == 400
    assert client.post(f"/{tenant.slug}/settings/roles/{custom.pk}/delete/").status_code == 302
    assert client.post(f"/{tenant.slug}/settings/roles/{director.pk}/delete/").status_code == 302
    with tenant_context(tenant):
        assert not Role.objects.filter(name="Аналитик").exists()
        assert Role.objects.filter(pk=director.pk).exists()  # built-in roles stay


def test_a_role_in_use_cannot_be_deleted(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        custom = Role.objects.create(name="Стажёр", rights=validate_rights({}))
        manager.role = custom
        manager.save()
    client_for(admin).post(f"/{tenant.slug}/settings/roles/{custom.pk}/delete/")
    with tenant_context(tenant):
        assert Role.objects.filter(pk=custom.pk).exists()


@pytest.mark.parametrize("kind", ["manager", "director", "marketer"])
def test_only_settings_holders_see_roles(client_for, tenant, kind, request):
    member = request.getfixturevalue(kind)
    client = client_for(member)
    assert client.get(f"/{tenant.slug}/settings/roles/").status_code == 403
    role = _role(tenant, "manager")
    response = client.post(
        f"/{tenant.slug}/settings/roles/{role.pk}/", _rights_payload(role, lead__view="all")
    )
    assert response.status_code == 403
    with tenant_context(tenant):
        role.refresh_from_db()
        assert role.scope(Entity.LEAD, Action.VIEW) == Scope.OWN


# --- Members ------------------------------------------------------------------------------


def test_admin_assigns_a_role_and_team(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        team = TeamFactory(name="Север")
    director = _role(tenant, "director")
    response = client_for(admin).post(
        f"/{tenant.slug}/settings/users/{manager.pk}/", {"role": director.pk, "team": team.pk}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        manager.refresh_from_db()
        assert (manager.role, manager.team) == (director, team)
        kinds = set(
            TimelineEvent.objects.filter(target_id=manager.pk).values_list("kind", flat=True)
        )
        assert {"member.role_changed", "member.team_joined"} <= kinds
    page = client_for(admin).get(f"/{tenant.slug}/settings/users/{manager.pk}/").content.decode()
    assert "Север" in page


def test_the_last_admin_cannot_be_demoted_or_deactivated(client_for, tenant, admin, manager):
    client = client_for(admin)
    response = client.post(
        f"/{tenant.slug}/settings/users/{admin.pk}/", {"role": _role(tenant, "manager").pk}
    )
    assert response.status_code == 400
    client.post(f"/{tenant.slug}/settings/users/{admin.pk}/deactivate/")
    with tenant_context(tenant):
        admin.refresh_from_db()
        assert admin.role.kind == "admin"
        assert admin.is_active


def test_deactivate_and_reactivate(client_for, tenant, admin, manager):
    client = client_for(admin)
    assert client.post(f"/{tenant.slug}/settings/users/{manager.pk}/deactivate/").status_code == 302
    assert client_for(manager).get(f"/{tenant.slug}/").status_code == 404
    assert client.post(f"/{tenant.slug}/settings/users/{manager.pk}/reactivate/").status_code == 302
    assert client_for(manager).get(f"/{tenant.slug}/").status_code == 200
    with tenant_context(tenant):
        kinds = list(
            TimelineEvent.objects.filter(target_id=manager.pk).values_list("kind", flat=True)
        )
    assert kinds[:2] == ["member.reactivated", "member.deactivated"]


def test_actions_need_post(client_for, tenant, admin, manager):
    client = client_for(admin)
    assert client.get(f"/{tenant.slug}/settings/users/{manager.pk}/deactivate/").status_code == 405
    assert client.get(f"/{tenant.slug}/settings/users/invite/").status_code == 405


def test_managers_cannot_change_members(client_for, tenant, manager, director):
    response = client_for(manager).post(f"/{tenant.slug}/settings/users/{director.pk}/deactivate/")
    assert response.status_code == 403
    with tenant_context(tenant):
        assert Membership.objects.get(pk=director.pk).is_active


def test_members_page_lists_people_with_a_constant_number_of_queries(
    client_for, tenant, admin, django_assert_max_num_queries
):
    from tests.factories import add_member

    client = client_for(admin)
    client.get(f"/{tenant.slug}/settings/users/")
    with django_assert_max_num_queries(20) as few:
        client.get(f"/{tenant.slug}/settings/users/")
    for _ in range(15):
        add_member(tenant, "manager")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/{tenant.slug}/settings/users/")
    assert page.content.decode().count("/deactivate/") == 15


# --- Teams --------------------------------------------------------------------------------


def test_team_create_rename_set_lead_and_delete(client_for, tenant, admin, manager):
    client = client_for(admin)
    assert (
        client.post(
            f"/{tenant.slug}/settings/teams/", {"name": "Юг", "lead": manager.pk}
        ).status_code
        == 302
    )
    with tenant_context(tenant):
        team = Team.objects.get(name="Юг")
        manager.refresh_from_db()
        assert team.lead == manager
        assert manager.team == team  # the lead belongs to the team
    assert client.post(f"/{tenant.slug}/settings/teams/", {"name": "юг"}).status_code == 400
    response = client.post(
        f"/{tenant.slug}/settings/teams/{team.pk}/", {"name": "Юг-2", "lead": ""}
    )
    assert response.status_code == 302
    assert client.post(f"/{tenant.slug}/settings/teams/{team.pk}/delete/").status_code == 302
    with tenant_context(tenant):
        assert not Team.objects.exists()
        manager.refresh_from_db()
        assert manager.team is None
        assert set(
            TimelineEvent.objects.filter(target_id=team.pk).values_list("kind", flat=True)
        ) >= {"team.created", "team.changed", "team.deleted"}


def test_a_member_of_another_tenant_cannot_lead_a_team(
    client_for, tenant, other_tenant, admin, other_admin
):
    response = client_for(admin).post(
        f"/{tenant.slug}/settings/teams/", {"name": "Чужие", "lead": other_admin.pk}
    )
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Team.objects.exists()


# --- General settings and audit log -------------------------------------------------------


def test_general_settings_save_and_validate(client_for, tenant, admin):
    client = client_for(admin)
    data = {
        "name": "Acme Ltd",
        "mode": "simple",
        "language": "en",
        "default_region": "kz",
        "time_zone": "Asia/Almaty",
        "currency": "kzt",
    }
    assert client.post(f"/{tenant.slug}/settings/general/", data).status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.mode, tenant.default_region, tenant.currency) == (
        "Acme Ltd",
        "simple",
        "KZ",
        "KZT",
    )
    bad = client.post(
        f"/{tenant.slug}/settings/general/", {**data, "time_zone": "Mars/Olympus", "currency": "R"}
    )
    assert bad.status_code == 400
    assert set(bad.context["form"].errors) == {"time_zone", "currency"}
    tenant.refresh_from_db()
    assert tenant.time_zone == "Asia/Almaty"
    audit = client.get(f"/{tenant.slug}/settings/audit/")
    assert audit.status_code == 200
    assert len(audit.context["page"].object_list) >= 2


def test_director_cannot_open_settings(client_for, tenant, director):
    client = client_for(director)
    assert client.get(f"/{tenant.slug}/settings/").status_code == 403
    assert client.get(f"/{tenant.slug}/settings/general/").status_code == 403
    home = client.get(f"/{tenant.slug}/").content.decode()
    assert 'data-nav="settings"' not in home


def test_settings_index_opens_the_first_allowed_section(client_for, tenant, admin, manager):
    assert (
        client_for(admin)
        .get(f"/{tenant.slug}/settings/")["Location"]
        .endswith("/settings/general/")
    )
    with tenant_context(tenant):
        role = manager.role
        role.can_manage_users = True
        role.save()
    assert (
        client_for(manager)
        .get(f"/{tenant.slug}/settings/")["Location"]
        .endswith("/settings/users/")
    )


# --- No escalation through the users or settings rights -----------------------------------


@pytest.fixture
def people_manager(tenant):
    """A member whose custom role holds only the users right (and a manager's matrix)."""
    from tests.factories import add_member

    member = add_member(tenant, "manager")
    with tenant_context(tenant):
        role = Role.objects.create(
            name="Кадровик", rights=Role.objects.get(kind="manager").rights, can_manage_users=True
        )
        member.role = role
        member.save()
    return member


def test_a_users_holder_cannot_make_anyone_an_admin(
    client_for, tenant, admin, people_manager, manager
):
    client = client_for(people_manager)
    admin_role = _role(tenant, "admin")
    assert (
        client.post(
            f"/{tenant.slug}/settings/users/{people_manager.pk}/", {"role": admin_role.pk}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/{tenant.slug}/settings/users/{manager.pk}/", {"role": admin_role.pk}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/{tenant.slug}/settings/users/invite/",
            {"email": "boss@example.com", "role": admin_role.pk},
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/{tenant.slug}/settings/users/{manager.pk}/", {"role": _role(tenant, "director").pk}
        ).status_code
        == 403
    )  # more rights than mine
    with tenant_context(tenant):
        assert Membership.objects.filter(role__kind="admin").count() == 1


def test_a_users_holder_cannot_touch_admins_but_manages_others(
    client_for, tenant, admin, people_manager, manager
):
    client = client_for(people_manager)
    assert client.post(f"/{tenant.slug}/settings/users/{admin.pk}/deactivate/").status_code == 403
    assert client.post(f"/{tenant.slug}/settings/users/{manager.pk}/deactivate/").status_code == 302
    with tenant_context(tenant):
        assert Membership.objects.get(pk=admin.pk).is_active
        assert not Membership.objects.get(pk=manager.pk).is_active


def test_a_settings_holder_cannot_raise_roles_above_their_own(client_for, tenant, admin, manager):
    with tenant_context(tenant):
        own = manager.role
        own.can_manage_settings = True
        own.save()
    client = client_for(manager)
    assert (
        client.post(
            f"/{tenant.slug}/settings/roles/{own.pk}/", _rights_payload(own, lead__view="all")
        ).status_code
        == 403
    )
    marketer_role = _role(tenant, "marketer")
    payload = _rights_payload(marketer_role) | {"tenant_rights": ["users"]}
    assert (
        client.post(f"/{tenant.slug}/settings/roles/{marketer_role.pk}/", payload).status_code
        == 403
    )
    admin_role = _role(tenant, "admin")
    assert (
        client.post(
            f"/{tenant.slug}/settings/roles/", {"name": "Клон", "copy_from": admin_role.pk}
        ).status_code
        == 403
    )
    with tenant_context(tenant):
        assert not Role.objects.get(pk=marketer_role.pk).can_manage_users
        assert not Role.objects.filter(name="Клон").exists()


def test_two_admins_cannot_deactivate_each_other_into_no_admin(tenant, admin):
    from crm.errors import DomainError
    from crm.services import member_set_active
    from tests.factories import add_member

    second = add_member(tenant, "admin")
    with tenant_context(tenant):
        member_set_active(actor=admin, member=second, active=False)
        with pytest.raises(DomainError):
            member_set_active(actor=second, member=admin, active=False)
        assert Membership.objects.get(pk=admin.pk).is_active
