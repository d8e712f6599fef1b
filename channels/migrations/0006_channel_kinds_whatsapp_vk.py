from django.db import migrations, models


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
    ]
