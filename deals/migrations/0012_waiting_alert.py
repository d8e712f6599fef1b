from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0011_unread_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="deal",
            name="waiting_alerted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
