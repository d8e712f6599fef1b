"""The database keeps the channel routes itself (decision 009).

A trigger on the channels table adds a channel's route when the channel is created, moves
it when its token changes and removes it with the channel. On PostgreSQL the trigger's
function runs as the owner (SECURITY DEFINER), so the application role needs no write
right on the routes at all (crm.rls grants it SELECT only); the channel row it follows is
under row-level security, so the route always names the channel's own tenant. SQLite
(`make run`) gets the same triggers, so both run one code path.
"""

from django.db import migrations
from psycopg import sql

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION channels_route_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM channels_channelroute WHERE channel_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO channels_channelroute (token, tenant_id, channel_id)
        VALUES (NEW.token, NEW.tenant_id, NEW.id);
    END IF;
    RETURN NULL;
END
$$
"""
# A full save() names every column: the route moves only when its values change.
PG_TRIGGERS = [
    """CREATE TRIGGER channels_route_sync AFTER INSERT OR DELETE ON channels_channel
    FOR EACH ROW EXECUTE FUNCTION channels_route_sync()""",
    """CREATE TRIGGER channels_route_move AFTER UPDATE OF token, tenant_id ON channels_channel
    FOR EACH ROW WHEN (OLD.token IS DISTINCT FROM NEW.token
                       OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
    EXECUTE FUNCTION channels_route_sync()""",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS channels_route_sync ON channels_channel",
    "DROP TRIGGER IF EXISTS channels_route_move ON channels_channel",
    "DROP FUNCTION IF EXISTS channels_route_sync()",
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER channels_route_insert AFTER INSERT ON channels_channel BEGIN
        INSERT INTO channels_channelroute (token, tenant_id, channel_id)
        VALUES (NEW.token, NEW.tenant_id, NEW.id);
    END""",
    """CREATE TRIGGER channels_route_update AFTER UPDATE OF token, tenant_id ON channels_channel
    WHEN OLD.token IS NOT NEW.token OR OLD.tenant_id IS NOT NEW.tenant_id
    BEGIN
        DELETE FROM channels_channelroute WHERE channel_id = OLD.id;
        INSERT INTO channels_channelroute (token, tenant_id, channel_id)
        VALUES (NEW.token, NEW.tenant_id, NEW.id);
    END""",
    """CREATE TRIGGER channels_route_delete AFTER DELETE ON channels_channel BEGIN
        DELETE FROM channels_channelroute WHERE channel_id = OLD.id;
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS channels_route_insert",
    "DROP TRIGGER IF EXISTS channels_route_update",
    "DROP TRIGGER IF EXISTS channels_route_delete",
]


def create_triggers(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
            cursor.execute(sql.SQL(PG_FUNCTION).format(schema=sql.Identifier(schema)))
            cursor.execute("REVOKE ALL ON FUNCTION channels_route_sync() FROM PUBLIC")
            for statement in PG_TRIGGERS:
                cursor.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    statements = PG_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0003_event_external_id"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
