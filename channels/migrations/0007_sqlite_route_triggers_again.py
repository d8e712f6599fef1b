"""SQLite (`make run`) only: put back the channel-route triggers of 0004.

Adding columns with a default to the channels table (0005_channel_health) makes SQLite
rebuild the table, which drops its triggers: new channels then got no route and their
endpoint answered 404. PostgreSQL keeps its triggers through ALTER TABLE: nothing to do.
"""

from importlib import import_module

from django.db import migrations

routes = import_module("channels.migrations.0004_route_trigger")


def recreate(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in (*routes.SQLITE_DROP, *routes.SQLITE_TRIGGERS):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0006_channel_kind_email"),
    ]

    operations = [
        migrations.RunPython(recreate, migrations.RunPython.noop, elidable=False),
    ]
