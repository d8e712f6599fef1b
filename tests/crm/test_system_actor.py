"""The tenant's robot member: acts for channels and tasks, never shows up as a person."""

from __future__ import annotations

from crm.models import Role
from crm.selectors import assignable_members
from crm.services import system_actor
from crm.tenancy import tenant_context


def test_system_actor_is_created_once_per_tenant_and_cannot_log_in(tenant, other_tenant):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        assert system_actor(tenant).pk == robot.pk
        assert robot.role.kind == Role.Kind.ADMIN
        assert robot.is_active
    assert not robot.user.is_active
    assert not robot.user.has_usable_password()
    with tenant_context(other_tenant):
        other = system_actor(other_tenant)
    assert other.pk != robot.pk
    assert other.user_id == robot.user_id


def test_system_actor_is_not_listed_as_a_person(client_for, tenant, admin):
    with tenant_context(tenant):
        robot = system_actor(tenant)
        assert robot not in assignable_members()
    page = client_for(admin).get(f"/{tenant.slug}/settings/users/")
    assert page.status_code == 200
    assert "system@voronka.invalid" not in page.content.decode()
    assert client_for(admin).get(f"/{tenant.slug}/settings/users/{robot.pk}/").status_code == 404
