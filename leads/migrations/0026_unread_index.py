from django.db import migrations, models

from crm.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # Built concurrently on PostgreSQL: records keep arriving meanwhile.
    atomic = False

    dependencies = [
        ("contacts", "0004_external_id"),
        ("crm", "0012_reply_right"),
        ("deals", "0011_unread_index"),
        ("leads", "0025_conversation_state"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("deleted_at", None), ("unread_messages__gt", 0)),
                fields=["tenant", "owner"],
                name="leads_owner_unread",
            ),
        ),
    ]
