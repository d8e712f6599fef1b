"""Tenancy fails closed: scoped managers, tenant-checked saves, RLS on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import UniqueConstraint
from django.db.utils import ProgrammingError
from django_scopes import ScopeError

from crm.models import Membership, Role, Team
from crm.rls import POLICY
from crm.tenancy import (
    TenantMismatchError,
    TenantModel,
    current_tenant,
    tenant_context,
    tenant_models,
)
from tests.factories import add_member


def test_query_without_a_tenant_raises(tenant):
    with pytest.raises(ScopeError):
        list(Membership.objects.all())
    with pytest.raises(ScopeError):
        Role.objects.filter(kind="admin").exists()


def test_query_inside_a_tenant_sees_only_that_tenant(tenant, other_tenant):
    with tenant_context(tenant):
        assert {m.tenant_id for m in Membership.objects.all()} == {tenant.pk}
        assert Role.objects.count() == 4
    with tenant_context(other_tenant):
        assert {r.tenant_id for r in Role.objects.all()} == {other_tenant.pk}


def test_saving_outside_a_tenant_is_refused(tenant):
    with pytest.raises(TenantMismatchError):
        Team(name="Orphans").save()


def test_saving_a_row_of_another_tenant_is_refused(tenant, other_tenant):
    with tenant_context(tenant):
        team = Team.objects.create(name="Sales")
    team.name = "Hijacked"
    with tenant_context(other_tenant), pytest.raises(TenantMismatchError):
        team.save()


def test_bulk_inserts_are_tenant_checked_like_saves(tenant, other_tenant):
    with pytest.raises(TenantMismatchError):
        Team.objects.bulk_create([Team(name="Orphans")])
    with tenant_context(tenant):
        with pytest.raises(TenantMismatchError):
            Team.objects.bulk_create([Team(name="Ours"), Team(name="Theirs", tenant=other_tenant)])
        assert not Team.objects.filter(name__in=["Ours", "Theirs"]).exists()  # none written
        made = Team.objects.bulk_create(Team(name=name) for name in ("Sales", "Support"))
        assert {team.tenant_id for team in made} == {tenant.pk}
        assert set(Team.objects.values_list("name", flat=True)) >= {"Sales", "Support"}
    with tenant_context(other_tenant):
        assert not Team.objects.filter(name__in=["Sales", "Support"]).exists()


def test_tenant_context_nests_and_restores(tenant, other_tenant):
    assert current_tenant() is None
    with tenant_context(tenant):
        with tenant_context(other_tenant):
            assert current_tenant() == other_tenant
            assert {r.tenant_id for r in Role.objects.all()} == {other_tenant.pk}
        assert current_tenant() == tenant
        assert {r.tenant_id for r in Role.objects.all()} == {tenant.pk}
    assert current_tenant() is None


# --- Guard tests over the model registry (they fail if they match nothing) ----------------


def test_every_tenant_model_is_scoped_indexed_and_unique_per_tenant():
    models = tenant_models()
    assert len(models) >= 5
    for model in models:
        assert hasattr(model._default_manager, "with_scopes_disabled"), model
        assert model._meta.get_field("tenant").db_index, model  # the FK's index leads with tenant
        for index in model._meta.indexes:
            assert index.fields, (model, index.name)
            assert index.fields[0].lstrip("-") == "tenant", (model, index.name)
        for constraint in model._meta.constraints:
            if isinstance(constraint, UniqueConstraint):
                assert "tenant" in constraint.fields, (model, constraint.name)
        for unique_together in model._meta.unique_together:
            assert "tenant" in unique_together, model


def test_every_tenant_model_inherits_the_base_meta():
    for model in tenant_models():
        assert issubclass(model, TenantModel)
        assert model._meta.base_manager_name == "unscoped", model


# --- Row-level security on PostgreSQL -----------------------------------------------------


def _raw_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - table names from the registry
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db
def test_app_role_is_bound_by_rls():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname = current_schema() AND tableowner = current_user"
        )
        owned = cursor.fetchone()[0]
    assert not superuser
    assert not bypass
    assert owned == 0, "the app role must not own tables (RLS would not bind it)"


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_tenant_table_has_a_forced_policy():
    tables = sorted(model._meta.db_table for model in tenant_models())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid "
            "WHERE p.polname = %s AND c.relrowsecurity AND c.relforcerowsecurity",
            [POLICY],
        )
        secured = sorted(row[0] for row in cursor.fetchall())
    assert tables
    assert secured == tables


@pytest.mark.postgres
def test_raw_sql_cannot_read_another_tenants_rows(tenant, other_tenant):
    add_member(other_tenant, "manager")
    table = Membership._meta.db_table
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT tenant_id FROM "{table}"')  # noqa: S608
        seen = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f'SELECT count(*) FROM "{table}" WHERE tenant_id = %s',  # noqa: S608
            [other_tenant.pk],
        )
        foreign = cursor.fetchone()[0]
    assert seen == {tenant.pk}
    assert foreign == 0


@pytest.mark.postgres
def test_raw_sql_without_a_tenant_sees_nothing(tenant):
    with transaction.atomic():
        assert _raw_count(Role._meta.db_table) == 0
        assert _raw_count(Team._meta.db_table) == 0


@pytest.mark.postgres
def test_raw_insert_into_another_tenant_is_rejected(tenant, other_tenant):
    with (
        tenant_context(tenant),
        pytest.raises((ProgrammingError, IntegrityError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f'INSERT INTO "{Team._meta.db_table}" (tenant_id, name, created_at, updated_at) '  # noqa: S608
            "VALUES (%s, 'Intruders', now(), now())",
            [other_tenant.pk],
        )


@pytest.mark.postgres
def test_a_user_sees_their_own_memberships_in_other_tenants_and_nothing_else(tenant, other_tenant):
    from crm.selectors import memberships_for_user
    from crm.tenancy import user_context

    member = add_member(tenant, "manager")
    with tenant_context(other_tenant):
        Membership.objects.create(user=member.user, role=Role.objects.get(kind="director"))
    stranger = add_member(other_tenant, "manager")
    with user_context(member.user):
        mine = memberships_for_user(user=member.user)
        assert {m.tenant_id for m in mine} == {tenant.pk, other_tenant.pk}
        assert memberships_for_user(user=stranger.user) == []
