from importlib import import_module

from django.db import migrations, models

route = import_module("channels.migrations.0004_route_trigger")


def restore_sqlite_route_triggers(apps, schema_editor):
    """SQLite (`make run`) rebuilt the channels table for 0005's new columns, and a rebuilt
    table loses its triggers: create the route triggers again (idempotent) and add the routes
    of channels created meanwhile. PostgreSQL added the columns in place: nothing to do."""
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in (*route.SQLITE_DROP, *route.SQLITE_TRIGGERS):
        schema_editor.execute(statement)
    schema_editor.execute(
        "INSERT OR IGNORE INTO channels_channelroute (token, tenant_id, channel_id) "
        "SELECT token, tenant_id, id FROM channels_channel"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0005_channel_health"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="kind",
            field=models.CharField(
                choices=[
                    ("web_form", "Web form"),
                    ("api", "API"),
                    ("telegram", "Telegram bot"),
                    ("whatsapp", "WhatsApp"),
                    ("vk", "VK community"),
                ],
                max_length=16,
                verbose_name="kind",
            ),
        ),
        migrations.RunPython(restore_sqlite_route_triggers, migrations.RunPython.noop),
    ]
