from django.db import migrations, models

from crm.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # Built concurrently on PostgreSQL: records keep arriving meanwhile.
    atomic = False

    dependencies = [
        ("contacts", "0004_external_id"),
        ("crm", "0012_reply_right"),
        ("deals", "0010_conversation_state"),
        ("leads", "0025_conversation_state"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("unread_messages__gt", 0)),
                fields=["tenant", "owner"],
                name="deals_owner_unread",
            ),
        ),
    ]
