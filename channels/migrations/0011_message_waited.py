from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0010_seal_bot_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="waited_seconds",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
