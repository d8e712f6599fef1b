from django.db import migrations, models


class Migration(migrations.Migration):
    """The reports' deal figures from indexes alone: the closed deals' index covers what
    they read of them, and the open deals (a tenth of the table) have an index of their
    own."""

    dependencies = [
        ("deals", "0012_waiting_alert"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="deal",
            name="deals_closed",
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["tenant", "closed_at"],
                include=(
                    "outcome",
                    "amount",
                    "created_at",
                    "pipeline",
                    "stage",
                    "owner",
                    "loss_reason",
                ),
                name="deals_closed",
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("outcome", "open")),
                fields=["tenant", "stage"],
                include=("amount", "expected_close", "created_at", "owner", "pipeline"),
                name="deals_open",
            ),
        ),
    ]
