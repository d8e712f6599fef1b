"""The channel routes' triggers on SQLite, made sure of after every migrate.

Migration 0004 creates the triggers that keep `ChannelRoute` in step with the channels
table (decision 009). SQLite alters a table by remaking it, which drops the table's
triggers: a later migration that adds a column to the channels table would silently stop
new channels from getting a route (their endpoints would answer 404). So after every
`migrate` the triggers are created again where they are missing. PostgreSQL keeps
triggers through ALTER TABLE and needs nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS channels_route_insert AFTER INSERT ON channels_channel
    BEGIN
        INSERT INTO channels_channelroute (token, tenant_id, channel_id)
        VALUES (NEW.token, NEW.tenant_id, NEW.id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS channels_route_update
    AFTER UPDATE OF token, tenant_id ON channels_channel
    WHEN OLD.token IS NOT NEW.token OR OLD.tenant_id IS NOT NEW.tenant_id
    BEGIN
        DELETE FROM channels_channelroute WHERE channel_id = OLD.id;
        INSERT INTO channels_channelroute (token, tenant_id, channel_id)
        VALUES (NEW.token, NEW.tenant_id, NEW.id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS channels_route_delete AFTER DELETE ON channels_channel
    BEGIN
        DELETE FROM channels_channelroute WHERE channel_id = OLD.id;
    END""",
]


def after_migrate(using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate: create the SQLite route triggers that a remade table lost, when the
    migration that introduced them (0004) is applied."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    applied = MigrationRecorder(connection).applied_migrations()
    if ("channels", "0004_route_trigger") not in applied:
        return
    with connection.cursor() as cursor:
        for statement in SQLITE_TRIGGERS:
            cursor.execute(statement)
