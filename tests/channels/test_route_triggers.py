"""SQLite drops a table's triggers when a migration remakes it: the channel routes'
triggers come back after every migrate (channels.triggers), so new channels get routes."""

import pytest
from django.core.management import call_command
from django.db import connection

from channels.models import ChannelRoute
from channels.services import channel_create
from crm.tenancy import tenant_context

NAMES = ("channels_route_insert", "channels_route_update", "channels_route_delete")


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_lost_route_triggers_are_restored_by_migrate(tenant, admin):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers through ALTER TABLE")
    assert set(NAMES) <= _triggers()  # the test database went through every migration
    with connection.cursor() as cursor:
        for name in NAMES:
            cursor.execute(f"DROP TRIGGER {name}")  # as a remade table would lose them
    call_command("migrate", verbosity=0)
    assert set(NAMES) <= _triggers()
    with tenant_context(tenant):
        channel = channel_create(actor=admin, kind="api", name="После миграции")
    assert ChannelRoute.objects.filter(token=channel.token, channel_id=channel.pk).exists()
