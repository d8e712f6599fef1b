from django.db import migrations, models

from crm.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # Built concurrently on PostgreSQL: leads keep arriving meanwhile.
    atomic = False

    dependencies = [("leads", "0023_qualification")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("deleted_at", None)),
                fields=["tenant", "-score", "-id"],
                name="leads_score",
            ),
        ),
    ]
