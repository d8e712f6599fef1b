"""The application's database role holds row rights only (PostgreSQL); routes follow channels.

Row-level security filters SELECT, INSERT, UPDATE and DELETE, but not TRUNCATE: a role
that may TRUNCATE could empty every tenant's table at once. The channel routes (token →
tenant, read before any tenant is known, so without RLS) are read-only for the app: the
database writes them itself with the channel rows (decision 009). The suite runs as the
app role, so these tests see exactly what production grants.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from channels.models import Channel, ChannelRoute
from channels.services import channel_create, channel_delete
from crm import rls
from crm.tenancy import tenant_context
from leads.models import Lead
from tests.conftest import OWNER

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _rights() -> dict[str, set[str]]:
    """Every table of the schema → the privileges the connected role holds on it."""
    checks = ", ".join(f"has_table_privilege(c.oid, '{p}')" for p in PRIVILEGES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.relname, {checks} FROM pg_class c "  # noqa: S608
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        return {
            name: {p for p, held in zip(PRIVILEGES, flags, strict=True) if held}
            for name, *flags in cursor.fetchall()
        }


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_app_role_holds_row_rights_on_every_table_and_nothing_more():
    rights = _rights()
    route = ChannelRoute._meta.db_table
    assert len(rights) > 20
    assert rights.pop(route) == {"SELECT"}
    wrong = {t: r for t, r in rights.items() if r != {"SELECT", "INSERT", "UPDATE", "DELETE"}}
    assert wrong == {}


@pytest.mark.postgres
@pytest.mark.django_db
def test_truncate_as_the_app_role_is_refused(tenant, admin):
    from tests.leads.factories import make_lead

    with tenant_context(tenant):
        make_lead(admin)
    for table in (Lead._meta.db_table, ChannelRoute._meta.db_table, "crm_user"):
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            connection.cursor().execute(f'TRUNCATE "{table}" CASCADE')
    with tenant_context(tenant):
        assert Lead.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_app_role_cannot_write_routes_but_channels_keep_theirs(tenant, admin, other_tenant):
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind="api", name="ERP")
    route = ChannelRoute.objects.get(token=channel.token)
    assert (route.tenant_id, route.channel_id) == (tenant.pk, channel.pk)
    table = ChannelRoute._meta.db_table
    attempts = [
        (f'UPDATE "{table}" SET tenant_id = %s', [other_tenant.pk]),  # noqa: S608
        (f'DELETE FROM "{table}"', []),  # noqa: S608
        (
            f'INSERT INTO "{table}" (token, tenant_id, channel_id) VALUES (%s, %s, %s)',  # noqa: S608
            ["stolen", other_tenant.pk, 999_999],
        ),
    ]
    for statement, params in attempts:
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            connection.cursor().execute(statement, params)
    assert ChannelRoute.objects.get(token=channel.token).tenant_id == tenant.pk
    with tenant_context(tenant):
        channel_delete(actor=admin, channel=Channel.objects.get(pk=channel.pk))
    assert not ChannelRoute.objects.filter(token=channel.token).exists()


@pytest.mark.postgres
@pytest.mark.django_db
def test_granting_again_takes_back_truncate_given_by_an_older_release():
    """Deployments migrated before this change had TRUNCATE: the next migrate revokes it."""
    import psycopg

    target = connection.settings_dict
    table = Lead._meta.db_table
    with psycopg.connect(
        dbname=target["NAME"],
        host=target["HOST"] or None,
        port=target["PORT"] or None,
        user=OWNER["USER"],
        password=OWNER["PASSWORD"],
    ) as owner:
        owner.execute(f'GRANT TRUNCATE ON "{table}" TO "{target["USER"]}"')
        owner.commit()
        assert "TRUNCATE" in _rights()[table]
        with owner.cursor() as cursor:
            rls._grant_app_role(cursor)
        owner.commit()
    assert "TRUNCATE" not in _rights()[table]


@pytest.mark.django_db
def test_a_channel_route_follows_its_channel_and_survives_saves(tenant, admin):
    from channels.services import channel_update

    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind="api", name="ERP")
        channel_update(actor=admin, channel=channel, data={"name": "ERP 2", "enabled": False})
        Channel.objects.filter(pk=channel.pk).update(token="moved-token")
    assert not ChannelRoute.objects.filter(token=channel.token).exists()
    route = ChannelRoute.objects.get(channel_id=channel.pk)
    assert (route.token, route.tenant_id) == ("moved-token", tenant.pk)
