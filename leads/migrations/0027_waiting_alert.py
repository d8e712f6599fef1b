from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0026_unread_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="waiting_alerted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
